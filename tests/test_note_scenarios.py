"""Named scenarios from the voice-note corpus, as a player outputs them, through the segmenter.

Realistic notes (tests/corpus.py: several voices, thinking pauses, room tone, Ogg Opus 16 kHz)
are decoded and time-stretched as a player would (ffmpeg's atempo, pitch kept), with a player's
digital silence between them and other apps' sounds mixed in, then segmented exactly as while
listening. The full score over 45 notes played by a real browser is bench/bench_notes.py; the
real browser itself is exercised by test_note_capture.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from capture.notes.detector import NoteDetector, NoteEnded, NoteStarted, split_recording
from capture.settings import NoteSettings
from capture.vad import speech_detector
from tests.corpus import (
    BLIPS,
    PLAY_RATE,
    RING,
    Corpus,
    decode,
    found_notes,
    music_bed,
    render_chain,
    score,
    tools_missing,
)

pytestmark = pytest.mark.skipif(
    bool(tools_missing()), reason=f"needs: apt install {' '.join(tools_missing())}"
)

# Notes of the corpus (seed 13) and what makes each one a case:
LONG_PAUSES = 0  # espeak-ng en-us, pauses 2.38 / 1.65 / 0.31 s, pink room tone -51 dBFS
FESTIVAL = 3  # festival's kal voice, a 2 s pause, pink -55 dBFS
RECORDED = 4  # real recorded words, pauses 0.7 / 1.3 / 2.4 s, brown -60 dBFS
LOUD_ROOM = 12  # espeak-ng scotland, a 2.4 s pause, pink room tone -48 dBFS (above -50 dBFS)
SILENT_ROOM = 8  # festival, no room tone at all: its pauses decode to near-zero, not zero
SOFT_START = 14  # real recorded words, no room tone, the first word begins with a soft "f"


@dataclass(frozen=True)
class Scenario:
    notes: tuple[int, ...]
    gaps_s: tuple[float, ...]
    rate: float = 1.0
    others: tuple[tuple[str, int, float], ...] = ()  # sound, after note i, seconds into the gap


SCENARIOS = {
    "thinking pauses of 2.4 s stay inside their notes at 1x": Scenario(
        (LONG_PAUSES, LOUD_ROOM, RECORDED), (1.0, 1.5)
    ),
    "back-to-back notes 1 s apart split at 2x": Scenario(
        (FESTIVAL, RECORDED, LONG_PAUSES), (1.0, 1.0), rate=2.0
    ),
    "room tone above -50 dBFS and none at all, at 1.5x": Scenario(
        (LOUD_ROOM, SILENT_ROOM, FESTIVAL), (1.2, 2.0), rate=1.5
    ),
    "notification sounds and a ring in the gaps are no notes": Scenario(
        (FESTIVAL, LOUD_ROOM, SILENT_ROOM),
        (3.0, 3.5),
        others=((BLIPS[0], 0, 1.0), (BLIPS[1], 0, 2.5), (RING, 1, 1.0)),
    ),
    "music from another app between notes is no note": Scenario(
        (RECORDED, FESTIVAL), (14.0,), rate=1.5, others=(("music", 0, 1.0),)
    ),
    # The soft "f" of "front" (-64 ... -54 dBFS for 90 ms before the vowel) in a note without
    # room tone is its onset, and the "t" of its last word, 100 ms after the vowel, its end.
    "a recorded word starting with a soft consonant, no room tone": Scenario(
        (FESTIVAL, SOFT_START), (1.5,)
    ),
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("corpus"))


def other_sound(corpus: Corpus, name: str) -> np.ndarray:
    if name == "music":
        return music_bed(12.0, seed=1)
    return decode(corpus.sound(name), PLAY_RATE, 2)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name: str, corpus: Corpus) -> None:
    scenario = SCENARIOS[name]
    notes = [corpus.note(i) for i in scenario.notes]
    # Where each gap begins, to place the other apps' sounds: render once without them.
    _, placed = render_chain(notes, scenario.gaps_s, rate=scenario.rate)
    ends = [p.at_s + p.note.duration_s / scenario.rate for p in placed]
    extras = [
        (ends[after] + into, other_sound(corpus, sound)) for sound, after, into in scenario.others
    ]
    pcm, placed = render_chain(notes, scenario.gaps_s, rate=scenario.rate, extras=extras)
    found = split_recording(pcm, PLAY_RATE, NoteSettings())
    result = score(found_notes(found), placed)
    assert (result.exact, result.false_notes) == (len(notes), 0), result.problems


@pytest.mark.parametrize("index", [FESTIVAL, RECORDED])
def test_speech_over_music_already_playing_starts_a_note_at_once(
    index: int, corpus: Corpus
) -> None:
    # Another app's music bed (-22 dBFS) has played for 4 s when the note starts over it, and
    # stops 1 s after the note: the whole mix, as loopback hears it. The note is reported within
    # 0.6 s of its first syllable (not once the noise floor has taken the music in, ~20 s), from
    # within 0.15 s of it (the pre-roll holds the rest), and holds all of its speech.
    note = corpus.note(index)
    lead_s, bed_from_s = 5.0, 1.0
    bed = music_bed(lead_s - bed_from_s + note.duration_s + 1.0, seed=3)
    pcm, (placed,) = render_chain([note], [], lead_s=lead_s, extras=[(bed_from_s, bed)])
    settings = NoteSettings()
    detector = NoteDetector(
        settings, PLAY_RATE, speech_detector(settings.vad, PLAY_RATE, settings.vad_threshold)
    )
    started: list[float] = []
    notes = []
    step = PLAY_RATE // 10
    for at in range(0, len(pcm), step):
        for event in detector.feed_block(pcm[at : at + step], at):
            if isinstance(event, NoteStarted):
                started.append((at + step) / PLAY_RATE)
            elif isinstance(event, NoteEnded):
                notes.append(event.note)
    notes += [e.note for e in detector.finish() if isinstance(e, NoteEnded)]
    assert len(started) == 1 and len(notes) == 1, (started, notes)
    assert started[0] - placed.first_s <= 0.6
    (found,) = found_notes(notes)
    assert abs(found.onset_s - placed.first_s) <= 0.15
    assert found.start_s <= placed.first_s and found.last_sound_s >= placed.last_s


def test_corpus_is_deterministic(corpus: Corpus, tmp_path: Path) -> None:
    again = Corpus(tmp_path).note(FESTIVAL)
    first = corpus.note(FESTIVAL)
    assert (again.first_s, again.last_s, again.pauses_s, again.room_tone) == (
        first.first_s,
        first.last_s,
        first.pauses_s,
        first.room_tone,
    )
