"""``loopcap record --audio-only`` on a real PulseAudio, checked on what was recorded."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import Loopcap, assert_one_clear_line, make_loopcap
from tests.rig import (
    PulseRig,
    best_alignment,
    correlation_at,
    decode_to_array,
    ffprobe,
    noise,
    speech_wav,
    tone,
    write_wav,
)

RATE = 48000


@pytest.fixture(scope="module")
def speech_and_tones(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 3 s: a spoken sentence, then two tones."""
    folder = tmp_path_factory.mktemp("sound")
    speech = speech_wav(folder / "speech.wav", "Hello, this is a voice note for loopcap.")
    from tests.rig import read_wav

    spoken, _ = read_wav(speech)
    clip = np.concatenate([spoken, tone(0.4, 440), tone(0.4, 1234, level=0.3)])
    return write_wav(folder / "clip.wav", clip)


def record_while_playing(
    loopcap: Loopcap, pulse: PulseRig, clip: Path, output: Path, duration: float, *extra: str
) -> subprocess.CompletedProcess[str]:
    proc = loopcap.start(
        "record", "--audio-only", "--duration", str(duration), "-o", str(output), *extra
    )
    loopcap.wait_until_recording(proc)
    time.sleep(0.3)  # some silence before the clip
    player = pulse.play(clip)
    stdout, stderr = proc.communicate(timeout=duration + 60)
    player.wait(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize(
    ("fmt", "codec", "min_correlation"),
    [
        ("wav", "pcm_s16le", 0.99),
        ("flac", "flac", 0.99),
        ("mp3", "mp3", 0.99),
        ("m4a", "aac", 0.99),
        ("opus", "opus", 0.95),
    ],
)
def test_recording_matches_what_was_played(
    loopcap: Loopcap,
    pulse: PulseRig,
    speech_and_tones: Path,
    tmp_path: Path,
    fmt: str,
    codec: str,
    min_correlation: float,
) -> None:
    output = tmp_path / f"rec.{fmt}"
    duration = 5.0
    result = record_while_playing(loopcap, pulse, speech_and_tones, output, duration)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(output)
    info = ffprobe(output)
    streams = info["streams"]
    assert isinstance(streams, list) and len(streams) == 1
    assert streams[0]["codec_name"] == codec
    assert float(info["format"]["duration"]) == pytest.approx(duration, abs=0.05)  # type: ignore[index]
    recorded = decode_to_array(output)
    played = decode_to_array(speech_and_tones)
    offset, score = best_alignment(recorded, played)
    assert score >= min_correlation, f"{fmt}: correlation {score:.4f} at {offset}"
    assert 0 < offset < (duration - 3.5) * RATE, "the whole clip is inside the recording"
    assert not list(loopcap.sessions.glob("*")), "the session folder is removed after saving"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary files"


def test_voice_note_format_is_whatsapps_own(
    loopcap: Loopcap, pulse: PulseRig, speech_and_tones: Path, tmp_path: Path
) -> None:
    from mutagen.oggopus import OggOpus

    from capture.batch.convert import opus_input_rate

    folder = tmp_path / "notes"
    folder.mkdir()
    duration = 5.0
    result = record_while_playing(
        loopcap, pulse, speech_and_tones, folder, duration, "--format", "voice-note"
    )
    assert result.returncode == 0, result.stderr
    saved = Path(result.stdout.strip())
    assert saved.parent == folder and saved.suffix == ".opus"
    stream = ffprobe(saved)["streams"][0]  # type: ignore[index]
    assert (stream["codec_name"], stream["channels"]) == ("opus", 1)
    assert opus_input_rate(saved) == 16000
    opus: Any = OggOpus(str(saved))  # type: ignore[no-untyped-call]
    assert opus.tags.vendor == "WhatsApp"
    assert opus.info.length == pytest.approx(duration, abs=0.05)
    offset, score = best_alignment(decode_to_array(saved), decode_to_array(speech_and_tones))
    assert score >= 0.85, f"voice note: correlation {score:.4f} at {offset}"


def test_default_name_and_folder(loopcap: Loopcap) -> None:
    result = loopcap.run("record", "--audio-only", "--duration", "1")
    assert result.returncode == 0, result.stderr
    saved = Path(result.stdout.strip())
    assert saved.parent == loopcap.home / "Music" / "loopcap"
    assert saved.name.startswith("loopcap-") and saved.suffix == ".mp3"
    assert float(ffprobe(saved)["format"]["duration"]) == pytest.approx(1.0, abs=0.05)  # type: ignore[index]


def test_sixty_seconds_of_noise_lose_no_samples(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path
) -> None:
    played = noise(60.0, seed=7)
    clip = write_wav(tmp_path / "noise.wav", played)
    output = tmp_path / "noise-rec.wav"
    result = record_while_playing(loopcap, pulse, clip, output, 62.5)
    assert result.returncode == 0, result.stderr
    recorded = decode_to_array(output, RATE)
    reference = played.astype(np.float32).mean(axis=1)
    offset, score = best_alignment(recorded, reference)
    assert score > 0.99
    window = RATE // 10
    worst = 1.0
    for start in range(RATE, len(reference) - window, window):
        worst = min(
            worst,
            correlation_at(
                recorded[offset + start : offset + start + window],
                reference[start : start + window],
                0,
            ),
        )
    assert worst >= 0.99, f"a 100 ms window correlated only {worst:.4f}: samples were lost"


def test_sigint_finalizes_a_complete_file(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path
) -> None:
    output = tmp_path / "stopped.flac"
    proc = loopcap.start("record", "--audio-only", "-o", str(output))
    loopcap.wait_until_recording(proc)
    time.sleep(2.5)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert time.monotonic() - started < 5
    assert stdout.strip() == str(output)
    duration = float(ffprobe(output)["format"]["duration"])  # type: ignore[index]
    assert 2.0 < duration < 3.5


def test_sigterm_also_finalizes(loopcap: Loopcap, tmp_path: Path) -> None:
    output = tmp_path / "terminated.wav"
    proc = loopcap.start("record", "--audio-only", "-o", str(output))
    loopcap.wait_until_recording(proc)
    time.sleep(2.0)
    proc.terminate()
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert float(ffprobe(output)["format"]["duration"]) > 1.0  # type: ignore[index]


def test_kill_9_then_recover(loopcap: Loopcap, pulse: PulseRig, tmp_path: Path) -> None:
    played = noise(8.0, seed=3)
    clip = write_wav(tmp_path / "noise.wav", played)
    output = tmp_path / "crashed.flac"
    proc = loopcap.start("record", "--audio-only", "-o", str(output))
    loopcap.wait_until_recording(proc)
    time.sleep(0.3)
    player = pulse.play(clip)
    time.sleep(6.0)
    recorded_for = 6.8
    proc.kill()
    proc.communicate(timeout=10)
    player.wait(timeout=30)
    assert not output.exists()
    # The next loopcap run offers to save it.
    hint = loopcap.run(
        "record", "--audio-only", "--duration", "0.5", "-o", str(tmp_path / "other.wav")
    )
    assert "1 interrupted recording(s) found; run 'loopcap recover'" in hint.stderr
    result = loopcap.run("recover")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(output)
    duration = float(ffprobe(output)["format"]["duration"])  # type: ignore[index]
    assert duration >= recorded_for - 2
    _, score = best_alignment(
        decode_to_array(output), played.astype(np.float32).mean(axis=1)[: RATE * 4]
    )
    assert score > 0.97
    assert not list(loopcap.sessions.glob("*"))
    assert loopcap.run("recover").stderr.startswith("loopcap: no interrupted recordings")


def test_audio_server_killed_and_restarted_mid_recording(
    private_pulse: PulseRig, tmp_path: Path
) -> None:
    loopcap = make_loopcap(tmp_path, private_pulse.env)
    output = tmp_path / "survived.wav"
    duration = 12.0
    proc = loopcap.start("record", "--audio-only", "--duration", str(duration), "-o", str(output))
    loopcap.wait_until_recording(proc)
    time.sleep(0.5)
    first = private_pulse.play(write_wav(tmp_path / "a.wav", tone(1.5, 500)))
    time.sleep(2.5)
    private_pulse.kill()
    first.wait(timeout=10)
    time.sleep(2.5)
    assert proc.poll() is None, "loopcap must survive the audio server's death"
    private_pulse.start()
    time.sleep(3.0)  # reconnection retries at most every second, then starts a worker
    after = tone(1.5, 1500)
    second = private_pulse.play(write_wav(tmp_path / "b.wav", after))
    stdout, stderr = proc.communicate(timeout=duration + 30)
    second.wait(timeout=10)
    assert proc.returncode == 0, stderr
    assert stdout.strip() == str(output)
    assert "lost the audio source" in stderr and "audio source is back" in stderr
    recorded = decode_to_array(output)
    assert len(recorded) / RATE == pytest.approx(duration, abs=0.05), "covers the whole wall time"
    _, score = best_alignment(recorded, after.astype(np.float32).mean(axis=1))
    assert score > 0.99, "audio after the restart is recorded"


def test_unknown_source_is_one_clear_line(loopcap: Loopcap, tmp_path: Path) -> None:
    result = loopcap.run(
        "record", "--audio-only", "--source", "no-such-speaker", "-o", str(tmp_path / "x.mp3")
    )
    assert result.returncode != 0
    assert_one_clear_line(result.stderr)
    assert "no loopback source matches 'no-such-speaker'" in result.stderr
    assert "virt.monitor" in result.stderr, "the message lists what exists"
    assert not list(tmp_path.glob("*.mp3")) and not list(loopcap.sessions.glob("*"))


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["-o", "/proc/x.mp3"], "cannot write to folder /proc", 1),
        (["-o", "/nonexistent-folder/x.mp3"], "folder /nonexistent-folder does not exist", 1),
        (["-o", "x.xyz"], "unknown format '.xyz'", 2),
        (["--format", "aiff"], "invalid choice: 'aiff'", 2),
        (["--duration", "-3"], "give a duration between 0 and a week", 2),
    ],
)
def test_bad_output_is_one_clear_line(
    loopcap: Loopcap, args: list[str], message: str, code: int
) -> None:
    result = loopcap.run("record", "--audio-only", *args)
    assert result.returncode == code
    assert_one_clear_line(result.stderr)
    assert message in result.stderr
    assert not list(loopcap.sessions.glob("*"))


def test_no_ffmpeg_is_one_clear_line(loopcap: Loopcap, tmp_path: Path) -> None:
    result = loopcap.run(
        "record",
        "--audio-only",
        "-o",
        str(tmp_path / "x.mp3"),
        LOOPCAP_FFMPEG="/nonexistent/ffmpeg",
    )
    assert result.returncode == 1
    assert_one_clear_line(result.stderr)
    assert "LOOPCAP_FFMPEG=/nonexistent/ffmpeg is not a working ffmpeg" in result.stderr
    assert not list(tmp_path.glob("*.mp3"))


def test_existing_file_is_kept(loopcap: Loopcap, tmp_path: Path) -> None:
    existing = tmp_path / "mine.mp3"
    existing.write_bytes(b"precious")
    result = loopcap.run("record", "--audio-only", "--duration", "0.5", "-o", str(existing))
    assert result.returncode == 1
    assert_one_clear_line(result.stderr)
    assert existing.read_bytes() == b"precious"


def test_no_audio_server_is_one_clear_line(tmp_path: Path) -> None:
    loopcap = make_loopcap(tmp_path, {"PULSE_SERVER": f"unix:{tmp_path}/nothing-here"})
    result = loopcap.run("record", "--audio-only", "-o", str(tmp_path / "x.mp3"))
    assert result.returncode == 1
    assert_one_clear_line(result.stderr)
    assert "cannot reach the audio server" in result.stderr
    doctor = loopcap.run("doctor")
    assert doctor.returncode == 1
    assert "✗ audio server" in doctor.stdout and "fix:" in doctor.stdout


def test_devices_and_doctor(loopcap: Loopcap) -> None:
    import json

    listed = json.loads(loopcap.run("devices", "--json").stdout)
    assert {"id": "virt.monitor", "name": "Monitor of VirtualSpeaker", "default": True} in listed
    doctor = loopcap.run("doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "✓ ffmpeg" in doctor.stdout and "✓ encoder libmp3lame" in doctor.stdout
    assert "✓ loopback sources: 1: virt.monitor" in doctor.stdout
