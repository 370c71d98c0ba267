"""Note detection and the catch-note decision, fed exact sequences: no clock, no sleeping."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.errors import NoteSettingsError, SettingsError
from capture.events import CatchState
from capture.levels import QUIETEST_DB, SILENCE_DB, levels_db
from capture.notes.detector import (
    CatchArmed,
    CatchPlanner,
    CatchReady,
    CatchTimedOut,
    CatchWaiting,
    Note,
    NoteDetector,
    NoteEnded,
    NoteEvent,
    NoteStarted,
)
from capture.notes.ring import ReplayRing
from capture.settings import NoteSettings, settings_from_dict

# Level-sequence tests run on a 1 kHz clock: one 20 ms window is 20 frames, timing stays exact.
LEVEL_RATE = 1000
WINDOW = 20
QUIET = -65.0
LOUD = -20.0
PLAYER_SILENCE_WINDOWS = 40  # 0.8 s of digital silence ends a note
MAX_PAUSE_WINDOWS = 150  # 3 s of anything quiet ends it
MIN_NOTE_WINDOWS = 15  # 0.3 s


def make_detector(rate: int = LEVEL_RATE, **overrides: float) -> NoteDetector:
    """The detector with the default settings, but no hangover unless asked: the exact frames
    the other rules give are checked (test_hangover_* check the hangover)."""
    overrides.setdefault("hangover_s", 0.0)
    return NoteDetector(NoteSettings(**overrides), rate)  # type: ignore[arg-type]


def levels(*segments: tuple[float, float]) -> list[float]:
    """Levels for (seconds, dB) segments on the 1 kHz clock."""
    out: list[float] = []
    for seconds, db in segments:
        out += [db] * round(seconds * 1000 / WINDOW)
    return out


def feed_levels_with(
    det: NoteDetector, values: list[float], speech: list[bool], start: int = 0
) -> list[NoteEvent]:
    """Levels with a VAD's verdict per window, in chunks of 7."""
    events: list[NoteEvent] = []
    for i in range(0, len(values), 7):
        events += det.feed_levels(values[i : i + 7], start + i * WINDOW, speech[i : i + 7])
    return events


def feed_levels(det: NoteDetector, values: list[float], chunk: int = 7) -> list[NoteEvent]:
    events: list[NoteEvent] = []
    for i in range(0, len(values), chunk):
        events += det.feed_levels(values[i : i + chunk], i * WINDOW)
    return events


def ended(events: list[NoteEvent]) -> list[Note]:
    return [e.note for e in events if isinstance(e, NoteEnded)]


# ---------------------------------------------------------------------------------------------
# The level of a block


def test_levels_of_known_signals() -> None:
    square = np.full((960, 2), 32767, dtype=np.int16)
    square[::2] = -32768
    assert levels_db(square, 960)[0] == pytest.approx(0.0, abs=0.01)
    t = np.arange(960 * 3) / 48000
    sine = (0.1 * 32768 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    np.testing.assert_allclose(levels_db(sine, 960), -20 - 3.01, atol=0.05)
    assert levels_db(np.zeros((960, 2), dtype=np.int16), 960)[0] == SILENCE_DB


def test_levels_cover_all_channels_and_whole_windows_only() -> None:
    block = np.zeros((2500, 2), dtype=np.int16)
    block[:, 1] = 3277  # one channel at -20 dBFS, the other silent: -23 dBFS over both
    out = levels_db(block, 1000)
    assert len(out) == 2
    np.testing.assert_allclose(out, -20 - 3.01, atol=0.05)


# ---------------------------------------------------------------------------------------------
# The detector on level sequences


def test_one_note_with_pre_roll_and_tail() -> None:
    det = make_detector()
    events = feed_levels(det, levels((3, QUIET), (2, LOUD), (0.8, QUIET), (2, LOUD), (3, QUIET)))
    assert events == [
        NoteStarted(onset_frame=3000, start_frame=2750),
        NoteEnded(Note(start_frame=2750, end_frame=8100, onset_frame=3000, last_sound_frame=7800)),
    ]


def test_note_started_once_the_minimum_length_has_sounded() -> None:
    det = make_detector()
    events = feed_levels(det, levels((1, QUIET), (0.28, LOUD)), chunk=1)
    assert events == []
    assert det.current_onset() is None  # not a note yet
    events = feed_levels(det, levels((1, QUIET), (0.3, LOUD)), chunk=1)[-1:]
    assert events == [NoteStarted(1000, 750)]
    assert det.current_onset() == 1000


def test_notification_blip_is_not_a_note() -> None:
    det = make_detector()
    events = feed_levels(det, levels((2, QUIET), (0.15, LOUD), (3, QUIET)))
    assert events == []
    assert det.recent_note(5000, 10) is None


def test_minimum_length_is_a_setting() -> None:
    det = make_detector(min_note_s=0.1)
    notes = ended(feed_levels(det, levels((2, QUIET), (0.15, LOUD), (3, QUIET))))
    assert [n.onset_frame for n in notes] == [2000]


def test_thinking_pause_with_room_tone_holds_up_to_max_pause() -> None:
    # A 2.9 s pause that still carries the microphone's room tone is inside the note...
    pause_ok = levels((1, QUIET), (1, LOUD), (2.9, QUIET), (1, LOUD), (3, QUIET))
    assert len(ended(feed_levels(make_detector(), pause_ok))) == 1
    # ...3.5 s of it is not.
    gap = levels((1, QUIET), (1, LOUD), (3.5, QUIET), (1, LOUD), (3, QUIET))
    notes = ended(feed_levels(make_detector(), gap))
    assert [(n.onset_frame, n.last_sound_frame) for n in notes] == [(1000, 2000), (5500, 6500)]


def test_player_silence_between_notes_splits_them_after_0_8_s() -> None:
    # A player outputs exact zeros between notes: 0.9 s of them is a boundary, at any speed.
    chain = levels((1, SILENCE_DB), (1, LOUD), (0.2, QUIET), (0.9, SILENCE_DB), (1, LOUD))
    det = make_detector()
    notes = ended(feed_levels(det, chain + levels((0.9, SILENCE_DB))))
    assert [(n.onset_frame, n.last_sound_frame) for n in notes] == [(1000, 2000), (3100, 4100)]
    # The first one was known to be over 0.8 s into the zeros, with its 0.3 s tail kept.
    assert notes[0].end_frame == 2300
    # A dropout shorter than that (a player that could not keep up) does not split a note.
    dropout = levels((1, SILENCE_DB), (1, LOUD), (0.7, SILENCE_DB), (1, LOUD), (1, SILENCE_DB))
    assert len(ended(feed_levels(make_detector(), dropout))) == 1


def test_fixed_silence_overrides_the_automatic_end() -> None:
    gap = levels((1, QUIET), (1, LOUD), (3.5, QUIET), (1, LOUD), (2, QUIET))
    patient = make_detector(silence_s=4)
    assert len(ended(feed_levels(patient, gap) + patient.finish())) == 1
    # With a fixed silence, player silence is silence like any other: 0.8 s of zeros holds.
    zeros = levels((1, QUIET), (1, LOUD), (0.8, SILENCE_DB), (1, LOUD), (2, QUIET))
    assert len(ended(feed_levels(make_detector(silence_s=1.5), zeros))) == 1
    assert len(ended(feed_levels(make_detector(), zeros) + make_detector().finish())) >= 1


def test_player_stopped_cue_ends_the_note_at_once() -> None:
    det = make_detector()
    assert not ended(feed_levels(det, levels((1, QUIET), (1, LOUD), (0.2, QUIET))))
    notes = ended(det.player_stopped(2100))
    assert [(n.onset_frame, n.last_sound_frame, n.end_frame) for n in notes] == [(1000, 2000, 2200)]
    assert det.current_onset() is None


def test_speech_verdicts_keep_blips_and_music_out() -> None:
    """With a VAD's verdicts: a ring and music are not notes; speech after a blip starts at
    the speech, not at the blip."""
    det = make_detector()
    ring = levels((1, SILENCE_DB), (1.5, LOUD), (1, SILENCE_DB))
    assert not feed_levels_with(det, ring, [False] * len(ring))
    music = levels((20, -30))
    assert not feed_levels_with(det, music, [False] * len(music), start=len(ring) * WINDOW)
    det = make_detector()
    blip_then_speech = levels((1, QUIET), (0.4, LOUD), (1, QUIET), (2, LOUD), (0.9, SILENCE_DB))
    verdicts = [i >= 120 for i in range(len(blip_then_speech))]  # speech from 2.4 s
    notes = ended(feed_levels_with(det, blip_then_speech, verdicts))
    assert [(n.onset_frame, n.last_sound_frame) for n in notes] == [(2400, 4400)]


def test_a_notification_right_after_a_note_is_not_part_of_it() -> None:
    # 0.3 s into the player's silence after a note, another app's notification sounds: it does
    # not extend the note; speech after a player's dropout of the same length does.
    bell = levels((1, SILENCE_DB), (2, LOUD), (0.3, SILENCE_DB), (0.8, -30), (1, SILENCE_DB))
    verdicts = [50 <= i < 150 for i in range(len(bell))]
    notes = ended(feed_levels_with(make_detector(), bell, verdicts))
    assert [(n.onset_frame, n.last_sound_frame, n.end_frame) for n in notes] == [(1000, 3000, 3300)]
    dropout = levels((1, SILENCE_DB), (1, LOUD), (0.3, SILENCE_DB), (1, LOUD), (1, SILENCE_DB))
    verdicts = [i >= 50 and not 100 <= i < 115 for i in range(len(dropout))]
    notes = ended(feed_levels_with(make_detector(), dropout, verdicts))
    assert [(n.onset_frame, n.last_sound_frame) for n in notes] == [(1000, 3300)]


def test_a_short_word_just_before_speech_is_where_it_begins() -> None:
    # "Hi, ..." : 0.1 s with a little speech heard in it, 0.2 s before the rest.
    timeline = levels((1, QUIET), (0.1, LOUD), (0.2, QUIET), (1.5, LOUD), (0.9, SILENCE_DB))
    verdicts = [50 <= i < 52 or i >= 65 for i in range(len(timeline))]
    notes = ended(feed_levels_with(make_detector(), timeline, verdicts))
    assert [n.onset_frame for n in notes] == [1000]


def test_onset_against_the_notes_own_room_tone() -> None:
    # Room tone at -49 dBFS is above the -50 dBFS that may start a note: the onset is the
    # first syllable, 10 dB above the note's own floor, not where the room tone began.
    note = levels((1, SILENCE_DB), (0.4, -49), (1, LOUD), (1, -49), (1, LOUD), (0.3, -49))
    notes = ended(feed_levels(make_detector(), note + levels((0.9, SILENCE_DB))))
    assert [(n.onset_frame, n.last_sound_frame) for n in notes] == [(1400, 4400)]


def test_hangover_keeps_a_final_consonant_lost_in_the_room_tone() -> None:
    # Speech, then room tone: the last sound is held 0.12 s past the last syllable heard (the
    # "t" of "left" after its closure may not stand out from the room tone)...
    note = levels((1, SILENCE_DB), (0.4, QUIET), (1.5, LOUD), (0.6, QUIET))
    notes = ended(feed_levels(make_detector(hangover_s=0.12), note + levels((0.9, SILENCE_DB))))
    assert [(n.onset_frame, n.last_sound_frame, n.end_frame) for n in notes] == [(1400, 3020, 3320)]
    # ...but never into the player's silence after the note.
    note = levels((1, SILENCE_DB), (0.4, QUIET), (1.5, LOUD), (0.04, QUIET))
    notes = ended(feed_levels(make_detector(hangover_s=0.12), note + levels((0.9, SILENCE_DB))))
    assert [n.last_sound_frame for n in notes] == [2940]
    assert NoteSettings().hangover_s == 0.12


def test_no_room_tone_a_soft_first_consonant_is_the_onset() -> None:
    # Between the words only the codec's rounding (-112 dBFS). A soft "f" 35 dB under the
    # speech, 80 ms before the vowel, is where the note begins; a breath 45 dB under it is not.
    def note(first: float, between: float) -> list[float]:
        return levels(
            (1, SILENCE_DB), (0.3, between), (0.08, first), (0.8, LOUD), (0.5, between),
            (0.8, LOUD), (0.3, between), (0.9, SILENCE_DB),
        )  # fmt: skip

    codec = -112.0
    assert [n.onset_frame for n in ended(feed_levels(make_detector(), note(-55, codec)))] == [1300]
    assert [n.onset_frame for n in ended(feed_levels(make_detector(), note(-65, codec)))] == [1380]
    # With room tone, a consonant 35 dB under the speech is under the room tone's reach.
    assert [n.onset_frame for n in ended(feed_levels(make_detector(), note(-55, -62)))] == [1380]


def test_a_first_syllable_before_a_short_dip_is_the_onset() -> None:
    # "Hi," for 80 ms, 20 ms of room tone, then the rest: the VAD only heard the rest, the
    # note still begins at "Hi". A quiet click before such a dip does not.
    def note(first: float) -> list[float]:
        return levels(
            (1, QUIET), (0.08, first), (0.02, QUIET), (0.8, LOUD), (0.5, QUIET), (0.8, LOUD),
            (0.9, SILENCE_DB),
        )  # fmt: skip

    verdicts = [i >= 60 for i in range(len(note(LOUD)))]
    assert [
        n.onset_frame for n in ended(feed_levels_with(make_detector(), note(LOUD), verdicts))
    ] == [1000]
    assert [
        n.onset_frame for n in ended(feed_levels_with(make_detector(), note(-50), verdicts))
    ] == [1100]


def test_speech_over_a_sound_already_playing_starts_a_note_there() -> None:
    # Music (no speech heard) for 3 s, then speech over it for 2 s, the music on for 1 s more.
    bed = levels((1, SILENCE_DB), (6, -30), (0.9, SILENCE_DB))
    verdicts = [200 <= i < 300 for i in range(len(bed))]
    events = feed_levels_with(make_detector(), bed, verdicts)
    (started,) = [e for e in events if isinstance(e, NoteStarted)]
    assert started.onset_frame == 4000 - 40  # Silero hears speech ~40 ms after it begins
    assert [n.onset_frame for n in ended(events)] == [3960]
    # Music in which the VAD now and then hears a moment of "speech" is still no note.
    flickers = [i >= 125 and i % 25 < 3 for i in range(len(bed))]
    assert not ended(feed_levels_with(make_detector(), bed, flickers))


def test_threshold_never_below_the_floor_setting() -> None:
    # Digital silence: the adaptive threshold would be -110 dB; quiet hiss must not be a note.
    det = make_detector()
    assert not feed_levels(det, levels((2, SILENCE_DB), (2, -55), (2, SILENCE_DB)))
    assert det.threshold_db == -50.0
    hiss = levels((2, SILENCE_DB), (2, -55), (2, SILENCE_DB))
    assert ended(feed_levels(make_detector(min_threshold_db=-60), hiss))
    # ...while a quiet voice at -45 dBFS is a note.
    assert ended(feed_levels(make_detector(), levels((2, SILENCE_DB), (2, -45), (2, -120))))


def test_threshold_follows_a_raised_noise_floor() -> None:
    det = make_detector()
    # A hum at -40 dB for 25 s: at first a (long) note, then the floor.
    hum = feed_levels(det, levels((25, -40.0)))
    assert det.noise_floor_db == pytest.approx(-40.0, abs=0.5)
    assert det.threshold_db == pytest.approx(-30.0, abs=0.5)
    assert ended(hum)[0].onset_frame == 0
    assert ended(hum)[0].last_sound_frame <= 20_000
    # Speech over the hum is a note; the hum between notes is not.
    speech = [LOUD if (i // 50) % 3 else -40.0 for i in range(200)]  # 1 s off, 2 s on, 1 s off
    later = det.feed_levels(speech + levels((4, -40.0)), 25_000)
    notes = ended(later)
    assert [(n.onset_frame, n.last_sound_frame) for n in notes] == [(26_000, 28_000)]


def test_hysteresis_keeps_a_fading_note() -> None:
    # Onset threshold -50 dB; -52 dB still counts as sound with 3 dB hysteresis, not without.
    fading = levels((1, -75), (0.5, -45), (0.5, -75), (0.5, -45), (2, -52), (0.9, SILENCE_DB))
    assert [n.last_sound_frame for n in ended(feed_levels(make_detector(), fading))] == [4500]
    no_hyst = make_detector(hysteresis_db=0)
    assert [n.last_sound_frame for n in ended(feed_levels(no_hyst, fading))] == [2500]


def test_pre_roll_never_reaches_into_the_previous_note() -> None:
    det = make_detector(silence_s=0.5, preroll_s=0.4, tail_s=0.3)
    notes = ended(feed_levels(det, levels((1, QUIET), (1, LOUD), (0.6, QUIET), (1, LOUD))))
    notes += ended(det.finish())
    assert len(notes) == 2
    assert notes[0].end_frame == 2300
    assert notes[1].onset_frame == 2600
    assert notes[1].start_frame == 2300  # not 2200
    assert notes[1].end_frame == 3600  # listening stopped there: no tail beyond it


def test_pre_roll_starts_no_earlier_than_the_stream() -> None:
    det = make_detector()
    events = det.feed_levels(levels((1, LOUD)), 100)
    assert events == [NoteStarted(100, 100)]


def test_tail_longer_than_silence_is_refused() -> None:
    with pytest.raises(NoteSettingsError, match=r"notes\.tail_s"):
        make_detector(tail_s=2.0, silence_s=1.5)


@pytest.mark.parametrize(
    ("key", "value"),
    [("silence_s", -1), ("min_threshold_db", 10), ("catch_timeout_s", 10**9), ("window_ms", "x")],
)
def test_absurd_settings_are_named_errors(key: str, value: object) -> None:
    with pytest.raises(SettingsError, match=f"notes.{key}"):
        settings_from_dict({"notes": {key: value}})


@dataclass(frozen=True)
class Burst:
    """Sound segments separated by pauses shorter than the silence, in windows."""

    sounds: tuple[int, ...]
    pauses: tuple[int, ...]
    gap_before: int

    @property
    def extent(self) -> int:
        return sum(self.sounds) + sum(self.pauses)


bursts = st.builds(
    lambda sounds, pauses, gap: Burst(tuple(sounds), tuple(pauses[: len(sounds) - 1]), gap),
    st.lists(st.integers(1, 150), min_size=1, max_size=4),
    st.lists(st.integers(1, MAX_PAUSE_WINDOWS - 1), min_size=3, max_size=3),
    st.integers(PLAYER_SILENCE_WINDOWS, 300),
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(bursts, min_size=1, max_size=5),
    st.floats(-45, -11),
    st.lists(st.floats(0, 6), min_size=1),
    st.lists(st.floats(QUIETEST_DB, -62), min_size=1),
    st.integers(1, 40),
)
def test_each_burst_is_one_note_in_order(
    plan: list[Burst], speech_db: float, spread: list[float], quiet: list[float], chunk: int
) -> None:
    """Notes as a player plays them: digital silence between them, pauses inside them that
    still carry something (room tone, codec noise), speech within a few dB of its level."""
    values: list[float] = []
    expected: list[tuple[int, int]] = []
    for burst in plan:
        values += [SILENCE_DB] * burst.gap_before
        onset = len(values)
        for i, sound in enumerate(burst.sounds):
            values += [speech_db + spread[(len(values) + j) % len(spread)] for j in range(sound)]
            if i < len(burst.pauses):
                values += [quiet[len(values) % len(quiet)]] * burst.pauses[i]
        if burst.extent >= MIN_NOTE_WINDOWS:
            expected.append((onset * WINDOW, len(values) * WINDOW))
    values += [SILENCE_DB] * PLAYER_SILENCE_WINDOWS
    det = make_detector()
    events = feed_levels(det, values, chunk)
    notes = ended(events)
    # Exactly one note per burst of at least the minimum length; pauses never split one.
    assert [(n.onset_frame, n.last_sound_frame) for n in notes] == expected
    starts = [e for e in events if isinstance(e, NoteStarted)]
    assert [s.onset_frame for s in starts] == [n.onset_frame for n in notes]
    for before, after in itertools.pairwise(notes):
        assert before.end_frame <= after.start_frame
    for note in notes:
        assert note.start_frame <= note.onset_frame < note.last_sound_frame <= note.end_frame
        assert note.onset_frame - note.start_frame <= 250
        assert note.end_frame - note.last_sound_frame == 300


# ---------------------------------------------------------------------------------------------
# The detector on synthetic audio (48 kHz stereo, 40 ms blocks)

RATE = 48000
rng = np.random.default_rng(20240611)


def noise(seconds: float, db: float) -> np.ndarray:
    out: np.ndarray = rng.standard_normal((round(seconds * RATE), 2)) * 32768 * 10 ** (db / 20)
    return out


def tone(seconds: float, db: float, hz: float = 220.0) -> np.ndarray:
    """A tone with a 10 ms attack and decay, as a sung syllable has."""
    t = np.arange(round(seconds * RATE)) / RATE
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    wave = np.sin(2 * np.pi * hz * t) * ramp * 32768 * 10 ** (db / 20) * np.sqrt(2)
    return np.stack([wave, wave], axis=1)


def pcm(*parts: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.clip(np.concatenate(parts), -32768, 32767).astype(np.int16)
    return out


def run_audio(
    audio: np.ndarray, block: int = 1920, **overrides: float
) -> tuple[NoteDetector, list[NoteEvent]]:
    det = make_detector(RATE, **overrides)
    events: list[NoteEvent] = []
    for i in range(0, len(audio), block):
        events += det.feed_block(audio[i : i + block], i)
    return det, events


def speech(db: float = LOUD) -> np.ndarray:
    """A spoken-like clip: 2 s, a 0.8 s pause with the room tone of the microphone, 1.5 s."""
    return np.concatenate([noise(2, db), noise(0.8, -75), noise(1.5, db)])


def assert_near(frame: int, seconds: float, tolerance_s: float = 0.02) -> None:
    assert abs(frame / RATE - seconds) <= tolerance_s, (frame / RATE, seconds)


def test_two_noise_notes_over_a_quiet_floor() -> None:
    floor = -60.0
    audio = pcm(
        noise(2, floor), speech() + noise(4.3, floor), noise(4, floor), speech(), noise(3, floor)
    )
    _, events = run_audio(audio)
    notes = ended(events)
    assert len(notes) == 2
    assert_near(notes[0].onset_frame, 2.0)
    assert_near(notes[0].last_sound_frame, 6.3)
    assert_near(notes[1].onset_frame, 10.3)
    assert_near(notes[1].last_sound_frame, 14.6)
    assert_near(notes[1].start_frame, 10.05)
    assert_near(notes[1].end_frame, 14.9)


def test_tones_with_pauses() -> None:
    syllables = [tone(0.3, -30), noise(0.5, -75), tone(0.5, -30, 330)] * 3
    audio = pcm(np.zeros((RATE, 2)), *syllables, np.zeros((3 * RATE, 2)))
    _, events = run_audio(audio)
    notes = ended(events)
    assert len(notes) == 1
    assert_near(notes[0].onset_frame, 1.0)
    assert_near(notes[0].last_sound_frame, 1.0 + 3 * 1.3)


def test_music_bed_under_speech() -> None:
    # A bed that plays on its own for 22 s: heard as sound at first, then it is the floor and
    # the speech over it comes out as its own notes.
    bed = noise(40, -35)
    voice = np.zeros_like(bed)
    for start in (22, 31):
        at = start * RATE
        clip = speech(-18)
        voice[at : at + len(clip)] = clip
    _, events = run_audio(pcm(bed + voice))
    notes = ended(events)
    assert len(notes) == 3
    assert notes[0].onset_frame == 0
    assert notes[0].last_sound_frame < 20.5 * RATE
    assert_near(notes[1].onset_frame, 22.0)
    assert_near(notes[1].last_sound_frame, 26.3, 0.1)
    assert_near(notes[2].onset_frame, 31.0)
    assert_near(notes[2].last_sound_frame, 35.3, 0.1)


def test_music_bed_inside_a_note_is_part_of_it() -> None:
    clip = noise(8, -35)
    clip[RATE : 3 * RATE] += noise(2, -18)
    audio = pcm(noise(2, -60), clip, noise(3, -60))
    notes = ended(run_audio(audio)[1])
    assert len(notes) == 1
    assert_near(notes[0].onset_frame, 2.0)
    assert_near(notes[0].last_sound_frame, 10.0)


def test_blip_in_the_gap_between_notes() -> None:
    # Between the notes the player is silent (zeros); another app's blip sounds in the gap.
    floor = -60.0
    gap = np.zeros((4 * RATE, 2))
    gap[round(1.9 * RATE) : round(2.05 * RATE)] += noise(0.15, -15)
    audio = pcm(noise(1, floor), speech(), gap, speech(), np.zeros((RATE, 2)))
    notes = ended(run_audio(audio)[1])
    assert len(notes) == 2
    assert_near(notes[0].last_sound_frame, 5.3)
    assert_near(notes[1].onset_frame, 9.3)


@settings(max_examples=25, deadline=None)
@given(
    lead=st.integers(RATE // 2, 3 * RATE),
    db=st.floats(-45, -10),
    block=st.sampled_from([480, 1920, 1999, 4096]),
)
def test_onset_within_50_ms(lead: int, db: float, block: int) -> None:
    # The microphone's room tone before the speech, as in its pause.
    audio = pcm(noise(lead / RATE, -75), speech(db), np.zeros((RATE, 2)))
    notes = ended(run_audio(audio, block)[1])
    assert len(notes) == 1
    # What is saved begins the pre-roll before the true onset, give or take a window.
    assert abs(notes[0].start_frame + 0.25 * RATE - lead) <= 0.05 * RATE
    assert abs(notes[0].onset_frame - lead) <= 0.02 * RATE


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=40))
def test_block_sizes_do_not_change_what_is_found(sizes: list[int]) -> None:
    audio = pcm(noise(0.5, -60), noise(1, -20), noise(2, -60))
    _, reference = run_audio(audio, block=len(audio))
    det = make_detector(RATE)
    events: list[NoteEvent] = []
    position = 0
    while position < len(audio):
        for size in sizes:
            events += det.feed_block(audio[position : position + size], position)
            position += size
    assert events == reference
    assert det.position == len(audio) // det.window_frames * det.window_frames


# ---------------------------------------------------------------------------------------------
# What the catch-note key does


def press_at(
    timeline: list[float], press_window: int, tail: int = 0, **overrides: float
) -> list[object]:
    """Feed levels window by window, press the key at ``press_window``; all planner events."""
    det = make_detector(LEVEL_RATE, **overrides)
    planner = CatchPlanner(det.settings, LEVEL_RATE)
    out: list[object] = []
    values = timeline + [QUIET] * tail
    for i, level in enumerate(values):
        if i == press_window:
            out += planner.press(det, i * WINDOW)
        events = det.feed_levels([level], i * WINDOW)
        out += planner.feed(events, (i + 1) * WINDOW)
    out.append(planner.state)
    return out


# A note from 2 s to 8 s, then a player's silence.
CLIP = levels((2, QUIET), (3, LOUD), (0.6, QUIET), (2.4, LOUD), (4, SILENCE_DB))


def test_press_while_a_note_plays_takes_it_from_its_onset() -> None:
    out = press_at(CLIP, press_window=200)  # 4 s: 2 s into the clip
    assert out[0] == CatchWaiting(onset_frame=2000, start_frame=1750)
    ready = out[1]
    assert isinstance(ready, CatchReady)
    assert ready.reason == "playing"
    assert (ready.note.start_frame, ready.note.end_frame) == (1750, 8300)
    assert out[2:] == [CatchState.IDLE]


def test_press_in_a_pause_inside_the_note_still_takes_it() -> None:
    out = press_at(CLIP, press_window=260)  # 5.2 s, in the 0.6 s pause
    assert out[0] == CatchWaiting(2000, 1750)
    assert isinstance(out[1], CatchReady)
    assert out[1].reason == "playing"


def test_press_just_after_a_note_saves_it() -> None:
    out = press_at(CLIP, press_window=500)  # 10 s: the note stopped 2 s ago
    assert len(out) == 2
    assert isinstance(out[0], CatchReady)
    assert out[0].reason == "recent"
    assert out[0].note.onset_frame == 2000
    assert out[1] is CatchState.IDLE


def test_press_too_long_after_a_note_arms_and_times_out() -> None:
    out = press_at(CLIP, press_window=600, tail=3000, recent_s=3, catch_timeout_s=20)  # 12 s
    assert out == [CatchArmed(12_000, 32_000), CatchTimedOut(12_000, 32_000), CatchState.IDLE]


def test_armed_catches_the_next_note_and_ignores_a_blip() -> None:
    timeline = levels((3, QUIET), (0.1, LOUD), (5, QUIET)) + CLIP
    out = press_at(timeline, press_window=50)  # 1 s: nothing playing, nothing recent
    assert out[0] == CatchArmed(1000, 61_000)
    assert out[1] == CatchWaiting(onset_frame=10_100, start_frame=9850)
    assert isinstance(out[2], CatchReady)
    assert out[2].reason == "next"
    assert out[2].note.onset_frame == 10_100
    assert out[3] is CatchState.IDLE


def test_a_second_press_while_busy_changes_nothing_and_cancel_disarms() -> None:
    det = make_detector()
    planner = CatchPlanner(det.settings, LEVEL_RATE)
    det.feed_levels(levels((1, QUIET)), 0)
    assert isinstance(planner.press(det, 1000)[0], CatchArmed)
    assert planner.deadline_frame == 61_000
    assert planner.press(det, 1500) == []
    planner.cancel()
    assert planner.state is CatchState.IDLE
    assert planner.deadline_frame is None
    assert planner.feed([], 10**9) == []


def test_catch_from_the_ring_contains_the_start_of_the_note() -> None:
    """The recorder's path: blocks into ring and detector, key 2 s into a 6 s clip."""
    clip = noise(6, -20)
    audio = pcm(noise(3, -60), clip, noise(3, -60))
    ring = ReplayRing(120, RATE, 2)
    det = make_detector(RATE)
    planner = CatchPlanner(det.settings, RATE)
    saved: list[np.ndarray] = []
    for i in range(0, len(audio), 1920):
        block = audio[i : i + 1920]
        ring.append(block, i)
        if i == 5 * RATE:
            planner.press(det, i)
        for event in planner.feed(det.feed_block(block, i), i + len(block)):
            if isinstance(event, CatchReady):
                saved.append(ring.snapshot(event.note.start_frame, event.note.end_frame))
    assert len(saved) == 1
    got = saved[0]
    assert abs(len(got) / RATE - 6.55) <= 0.03  # pre-roll + clip + tail
    onset = round(0.25 * RATE)
    np.testing.assert_array_equal(got[onset : onset + RATE], audio[3 * RATE : 4 * RATE])
