"""Catching voice notes on a real PulseAudio: ``loopcap note``, ``catch_note()``, ``save_last``."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from capture.events import (
    CatchState,
    Event,
    NoteArmed,
    NoteCatching,
    NoteSaved,
    NoteTimedOut,
    RecordingSaved,
)
from capture.notes.service import ClipFormat
from capture.recording.recorder import Recorder
from capture.settings import NoteSettings, Settings
from tests.browser import CHROMIUM, envelope_match, loudness_envelope
from tests.chains import ChainRecording, Extra, record_chain
from tests.corpus import Corpus, decode, tools_missing
from tests.helpers import Loopcap, assert_one_clear_line, wait_for_event
from tests.rig import (
    PulseRig,
    as_float,
    best_alignment,
    decode_to_array,
    read_wav,
    speech_wav,
    write_wav,
)

RATE = 48000
NOTES = NoteSettings()


def spoken_extent(clip: npt.NDArray[np.int16]) -> tuple[int, int]:
    """First and last frame louder than the detector's floor (-50 dBFS in 20 ms windows)."""
    window = RATE // 50
    mono = clip.astype(np.float64).mean(axis=1) / 32768
    usable = len(mono) // window * window
    rms = np.sqrt((mono[:usable].reshape(-1, window) ** 2).mean(axis=1))
    loud = np.flatnonzero(20 * np.log10(np.maximum(rms, 1e-9)) > NOTES.min_threshold_db)
    return int(loud[0] * window), int((loud[-1] + 1) * window)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, npt.NDArray[np.int16]]:
    folder = tmp_path_factory.mktemp("speech")
    texts = {
        "bob": "Hi, it's Bob. I wanted to tell you about the meeting tomorrow.",
        "ana": "Second note here. Call me back when you can, thanks.",
        "long": (
            "This is a longer voice note. It keeps talking for a while, so that the key "
            "is pressed in the middle of it."
        ),
    }
    return {
        name: read_wav(speech_wav(folder / f"{name}.wav", text))[0] for name, text in texts.items()
    }


def wait_until_listening(pulse: PulseRig, timeout: float = 30) -> None:
    """Until a new recording stream reads the speaker (loopcap's capture), and a moment more."""

    def streams() -> int:
        return len(pulse.pactl("list", "short", "source-outputs").splitlines())

    before = streams()
    deadline = time.monotonic() + timeout
    while streams() <= before:
        if time.monotonic() > deadline:
            raise AssertionError(f"loopcap did not start listening within {timeout:.0f} s")
        time.sleep(0.05)
    time.sleep(0.5)


def silence(seconds: float) -> npt.NDArray[np.int16]:
    """A player's silence: exact zeros."""
    return np.zeros((round(seconds * RATE), 2), dtype=np.int16)


def room_tone(seconds: float, db: float = -70.0) -> npt.NDArray[np.int16]:
    """A pause inside a recorded note: the microphone's noise, never exact zeros."""
    rng = np.random.default_rng(7)
    noise = rng.standard_normal((round(seconds * RATE), 2)) * 32768 * 10 ** (db / 20)
    return np.clip(np.round(noise), -32768, 32767).astype(np.int16)


def test_note_saves_each_of_two_notes_as_its_own_file(
    loopcap: Loopcap, pulse: PulseRig, spoken: dict[str, npt.NDArray[np.int16]], tmp_path: Path
) -> None:
    pause = room_tone(1.8)  # a thinking pause longer than the old fixed 1.5 s
    first = np.concatenate([spoken["bob"], pause, spoken["bob"]])
    second = np.concatenate([spoken["ana"], pause, spoken["ana"]])
    # Autoplayed one after another, 1.5 s of the player's silence apart.
    clip = write_wav(tmp_path / "two-notes.wav", np.concatenate([first, silence(1.5), second]))
    out = tmp_path / "notes"
    out.mkdir()
    proc = loopcap.start("note", "--count", "2", "--out", str(out), "--timeout", "60")
    wait_until_listening(pulse)
    pulse.play(clip).wait(timeout=60)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    printed = [Path(line) for line in stdout.split()]
    files = sorted(out.iterdir())
    assert printed == files and len(files) == 2, (stdout, files)
    for path, played in zip(files, (first, second), strict=True):
        assert path.name.startswith("note-") and path.suffix == ".mp3"
        recorded = decode_to_array(path)
        start, end = spoken_extent(played)
        # The file is the spoken extent plus the pre-roll before it and the kept tail after it.
        expected = (end - start) / RATE + NOTES.preroll_s + NOTES.tail_s
        offset, score = best_alignment(recorded, as_float(played))
        assert len(recorded) / RATE == pytest.approx(expected, abs=0.3), (offset / RATE, score)
        assert score >= 0.95
        # The first syllable is in, with the pre-roll before it (within 50 ms).
        assert (start + offset) / RATE == pytest.approx(NOTES.preroll_s, abs=0.05)


def test_note_times_out_with_exit_code_2(loopcap: Loopcap, tmp_path: Path) -> None:
    tmp_path = tmp_path / "notes"
    tmp_path.mkdir()
    result = loopcap.run("note", "--out", str(tmp_path), "--timeout", "2")
    assert result.returncode == 2
    assert_one_clear_line(result.stderr)
    assert "no voice note heard in 2 s" in result.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--source", "nope"], "no loopback source matches 'nope'", 1),
        (["--out", "/proc"], "cannot write to folder /proc", 1),
        (["--out", "/nonexistent-notes"], "folder /nonexistent-notes does not exist", 1),
        (["--silence", "-1"], "give a duration between 0 and a week", 2),
        (["--threshold", "20"], "'notes.min_threshold_db' = 20.0 is above the maximum", 1),
        (["--silence", "1000"], "'notes.silence_s' = 1000.0 is above the maximum", 1),
        (["--count", "0"], "give 1 or more", 2),
    ],
)
def test_note_bad_input_is_one_clear_line(
    loopcap: Loopcap, tmp_path: Path, args: list[str], message: str, code: int
) -> None:
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path)]
    result = loopcap.run("note", "--timeout", "5", *args)
    assert result.returncode == code
    assert_one_clear_line(result.stderr)
    assert message in result.stderr


# -----------------------------------------------------------------------------------------------
# The Recorder in this process, as the tray and the hotkey use it


@pytest.fixture
def recorder(pulse: PulseRig, tmp_path: Path) -> Iterator[Recorder]:
    with Recorder(Settings(), sessions_root=tmp_path / "sessions") as rec:
        yield rec


def collect(recorder: Recorder) -> queue.Queue[Event]:
    events: queue.Queue[Event] = queue.Queue()
    recorder.subscribe(events.put)
    return events


def test_catch_note_in_the_middle_keeps_the_beginning(
    recorder: Recorder, pulse: PulseRig, spoken: dict[str, npt.NDArray[np.int16]], tmp_path: Path
) -> None:
    played = np.concatenate([spoken["long"], spoken["long"]])[: 6 * RATE]
    clip = write_wav(tmp_path / "six-seconds.wav", played)
    recorder.start_notes(ClipFormat(tmp_path, "wav", "note-%H-%M-%S"))
    events = collect(recorder)
    time.sleep(0.5)
    player = pulse.play(clip)
    time.sleep(2.0)
    recorder.catch_note()
    started = wait_for_event(events, NoteCatching)
    assert started.seconds_ago > 1.5
    saved = wait_for_event(events, NoteSaved)
    player.wait(timeout=10)
    assert saved.reason == "playing"
    recorded = decode_to_array(saved.path)
    start, _ = spoken_extent(played)
    offset, score = best_alignment(recorded, as_float(played))
    assert score >= 0.95
    assert (start + offset) / RATE == pytest.approx(NOTES.preroll_s, abs=0.05), "onset included"
    first_two_seconds = as_float(played)[: 2 * RATE]
    _, early = best_alignment(recorded[: 3 * RATE], first_two_seconds)
    assert early >= 0.95, "the 2 s before the key press are in the file"


def test_catch_note_just_after_a_note_saves_that_note(
    recorder: Recorder, pulse: PulseRig, spoken: dict[str, npt.NDArray[np.int16]], tmp_path: Path
) -> None:
    clip = write_wav(tmp_path / "short.wav", spoken["ana"])
    recorder.start_notes(ClipFormat(tmp_path, "flac", "note-%H-%M-%S"))
    events = collect(recorder)
    time.sleep(0.5)
    pulse.play(clip).wait(timeout=20)
    time.sleep(2.0)  # the note ended about 2 s ago
    recorder.catch_note()
    saved = wait_for_event(events, NoteSaved)
    assert saved.reason == "recent"
    _, score = best_alignment(decode_to_array(saved.path), as_float(spoken["ana"]))
    assert score >= 0.95


def test_catch_note_arms_and_times_out_when_nothing_plays(pulse: PulseRig, tmp_path: Path) -> None:
    import dataclasses

    settings = Settings(notes=dataclasses.replace(NoteSettings(), catch_timeout_s=1.5))
    with Recorder(settings, sessions_root=tmp_path / "s") as recorder:
        recorder.start_notes(ClipFormat(tmp_path, "mp3", "note-%H-%M-%S"))
        events = collect(recorder)
        assert recorder.catch_state is CatchState.IDLE
        recorder.catch_note()
        armed = wait_for_event(events, NoteArmed, 5)
        assert armed.timeout_s == 1.5
        assert [recorder.catch_state] == [CatchState.ARMED]
        timed_out = wait_for_event(events, NoteTimedOut, 5)
        assert timed_out.timeout_s == 1.5
        assert recorder.catch_state is CatchState.IDLE
    assert not list(tmp_path.glob("*.mp3"))


def test_save_last_writes_what_was_just_played(
    recorder: Recorder, pulse: PulseRig, spoken: dict[str, npt.NDArray[np.int16]], tmp_path: Path
) -> None:
    recorder.start_notes(ClipFormat(tmp_path, "wav", "note-%H-%M-%S"))
    events = collect(recorder)
    time.sleep(4.0)  # the ring must hold more than the 8 s asked for
    pulse.play(write_wav(tmp_path / "bob.wav", spoken["bob"])).wait(timeout=20)
    time.sleep(0.3)
    path = recorder.save_last(8.0)
    recorded = decode_to_array(path)
    assert len(recorded) / RATE == pytest.approx(8.0, abs=0.1)
    _, score = best_alignment(recorded, as_float(spoken["bob"]))
    assert score >= 0.99
    saved = wait_for_event(events, RecordingSaved)
    assert saved.path == path and saved.replay, "told apart from a started recording"
    # Asked for more than the ring has heard: the event gives the file's real length.
    longer = recorder.save_last(600.0)
    heard = len(decode_to_array(longer)) / RATE
    assert 8.0 < heard < 60.0
    assert wait_for_event(events, RecordingSaved).seconds == pytest.approx(heard, abs=0.05)


def test_split_test_prints_the_notes_of_a_recording(
    loopcap: Loopcap, spoken: dict[str, npt.NDArray[np.int16]], tmp_path: Path
) -> None:
    first = np.concatenate([spoken["bob"], room_tone(2.0), spoken["bob"]])
    second = spoken["ana"]
    recording = np.concatenate([silence(1.0), first, silence(1.2), second, silence(1.0)])
    path = write_wav(tmp_path / "recording.wav", recording)
    result = loopcap.run("note", "--split-test", str(path))
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert "2 note(s)" in header and "player silence" in header
    assert len(rows) == 2
    starts = [1.0, 1.0 + len(first) / RATE + 1.2]
    for row, start, played in zip(rows, starts, (first, second), strict=True):
        onset = start + spoken_extent(played)[0] / RATE
        first_sound = row.split("first sound ")[1].split(",")[0]
        minutes, seconds = first_sound.split(":")
        assert int(minutes) * 60 + float(seconds) == pytest.approx(onset, abs=0.05)
        assert row.endswith("ended by player silence")
    # The old fixed rule, asked for explicitly, cuts the first note at its 2 s pause.
    fixed = loopcap.run("note", "--split-test", str(path), "--silence", "1.5")
    assert "3 note(s)" in fixed.stdout.splitlines()[0]


def test_split_test_of_a_missing_file_is_one_clear_line(loopcap: Loopcap, tmp_path: Path) -> None:
    result = loopcap.run("note", "--split-test", str(tmp_path / "nothing.wav"))
    assert result.returncode == 1
    assert_one_clear_line(result.stderr)
    assert "nothing.wav: no such file" in result.stderr


# -----------------------------------------------------------------------------------------------
# A real player: headless Chromium autoplays realistic notes at 2x


@pytest.mark.skipif(bool(tools_missing()) or CHROMIUM is None, reason="needs the corpus tools")
def test_notes_from_a_browser_at_double_speed_come_out_whole_and_apart(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two notes with thinking pauses of 2-2.4 s (1-1.2 s at 2x), 1.2 s apart, a notification
    sound from another app in between: two files, each the whole note from its first syllable."""
    corpus = Corpus(tmp_path_factory.getbasetemp() / "corpus")
    notes = [corpus.note(3), corpus.note(4)]  # festival's voice; real recorded words
    rate = 2.0
    out = tmp_path / "notes"
    out.mkdir()
    for _ in range(2):
        for old in out.iterdir():
            old.unlink()
        proc = loopcap.start("note", "--count", "2", "--format", "wav", "--out", str(out),
                             "--timeout", "90")  # fmt: skip
        wait_until_listening(pulse)
        recording = record_chain(
            pulse.environ(), notes, [1.2], rate=rate, workdir=tmp_path, lead_s=0.5,
            extras=[Extra(corpus.sound("bell.oga"), 0, 0.5)],
        )  # fmt: skip
        stdout, stderr = proc.communicate(timeout=90)
        # A browser starved of CPU drops out inside a note (no real note has exact zeros in
        # it); then what loopcap heard is not what the test meant to play: once more.
        if not player_dropouts(recording):
            break
    else:
        pytest.skip("the browser's audio dropped out twice: the machine is too busy to judge")
    assert proc.returncode == 0, stderr
    files = sorted(out.iterdir())
    assert len(files) == 2, (stdout, stderr)
    for path, placed in zip(files, recording.placed, strict=True):
        saved = decode_to_array(path)
        note = placed.note
        played = loudness_envelope(decode(note.path, RATE, 1, tempo=rate), RATE)
        at, fit = envelope_match(loudness_envelope(saved, RATE), played[: len(played) - 50])
        assert fit > 0.8, fit
        first_syllable = at / 100 + note.first_s / rate
        assert first_syllable == pytest.approx(NOTES.preroll_s, abs=0.05)
        spoken = (note.last_s - note.first_s) / rate
        extra = len(saved) / RATE - (spoken + NOTES.preroll_s + NOTES.tail_s)
        assert -0.1 <= extra <= 0.35, extra


def player_dropouts(recording: ChainRecording) -> bool:
    """Runs of 60 ms of exact zeros inside a played note's speech."""
    mono = np.abs(recording.pcm).max(axis=1)
    window = RATE // 50
    for placed in recording.placed:
        part = mono[round(placed.first_s * RATE) : round(placed.last_s * RATE)]
        usable = len(part) // window * window
        silent = ~part[:usable].reshape(-1, window).any(axis=1)
        if np.convolve(silent, np.ones(3), mode="valid").max(initial=0) >= 3:
            return True
    return False
