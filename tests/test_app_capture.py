"""Per-application capture on real sound servers: PulseAudio and PipeWire (pipewire-pulse).

Stand-in apps are paplay processes with their own application.name, as real players have. Each
server runs once for the module (tests that kill theirs start their own).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.conftest import Desktop
from tests.helpers import Loopcap, assert_one_clear_line, make_loopcap
from tests.rig import (
    RATE,
    PulseRig,
    best_alignment,
    correlation_at,
    decode_to_array,
    ffprobe,
    noise,
    pulse_rig,
    tone,
    write_wav,
)

KINDS = ["pulseaudio", "pipewire"]

HEAD = RATE * 50 // 1000  # the first 50 ms


@pytest.fixture(scope="module", params=KINDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PulseRig]:
    with pulse_rig(tmp_path_factory.mktemp(request.param), kind=request.param) as rig:
        yield rig


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        name: write_wav(folder / f"{name}.wav", noise(seconds, seed=seed))
        for name, seconds, seed in (
            ("voice", 0.8, 11),
            ("note", 2.0, 15),
            ("music", 4.0, 12),
            ("other", 0.8, 13),
            ("long", 30.0, 14),
        )
    }


def stop_player(player: subprocess.Popen[bytes]) -> None:
    player.kill()
    player.wait()


def mono(path: Path) -> npt.NDArray[np.float32]:
    return decode_to_array(path)


def mix_streams(rig: PulseRig) -> int:
    """How many loopcap capture workers record from this server (one mix stream each)."""
    return rig.pactl("list", "source-outputs", check=False).count("loopcap mix")


def start_recording(
    loopcap: Loopcap, output: Path, seconds: float, *flags: str, server: PulseRig
) -> subprocess.Popen[str]:
    """Start ``loopcap record`` and return once its worker records from the server."""
    return start_capturing(
        loopcap, server, "record", "--audio-only", "--duration", str(seconds), "-o", str(output),
        *flags,
    )  # fmt: skip


def start_capturing(loopcap: Loopcap, server: PulseRig, *args: str) -> subprocess.Popen[str]:
    """Start ``loopcap ARGS`` and return once its capture worker records from the server."""
    before = mix_streams(server)
    proc = loopcap.start(*args)
    deadline = time.monotonic() + 30
    while mix_streams(server) <= before:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            _, stderr = proc.communicate()
            raise AssertionError(f"loopcap did not start: {stderr}")
        time.sleep(0.05)
    return proc


def wait_until_attached(rig: PulseRig, timeout: float = 30) -> None:
    """Until loopcap's capture worker records from this server (its mix stream is there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "loopcap mix" in rig.pactl("list", "source-outputs", check=False):
            return
        time.sleep(0.1)
    raise AssertionError("loopcap did not attach to the sound server")


def finish(proc: subprocess.Popen[str], output: Path) -> None:
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stdout.strip() == str(output)


def test_one_app_alone_and_all_but_it(
    server: PulseRig, clips: dict[str, Path], tmp_path: Path
) -> None:
    """Two apps play different clips at once: --app keeps one, --exclude-app the other."""
    loopcap = make_loopcap(tmp_path, server.env)
    only, but = tmp_path / "only.wav", tmp_path / "but.wav"
    recordings = [
        start_recording(loopcap, only, 3.0, "--app", "voiceapp", server=server),
        start_recording(loopcap, but, 3.0, "--exclude-app", "VOICEAPP", server=server),
    ]
    players = [
        server.play(clips["note"], app="VoiceApp"),
        server.play(clips["music"], app="MusicApp"),
    ]
    for proc, output in zip(recordings, (only, but), strict=True):
        finish(proc, output)
    for player in players:
        stop_player(player)
    voice, music = mono(clips["note"]), mono(clips["music"])
    _, mine = best_alignment(mono(only), voice)
    _, theirs = best_alignment(mono(only), music)
    assert mine >= 0.99, f"the app's own clip: {mine:.3f}"
    assert theirs <= 0.1, f"the other app's clip leaks in: {theirs:.3f}"
    offset, kept = best_alignment(mono(but), music[: 2 * RATE])
    _, excluded = best_alignment(mono(but), voice)
    assert kept >= 0.99, f"all but the app keeps the other one: {kept:.3f} at {offset}"
    assert excluded <= 0.1, f"the excluded app leaks in: {excluded:.3f}"


def test_each_new_stream_is_caught_from_its_first_50_ms(
    server: PulseRig, clips: dict[str, Path], tmp_path: Path
) -> None:
    """The app starts after loopcap, stops, starts again with a new stream, three times."""
    loopcap = make_loopcap(tmp_path, server.env)
    output = tmp_path / "three.wav"
    duration = 5.0
    proc = start_recording(loopcap, output, duration, "--app", "VoiceApp", server=server)
    for _ in range(3):
        time.sleep(0.5)
        server.play(clips["voice"], app="VoiceApp").wait(timeout=10)
    finish(proc, output)
    length = float(ffprobe(output)["format"]["duration"])  # type: ignore[index]
    assert length == pytest.approx(duration, abs=0.05), "the file is as long as wall time"
    recorded, voice = mono(output), mono(clips["voice"])
    found = []
    rest = recorded.copy()
    for _ in range(3):
        offset, score = best_alignment(rest, voice)
        head = correlation_at(rest, voice[:HEAD], offset)
        found.append((offset, round(score, 4), round(head, 4)))
        rest[max(0, offset) : offset + len(voice)] = 0  # the next search finds another one
    for _, score, head in found:
        assert score >= 0.99, found
        assert head >= 0.99, f"the first 50 ms is missing: {found}"
    assert len({at // RATE for at, _, _ in found}) == 3, f"three separate sounds: {found}"


def test_not_invasive_and_nothing_left_after_kill_9(
    server: PulseRig, clips: dict[str, Path], tmp_path: Path
) -> None:
    """The speakers still get the whole mix while one app is recorded; a kill -9 of loopcap
    leaves the same modules and the same stream routing as before it started."""
    loopcap = make_loopcap(tmp_path, server.env)
    music = server.play(clips["long"], app="MusicApp")
    time.sleep(0.3)
    before = server.layout()
    speakers = tmp_path / "speakers.wav"
    mix = loopcap.start("record", "--audio-only", "--duration", "5", "-o", str(speakers))
    proc = start_recording(loopcap, tmp_path / "app.wav", 30.0, "--app", "VoiceApp", server=server)
    voice = server.play(clips["voice"], app="VoiceApp")
    time.sleep(0.3)
    during = server.layout()
    voice.wait(timeout=10)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)  # waits, and closes its pipes
    time.sleep(1.0)  # the worker sees its pipe close and exits
    finish(mix, speakers)
    after = server.layout()
    stop_player(music)
    assert during[0] == before[0], "no module loaded while recording"
    assert ("VoiceApp", "virt") in during[1], "the app plays to its own sink, not moved"
    assert after == before, "everything as it was before loopcap started"
    heard = mono(speakers)
    _, voice_heard = best_alignment(heard, mono(clips["voice"]))
    assert voice_heard > 0.5, "the recorded app still reaches the speakers"
    _, music_heard = best_alignment(heard, mono(clips["long"])[3 * RATE : 4 * RATE])
    assert music_heard > 0.5, "the other app too"


@pytest.mark.parametrize("kind", KINDS)
def test_the_app_is_found_again_after_the_server_restarts(
    kind: str, clips: dict[str, Path], tmp_path: Path
) -> None:
    with pulse_rig(tmp_path / kind, kind=kind) as rig:
        loopcap = make_loopcap(tmp_path / f"{kind}-loopcap", rig.env)
        output = tmp_path / f"{kind}.wav"
        proc = start_recording(loopcap, output, 9.0, "--app", "VoiceApp", server=rig)
        rig.play(clips["other"], app="VoiceApp").wait(timeout=10)
        rig.kill()
        time.sleep(1.0)
        assert proc.poll() is None, "loopcap survives the server's death"
        rig.start()
        wait_until_attached(rig)  # reconnection retries every second, then a new worker
        time.sleep(0.5)
        rig.play(clips["voice"], app="VoiceApp").wait(timeout=10)
        rig.play(clips["other"], app="Someone").wait(timeout=10)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert "audio source is back" in stderr
        recorded = mono(output)
        _, score = best_alignment(recorded, mono(clips["voice"]))
        assert score >= 0.99, f"{kind}: the app after the restart: {score:.3f}"


def test_empty_app_name_is_one_clear_line(server: PulseRig, tmp_path: Path) -> None:
    loopcap = make_loopcap(tmp_path, server.env)
    result = loopcap.run("record", "--audio-only", "--app", " ", "-o", str(tmp_path / "x.wav"))
    assert result.returncode == 2
    assert_one_clear_line(result.stderr)
    assert "devices --apps" in result.stderr
    assert not (tmp_path / "x.wav").exists()


def test_devices_lists_the_apps_playing(
    server: PulseRig, clips: dict[str, Path], tmp_path: Path
) -> None:
    import json

    loopcap = make_loopcap(tmp_path, server.env)
    player = server.play(clips["music"], app="MusicApp")
    time.sleep(0.3)
    try:
        result = loopcap.run("devices", "--apps", "--json")
    finally:
        stop_player(player)
    assert result.returncode == 0, result.stderr
    apps = json.loads(result.stdout)
    music = [app for app in apps if app["name"] == "MusicApp"]
    assert music and music[0]["streams"] == 1 and music[0]["executable"], apps
    assert music[0]["pid"] == player.pid


def test_a_real_browser_is_caught_while_another_app_plays(
    server: PulseRig, clips: dict[str, Path], tmp_path: Path
) -> None:
    """Headless Chromium plays a note from a page on 127.0.0.1; --app chromium keeps it and
    leaves out what paplay plays meanwhile."""
    from tests.browser import CHROMIUM, envelope_match, loudness_envelope, play_chain
    from tests.rig import speech_wav

    if CHROMIUM is None:
        pytest.skip("needs chromium (apt install chromium)")
    note = speech_wav(tmp_path / "note.wav", "This voice note comes from a browser tab.")
    loopcap = make_loopcap(tmp_path, server.env)
    output = tmp_path / "browser.wav"
    proc = start_recording(loopcap, output, 9.0, "--app", "chromium", server=server)
    music = server.play(clips["long"], app="MusicApp")
    try:
        with play_chain([note], server.environ(), lead_s=1.0) as chain:
            chain.wait(timeout=30)
            time.sleep(0.3)
    finally:
        stop_player(music)
    finish(proc, output)
    recorded = mono(output)
    offset, score = envelope_match(
        loudness_envelope(recorded, RATE), loudness_envelope(mono(note), RATE)
    )
    assert score > 0.9, f"the browser's note by loudness envelope: {score:.3f} at {offset}"
    _, music_score = best_alignment(recorded, mono(clips["long"])[: 6 * RATE])
    assert music_score <= 0.1, f"the other app leaks in: {music_score:.3f}"


def test_notes_of_one_app_are_saved_alone_and_whole(
    server: PulseRig, clips: dict[str, Path], tmp_path: Path
) -> None:
    """Music from another app all along, a ding during the first note, a third app speaking
    between the notes: with --app, each note is saved alone and whole."""
    from tests.rig import speech_wav, tone

    notes = [
        speech_wav(tmp_path / "note1.wav", "First note. The meeting moved to Thursday."),
        speech_wav(tmp_path / "note2.wav", "Second note. Bring the keys, please."),
    ]
    other = speech_wav(tmp_path / "other.wav", "I am another app and not a note.")
    ding = write_wav(tmp_path / "ding.wav", tone(0.3, 1500, level=0.6))
    loopcap = make_loopcap(tmp_path, server.env)
    out = tmp_path / "notes"
    out.mkdir()
    proc = start_capturing(
        loopcap, server, "note", "--app", "VoiceApp", "--count", "2", "--timeout", "40",
        "--format", "wav", "--out", str(out),
    )  # fmt: skip
    music = server.play(clips["long"], app="MusicApp")
    try:
        time.sleep(1.0)
        first = server.play(notes[0], app="VoiceApp")
        time.sleep(0.8)
        server.play(ding, app="Notifier").wait(timeout=10)
        first.wait(timeout=20)
        time.sleep(2.0)  # the first note ends after 1.5 s of the app's silence
        server.play(other, app="OtherApp").wait(timeout=20)
        time.sleep(0.5)
        server.play(notes[1], app="VoiceApp").wait(timeout=20)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        stop_player(music)
    assert proc.returncode == 0, stderr
    saved = [Path(line) for line in stdout.splitlines() if line.strip()]
    assert len(saved) == 2, (stdout, stderr)
    for path, note in zip(saved, notes, strict=True):
        recorded, played = mono(path), mono(note)
        offset, score = best_alignment(recorded, played)
        assert score >= 0.99, f"{path.name}: the note alone: {score:.3f}"
        audible = np.nonzero(np.abs(played) > 1e-3)[0]
        assert offset + audible[0] >= 0, "the note from its first sound"
        assert offset + audible[-1] < len(recorded), "the note to its last sound"
        assert len(recorded) - len(played) < 2.5 * RATE, "nothing else made it longer"
        # Alone: take the note away and nothing is left (no ding, music or other speech).
        rest = recorded.copy()
        lo, hi = max(0, offset), min(len(rest), offset + len(played))
        rest[lo:hi] -= played[lo - offset : hi - offset]
        leftover = float(np.sqrt(np.mean(rest**2)) / np.sqrt(np.mean(played**2)))
        loudest = int(np.argmax(np.abs(rest))) / RATE
        assert leftover < 0.05, (
            f"{path.name}: other sound in the note ({leftover:.3f}, loudest at {loudest:.2f} s; "
            f"the note is at {offset / RATE:.2f} s)"
        )


def test_screen_recording_of_one_app_keeps_its_beeps_on_the_flashes(
    server: PulseRig, desktop: Desktop, tmp_path: Path
) -> None:
    """``record --app`` of the screen: the app is quiet at first and then beeps on new streams,
    each with a flash. Its audio is placed on its real time (silence while it is quiet), so
    each beep lands on its flash within the bound of the whole-mix test; another app, playing
    all along, is not in the file."""
    from tests.avsync import Observer, assert_in_sync, sync_errors
    from tests.test_screen import scene

    loopcap = make_loopcap(tmp_path, server.env)
    beep = write_wav(tmp_path / "beep.wav", tone(0.1, 1000, level=0.6))
    # Below the observer's beep threshold, so only the app's beeps count as beeps there.
    other = write_wav(tmp_path / "other.wav", noise(6.0, level=0.05, seed=16))
    output = tmp_path / "app-sync.mp4"
    fps = 30
    with (
        scene(desktop, "flasher", f"{desktop.width}x{desktop.height}+0+0") as window,
        Observer(
            desktop.display, desktop.width // 4, desktop.height // 2, env=server.env
        ) as observer,
    ):
        proc = loopcap.start(
            "record", "--app", "BeepApp", "--fps", str(fps), "--duration", "7",
            "-o", str(output), env=desktop.env,
        )  # fmt: skip
        players = [server.play(other, app="OtherApp")]
        try:
            loopcap.wait_until_recording(proc)
            time.sleep(1.5)  # the app is quiet for a while: silence on the clock
            for _ in range(3):
                window.send("flash")
                players.append(server.play(beep, app="BeepApp"))  # a new stream each time
                time.sleep(1.1 + 1 / (4 * fps))  # each flash at another place between frames
            _, stderr = proc.communicate(timeout=60)
        finally:
            for player in players:
                stop_player(player)
    assert proc.returncode == 0, stderr
    errors = sync_errors(observer, output, fps)
    assert len(errors) == 3
    assert_in_sync(errors, fps)
    _, theirs = best_alignment(mono(output), mono(other))
    assert theirs <= 0.1, f"another app's sound is in the file: {theirs:.3f}"


def test_a_note_ends_when_the_players_stream_goes_away(server: PulseRig, tmp_path: Path) -> None:
    """The app closes its stream after a note and opens a new one 0.3 s later. Its silence
    alone would not end the note (that takes 0.8 s), so without the cue the two would be one;
    with --app the stream's end ends the note, and both are saved apart and whole."""
    from tests.rig import speech_wav

    notes = [
        speech_wav(tmp_path / "first.wav", "First note. The meeting moved to Thursday."),
        speech_wav(tmp_path / "second.wav", "Second note. Bring the keys, please."),
    ]
    loopcap = make_loopcap(tmp_path, server.env)
    out = tmp_path / "notes"
    out.mkdir()
    proc = start_capturing(
        loopcap, server, "note", "--app", "VoiceApp", "--count", "2", "--timeout", "15",
        "--format", "wav", "--out", str(out),
    )  # fmt: skip
    time.sleep(0.5)
    server.play(notes[0], app="VoiceApp").wait(timeout=20)
    time.sleep(0.3)
    server.play(notes[1], app="VoiceApp").wait(timeout=20)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    saved = [Path(line) for line in stdout.splitlines() if line.strip()]
    assert len(saved) == 2, (stdout, stderr)
    for path, note, other in zip(saved, notes, reversed(notes), strict=True):
        recorded, played = mono(path), mono(note)
        _, score = best_alignment(recorded, played)
        assert score >= 0.99, f"{path.name}: the note whole: {score:.3f}"
        _, others = best_alignment(recorded, mono(other))
        assert others < 0.5, f"{path.name}: the other note is in it too: {others:.3f}"
        assert len(recorded) - len(played) < RATE, f"{path.name}: only its own note"
