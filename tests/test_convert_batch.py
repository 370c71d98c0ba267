"""`loopcap convert` as a batch of grouped ffmpeg runs: a bad input fails alone, WhatsApp notes
become 24 kHz MP3s that keep everything they hold, and the other output formats (voice notes,
m4a, opus, flac, wav) come out as asked, tagged."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from capture import ffmpeg
from capture.batch.convert import (
    ConversionJob,
    Mp3Options,
    Outcome,
    _culprit,
    convert_batch,
    opus_input_rate,
)
from capture.tags import read_tags
from tests._voice_notes import (
    FFMPEG,
    FFPROBE,
    duration,
    make_notes,
    probe,
    require_tools,
)
from tests.helpers import run_cli


@pytest.fixture(scope="session")
def good_notes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    require_tools()
    return make_notes(tmp_path_factory.mktemp("good"), 8, prefix="good")


def test_a_bad_input_fails_alone_and_its_group_goes_on(
    good_notes: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    garbage = bad / "garbage.opus"
    garbage.write_bytes(bytes(range(256)) * 8)  # ffmpeg cannot open it
    text = bad / "notes.txt"
    text.write_text("no audio here\n", encoding="utf-8")  # opens, but holds no audio stream
    sources = [*good_notes[:3], garbage, *good_notes[3:6], text, *good_notes[6:]]
    out = tmp_path / "out"
    jobs = [ConversionJob(s, out / f"{i:02d}-{s.stem}.mp3") for i, s in enumerate(sources)]

    runs: list[int] = []
    real_run = ffmpeg.run_args

    def counting(args: list[str], **kwargs: Any) -> None:
        runs.append(args.count("-i"))
        real_run(args, **kwargs)

    monkeypatch.setattr(ffmpeg, "run_args", counting)
    report = convert_batch(jobs, workers=1)

    outcomes = {r.job.source: r for r in report.results}
    for note in good_notes:
        assert outcomes[note].outcome is Outcome.CONVERTED, outcomes[note].reason
    assert outcomes[garbage].outcome is Outcome.FAILED
    assert str(garbage) in outcomes[garbage].reason
    assert outcomes[text].outcome is Outcome.FAILED
    assert str(text) in outcomes[text].reason
    for job in jobs:
        if job.source in good_notes:
            assert abs(duration(job.target) - duration(job.source)) <= 0.1
        else:
            assert not job.target.exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left"
    # The culprit is named by ffmpeg, so its neighbours run again together, not one by one:
    # a handful of runs, most with several inputs.
    assert max(runs) >= 3 and len(runs) <= 6, runs


def test_culprit_is_read_from_ffmpeg_messages() -> None:
    sources = [Path("/a.opus"), Path("/b.opus"), Path("/c.opus")]
    opening = "[in#1 @ 0x55] Error opening input: Invalid data\nError opening input file /b.opus."
    assert _culprit(opening, sources) == 1
    mapping = "Stream map '' matches no streams.\nFailed to set value '2:a:0' for option 'map'"
    assert _culprit(mapping, sources) == 2
    assert _culprit("Error opening input file file:/a.opus.", sources) == 0
    assert _culprit("Conversion failed!", sources) is None


def _band_levels_db(path: Path, edges: list[int]) -> list[float]:
    """Mean power (dB) of ``path``'s audio in each band between ``edges``, decoded at 48 kHz."""
    pcm = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", "48000", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    size = 4096
    frames = samples[: len(samples) // size * size].reshape(-1, size) * np.hanning(size)
    power = (np.abs(np.fft.rfft(frames)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(size, 1 / 48000)
    return [
        float(10 * np.log10(power[(freqs >= lo) & (freqs < hi)].mean() + 1e-12))
        for lo, hi in itertools.pairwise(edges)
    ]


def test_whatsapp_notes_become_24khz_mp3s_that_keep_all_they_hold(tmp_path: Path) -> None:
    require_tools()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # A note as WhatsApp records it (16 kHz Opus), of noise: every frequency it can hold.
    note = inbox / "PTT-20240301-WA0001.opus"
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "anoisesrc=d=4:r=16000:a=0.3:seed=7",
         "-c:a", "libopus", "-b:a", "24k", "-application", "voip", str(note)],
        check=True,
    )  # fmt: skip
    assert opus_input_rate(note) == 16000

    fitted = run_cli(tmp_path, "convert", inbox, "--out", tmp_path / "fitted")
    assert fitted.returncode == 0, fitted.stdout + fitted.stderr
    assert "recorded at 16 kHz" in fitted.stdout and "encoded at 24 kHz" in fitted.stdout
    mp3 = tmp_path / "fitted" / "PTT-20240301-WA0001.mp3"
    assert probe(mp3, "sample_rate", stream=True) == "24000"

    forced = run_cli(tmp_path, "convert", inbox, "--out", tmp_path / "forced", "--rate", "16000")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "encoded at" not in forced.stdout
    narrow = tmp_path / "forced" / "PTT-20240301-WA0001.mp3"
    assert probe(narrow, "sample_rate", stream=True) == "16000"

    edges = [100, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 7600]
    source = _band_levels_db(note, edges)
    kept = _band_levels_db(mp3, edges)
    lost = _band_levels_db(narrow, edges)
    # Everything the note holds, up to 7.6 kHz, is within 1 dB in the 24 kHz MP3 ...
    assert all(abs(a - b) <= 1.0 for a, b in zip(source, kept, strict=True)), (source, kept)
    # ... while a 16 kHz MP3 (LAME's lowpass) audibly cuts the top band: the check can fail.
    assert source[-1] - lost[-1] > 3.0, (source, lost)


@pytest.fixture(scope="session")
def stereo_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three seconds of 48 kHz stereo FLAC: a tone left, another right."""
    require_tools()
    path = tmp_path_factory.mktemp("stereo") / "duet.flac"
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=3:r=48000",
         "-f", "lavfi", "-i", "sine=f=660:d=3:r=48000",
         "-filter_complex", "[0:a][1:a]join=inputs=2:channel_layout=stereo", str(path)],
        check=True,
    )  # fmt: skip
    return path


#: --to, then what ffprobe must find: codec, channels, sample rate (Opus: its header's rate).
TARGETS = {
    "voice-note": ("opus", "1", 16000, ".opus"),
    "m4a": ("aac", "2", 48000, ".m4a"),
    "opus": ("opus", "2", 48000, ".opus"),
    "flac": ("flac", "2", 48000, ".flac"),
    "wav": ("pcm_s16le", "2", 48000, ".wav"),
    "mp3": ("mp3", "2", 48000, ".mp3"),
}


@pytest.mark.parametrize("target", TARGETS)
def test_output_formats(target: str, stereo_source: Path, tmp_path: Path) -> None:
    assert FFPROBE
    out = tmp_path / "out"
    result = run_cli(tmp_path, "convert", stereo_source, "--out", out, "--to", target)
    assert result.returncode == 0, result.stdout + result.stderr
    codec_name, channels, rate, extension = TARGETS[target]
    made = out / f"duet{extension}"
    assert probe(made, "codec_name", stream=True) == codec_name
    assert probe(made, "channels", stream=True) == channels
    if codec_name == "opus":
        assert opus_input_rate(made) == rate  # ffprobe reports Opus' decoding rate, 48 kHz
    else:
        assert probe(made, "sample_rate", stream=True) == str(rate)
    assert abs(duration(made) - 3.0) <= 0.05
    tags = read_tags(made)
    assert tags["title"] == "duet"
    assert tags["date"]
    if target == "voice-note":
        from mutagen.oggopus import OggOpus

        opus: Any = OggOpus(str(made))  # type: ignore[no-untyped-call]
        assert opus.tags.vendor == "WhatsApp"
        assert opus.info.length == pytest.approx(3.0, abs=0.05)
        kbps = made.stat().st_size * 8 / 3.0 / 1000
        assert kbps < 40, kbps  # a speech bitrate, not music's


def test_rate_and_target_usage_errors(stereo_source: Path, tmp_path: Path) -> None:
    for args, words in (
        (("--rate", "44100", "--to", "opus"), "opus files have"),
        (("--rate", "16000", "--to", "voice-note"), "always 16000"),
        (("--rate", "12345"), "mp3 files have"),
        (("--bitrate", "128k", "--to", "flac"), "does not apply"),
    ):
        result = run_cli(tmp_path, "convert", stereo_source, "--out", tmp_path / "o", *args)
        assert result.returncode == 2, result.stdout + result.stderr
        assert words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_mp3_options_keep_a_source_rate_for_other_sources(stereo_source: Path) -> None:
    from capture.batch.convert import fitting_rate

    assert fitting_rate(stereo_source, Mp3Options()) == (None, None)
    assert opus_input_rate(stereo_source) is None
