"""Voice-note detection: where a note starts and ends, with pre-roll and a trimmed tail.

Pure logic on the sample clock: blocks (or ready-made levels) go in with their ``start_frame``,
events come out carrying frame positions; nothing here reads a clock or sleeps, so tests feed
exact sequences. Every tuning constant is a field of :class:`~capture.settings.NoteSettings`.

What tells a pause inside a note from the gap between two notes, as measured on real players
and real notes (bench/bench_notes.py scores it on a corpus played by a browser at 1x-2x):

- **Player silence.** Between notes a player outputs digital silence: every sample exactly 0,
  from ~0.1 s after the last sound until the next note. A pause *inside* a note is never
  exactly zero: it carries the sender's room tone (-70 ... -45 dBFS), and even a note recorded
  in perfect silence decodes from Opus to small non-zero values. So ``player_silence_s`` of
  zeros ends a note, while a pause with anything in it may last up to ``max_pause_s``.
  Neither depends on the playback speed: at 1.5x and 2x pauses shrink, player gaps do not.
- **Level.** Each ``window_ms`` of audio (all channels) gets its RMS loudness in dBFS; digital
  silence reads exactly :data:`SILENCE_DB`, any other window more.
- **Noise floor.** A low percentile (``floor_percentile``) of the non-silent levels over the
  last ``floor_window_s``. Player silence is not the room, so it does not count. A sound that
  goes on without pauses for most of that window (a hum, a music bed already playing) becomes
  the floor.
- **Onset.** A window at or above ``threshold = max(floor + margin_db, min_threshold_db)``.
  While a sound goes on, windows down to ``threshold - hysteresis_db`` still count as sound.
  When the note ends its onset is refined against the note's own floor (its room tone): the
  first window ``margin_db`` above it, looking back up to ``preroll_s`` (across a short dip
  to a first syllable the VAD had no time to hear). A note with no room tone at all (only the
  codec's rounding between its words) has nothing to mask a soft first consonant: there it
  counts from 40 dB under the speech instead of 30.
- **Speech.** A voice activity detector (:mod:`capture.vad`) listens to the first
  ``vad_look_s`` of each burst of sound in a new note: bursts it does not hear speech in
  (notification sounds, a ring, music) do not start a note and are not its onset. A burst
  that goes on without speech (music) is still listened to while it lasts: speech that starts
  over it (160 ms of it in a row) starts a note there, at once, not once the noise floor has
  taken the music in.
- **Confirmation.** Speech from its onset to its last sound must span ``min_note_s``; a
  shorter blip is dropped without an event.
- **End.** ``player_silence_s`` of digital silence, or ``max_pause_s`` without sound; with
  ``silence_s`` set, that long without sound instead (the fixed rule of old). A player's own
  stream going silent or corked (per-application capture) is a cue given as data:
  :meth:`NoteDetector.player_stopped`.
- **Last sound.** Also judged against the note's own floor when it ends: the last syllable's
  fade counts while it stands above the room tone (with none, within 40 dB of the speech),
  then the sound is held ``hangover_s`` more, never into player silence: a final consonant
  (the "t" of "left", after its closure) can be too weak to stand out from the room tone, or
  be smeared away by a player's time-stretch at 1.5x.
- **Extent.** A note is saved from ``preroll_s`` before the onset (never reaching into the
  previous note) to ``tail_s`` after its last sound.

Not thread-safe: call a detector and a planner from the one thread that feeds them (post key
presses to that thread).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from capture.errors import NoteSettingsError
from capture.events import CatchState
from capture.levels import SILENCE_DB, power_to_db, window_power
from capture.settings import NoteSettings

if TYPE_CHECKING:
    from capture.vad import SpeechDetector

# The noise floor is tracked on a histogram of levels at this resolution: exact, O(1) per window.
_FLOOR_BIN_DB = 0.5
_FLOOR_BINS = int(-SILENCE_DB / _FLOOR_BIN_DB) + 1
# A note's own levels are kept to refine its onset; beyond this many windows, no more.
_NOTE_LEVELS_KEPT = 30_000
# The note's own floor, for refining its onset: this percentile of its non-silent levels.
_NOTE_FLOOR_PERCENTILE = 10.0
# Once a note's own levels are known, a syllable starts (and ends) where the sound comes within
# this much of the note's speech level, and stands margin_db above its room tone; never below
# _QUIETEST_SYLLABLE_DB (a soft "f" in a note recorded in a quiet room is about -60 dBFS).
_SYLLABLE_BELOW_SPEECH_DB = 30.0
_QUIETEST_SYLLABLE_DB = -70.0
# The end of the last syllable, fading into the room tone, still counts this far above it.
_FADE_ABOVE_FLOOR_DB = 6.0
# A note whose own floor is this quiet has no room tone at all: what is left between its words
# is the codec's rounding (about -110 dBFS from Opus), far below any microphone (-70 ... -45).
# Nothing masks a soft consonant then, and Opus takes up to ~10 dB off one (the "f" of a
# recorded "front": -49 dBFS before encoding, -57 after): a syllable counts from this far under
# the speech level, for its onset and its fade. (Not from the codec's floor: a synthesizer's
# breath 31-36 dB under the speech, 80 ms before it, is no syllable.)
_NO_ROOM_TONE_DB = -90.0
_UNMASKED_SYLLABLE_BELOW_SPEECH_DB = 40.0
# Looking back for a note's first syllable, a dip this short between two sounds is not a gap.
_SYLLABLE_DIP_S = 0.06
# ...to a sound that reaches this close to the note's speech level: a syllable's vowel.
_VOWEL_BELOW_SPEECH_DB = 20.0
# Sound louder than this is never a microphone's room tone (-70 ... -45 dBFS): the refinement
# does not cut it off (a music bed that starts with a note stays part of it).
_LOUDEST_ROOM_TONE_DB = -45.0
# Sound after this much digital silence inside a note must be speech to belong to it.
_VERIFY_AFTER_ZEROS_S = 0.2
# A burst of sound is speech when at least this many of its windows, and this share, are.
_SPEECH_WINDOWS = 3
_SPEECH_SHARE = 0.4


# ---------------------------------------------------------------------------------------------
# What the detector reports


@dataclass(frozen=True, slots=True)
class Note:
    """One voice note on the sample clock; save frames [start_frame, end_frame)."""

    start_frame: int  # onset minus the pre-roll
    end_frame: int  # last sound plus the tail
    onset_frame: int  # where the sound began
    last_sound_frame: int  # one past the last window that counted as sound
    # What ended it: "player silence", "pause", "silence" (fixed), "player stopped", "end".
    ended_by: str = field(default="", compare=False)

    def duration_s(self, samplerate: int) -> float:
        return (self.end_frame - self.start_frame) / samplerate


@dataclass(frozen=True, slots=True)
class NoteStarted:
    """A sound has lasted long enough to be a note (reported ``min_note_s`` after its onset)."""

    onset_frame: int
    start_frame: int  # where a saved copy will begin: onset minus the pre-roll


@dataclass(frozen=True, slots=True)
class NoteEnded:
    """The note is over (player silence, a long pause, or the player stopped): it is complete
    and in the ring. Its onset may be a little earlier or later than :class:`NoteStarted` said:
    by then the note's own floor is known."""

    note: Note


NoteEvent = NoteStarted | NoteEnded


class _FloorTracker:
    """A low percentile of the last N levels, kept on a histogram updated in O(1) per level."""

    def __init__(self, windows: int, percentile: float) -> None:
        self._history = [0] * windows  # bin of each level; the past starts out silent
        self._next = 0
        self._counts = [0] * _FLOOR_BINS
        self._counts[0] = windows
        self._rank = min(int(windows * percentile / 100.0), windows - 1)
        self._bin = 0  # the bin holding the level of that rank
        self._below = 0  # how many levels lie in bins under self._bin

    @property
    def floor_db(self) -> float:
        return SILENCE_DB + self._bin * _FLOOR_BIN_DB

    def add(self, level_db: float) -> None:
        new = min(max(int((level_db - SILENCE_DB) / _FLOOR_BIN_DB), 0), _FLOOR_BINS - 1)
        old = self._history[self._next]
        self._history[self._next] = new
        self._next = (self._next + 1) % len(self._history)
        counts = self._counts
        counts[old] -= 1
        counts[new] += 1
        here = self._bin
        below = self._below - (old < here) + (new < here)
        while below > self._rank:
            here -= 1
            below -= counts[here]
        while below + counts[here] <= self._rank:
            below += counts[here]
            here += 1
        self._bin, self._below = here, below


class _SpeechOnset:
    """The bursts of sound in a candidate note and the VAD's verdicts on them: where speech begins.

    A burst is speech when enough of its windows are. The VAD lags a few windows, so verdicts
    just after a burst still count for it; a short burst with some speech in it, followed closely
    by speech ("Hi, ..."), is where the speech began.
    """

    _LAG_WINDOWS = 5  # 100 ms of verdicts after a burst ends still belong to it
    _JOIN_S = 0.3  # speech within this of a speech-like burst continues it
    # A burst that goes on past the look without speech (a music bed) is still listened to:
    # speech that starts over it is this many windows of speech in a row, give or take a
    # window's lag; it begins where the first of them was heard.
    _OVER_BED_WINDOWS = 8
    _VAD_DELAY_WINDOWS = 2  # Silero hears speech about 40 ms after it begins

    def __init__(self, window_frames: int, look_windows: int, samplerate: int) -> None:
        self._window = window_frames
        self._look = look_windows
        self._join_frames = round(self._JOIN_S * samplerate)
        self.reset()

    def reset(self) -> None:
        self.onset: int | None = None
        self._open = False
        self._since_close = self._LAG_WINDOWS + 1
        self._chain_start: int | None = None
        self._start = 0
        self._last_end = 0
        self._heard = 0
        self._speech = 0
        self._run_start: int | None = None  # over a bed: the run of speech verdicts going on
        self._run_speech = 0
        self._run_gap = 0

    def wants_verdict(self) -> bool:
        near = self._open or self._since_close <= self._LAG_WINDOWS
        return near and (self._heard < self._look or self._open)

    def window(self, frame: int, loud: bool, verdict: bool | None, listening: bool) -> None:
        if loud:
            if not self._open:
                speechlike = self._speech > 0
                close = frame - self._last_end <= self._join_frames
                if not (speechlike and close and self._chain_start is not None):
                    self._chain_start = frame
                self._open = True
                self._start = frame
                self._heard = self._speech = 0
                self._run_start, self._run_speech, self._run_gap = None, 0, 0
            self._last_end = frame + self._window
        elif self._open:
            self._open = False
            self._since_close = 0
        if not self._open:
            self._since_close += 1
        if verdict is not None:
            if self._heard >= self._look:
                self._over_bed(frame, verdict)
                return
            self._heard += 1
            self._speech += verdict
        decided = self._speech >= _SPEECH_WINDOWS and self._speech >= _SPEECH_SHARE * self._heard
        if self.onset is None and self._chain_start is not None and (decided or not listening):
            self.onset = self._chain_start

    def _over_bed(self, frame: int, verdict: bool) -> None:
        """A verdict on a burst already judged no speech (music): speech starting over it."""
        if verdict:
            if self._run_start is None:
                self._run_start = frame - self._VAD_DELAY_WINDOWS * self._window
            self._run_speech += 1
            self._run_gap = 0
        elif self._run_start is not None:
            self._run_gap += 1
            if self._run_gap > 1:
                self._run_start, self._run_speech, self._run_gap = None, 0, 0
        if self.onset is None and self._run_speech >= self._OVER_BED_WINDOWS:
            self.onset = self._run_start


class _State(enum.Enum):
    QUIET = "quiet"
    CANDIDATE = "candidate"  # sound, not (yet) a note
    NOTE = "note"


# ---------------------------------------------------------------------------------------------
# The detector


class NoteDetector:
    """Finds voice notes in a stream of audio blocks or levels on the sample clock.

    ``speech`` is the voice activity detector used by :meth:`feed_block`; None decides by level
    alone (:func:`capture.vad.speech_detector` makes the one the settings ask for).
    """

    def __init__(
        self, settings: NoteSettings, samplerate: int, speech: SpeechDetector | None = None
    ) -> None:
        quiet_limit = settings.silence_s or settings.player_silence_s
        if settings.tail_s > quiet_limit:
            name = "silence_s" if settings.silence_s else "player_silence_s"
            raise NoteSettingsError(
                f"notes.tail_s ({settings.tail_s} s) must not exceed notes.{name} "
                f"({quiet_limit} s): a note is known to be over only after that silence"
            )
        if settings.silence_s and settings.silence_s < 0.2:
            raise NoteSettingsError(
                f"notes.silence_s ({settings.silence_s} s) is shorter than a syllable; "
                "give 0 (automatic) or at least 0.2 s"
            )
        self.settings = settings
        self.samplerate = samplerate
        self.speech = speech
        self.window_frames = max(1, round(settings.window_ms * samplerate / 1000))
        window = self.window_frames
        self._fixed_silence = round(settings.silence_s * samplerate)
        self._player_silence = round(settings.player_silence_s * samplerate)
        self._max_pause = round(settings.max_pause_s * samplerate)
        self._min_note = round(settings.min_note_s * samplerate)
        self._preroll = round(settings.preroll_s * samplerate)
        self._tail = round(settings.tail_s * samplerate)
        self._hangover_windows = round(settings.hangover_s * samplerate / self.window_frames)
        self._vad_look = max(1, round(settings.vad_look_s * samplerate / window))
        floor_windows = max(1, round(settings.floor_window_s * samplerate / window))
        self._floor = _FloorTracker(floor_windows, settings.floor_percentile)
        self._first_frame: int | None = None
        self._position: int | None = None  # one past the last window analysed
        self._carry: npt.NDArray[np.int16] | None = None  # a partial window between blocks
        self._carry_start = 0
        self._state = _State.QUIET
        self._onset = 0  # the candidate's first sound
        self._last_sound = 0
        self._zero_run = 0  # frames of digital silence in a row, up to now
        # Where the candidate's speech begins (None until the VAD hears it).
        self._speech = _SpeechOnset(window, self._vad_look, samplerate)
        # A burst of sound after player silence inside a note, being judged: speech goes on
        # (a player that dropped out), anything else (another app's notification) ends it.
        self._zeros_before = 0  # the run of digital silence before the current sound
        self._judging = False
        self._judged_heard = 0
        self._judged_speech = 0
        self._judged_quiet = 0
        self._verify_after = round(_VERIFY_AFTER_ZEROS_S * samplerate)
        # Levels of the candidate / note (and a preroll's worth before it), to refine the onset.
        self._note_levels: list[float] = []
        self._before: deque[float] = deque(maxlen=max(1, self._preroll // window))
        self._previous_end: int | None = None  # end of the last note, so pre-roll never overlaps
        self._last_note: Note | None = None
        self._level_db = SILENCE_DB

    # -- state for the recorder, the planner and a level meter

    @property
    def position(self) -> int | None:
        """One past the last frame analysed: "now" on the sample clock; None before any audio."""
        return self._position

    @property
    def level_db(self) -> float:
        """The level of the last window analysed."""
        return self._level_db

    @property
    def noise_floor_db(self) -> float:
        return self._floor.floor_db

    @property
    def threshold_db(self) -> float:
        """The level a sound must reach to start a note, now."""
        return max(self._floor.floor_db + self.settings.margin_db, self.settings.min_threshold_db)

    def current_onset(self) -> int | None:
        """Where the note now in progress began; None when no note is sounding.

        A note is in progress from its confirmation until it ends, so a pause inside speech
        still counts as playing. Sound not yet confirmed as a note does not.
        """
        return self._speech.onset if self._state is _State.NOTE else None

    def current_start(self) -> int | None:
        """Where a saved copy of the note in progress would begin (onset minus pre-roll)."""
        onset = self.current_onset()
        return None if onset is None else self._start_of(onset)

    def recent_note(self, now_frame: int, within_s: float) -> Note | None:
        """The most recent finished note, if its sound stopped at most ``within_s`` before now."""
        note = self._last_note
        if note is None or now_frame - note.last_sound_frame > within_s * self.samplerate:
            return None
        return note

    # -- feeding

    def feed_block(self, frames: npt.NDArray[np.int16], start_frame: int) -> list[NoteEvent]:
        """Analyse a block of int16 audio shaped (frames, channels) beginning at ``start_frame``.

        Blocks of any length may come; windows straddling two blocks are measured whole. A block
        that does not continue the previous one drops the partial window in between.
        """
        if frames.ndim == 1:
            frames = frames[:, None]
        if self._carry is not None:
            if start_frame == self._carry_start + len(self._carry):
                frames = np.concatenate((self._carry, frames))
                start_frame = self._carry_start
            self._carry = None
        window = self.window_frames
        whole = len(frames) // window
        events: list[NoteEvent] = []
        if whole:
            power = window_power(frames, window)
            levels = power_to_db(power, window * frames.shape[1])
            events = self._run(levels.tolist(), start_frame, frames, None)
        if len(frames) > whole * window:
            self._carry = frames[whole * window :].copy()
            self._carry_start = start_frame + whole * window
        return events

    def feed_levels(
        self,
        levels: Iterable[float] | npt.NDArray[np.float64],
        start_frame: int,
        speech: Sequence[bool] | None = None,
    ) -> list[NoteEvent]:
        """Analyse consecutive window levels (dBFS), the first one beginning at ``start_frame``.

        ``speech`` gives a voice activity verdict per window (as a VAD would); without it the
        detector decides by level alone. :data:`SILENCE_DB` is digital silence.
        """
        values = levels.tolist() if isinstance(levels, np.ndarray) else list(levels)
        return self._run(values, start_frame, None, speech)

    def player_stopped(self, frame: int) -> list[NoteEvent]:
        """A cue from outside: the player's stream went silent, was corked or closed at ``frame``
        (per-application capture sees it). A note whose sound ended by then is over."""
        events: list[NoteEvent] = []
        if self._state is not _State.QUIET and self._last_sound <= frame:
            self._finish(events, max(frame, self._position or frame), "player stopped")
        return events

    def finish(self) -> list[NoteEvent]:
        """End the note in progress now (listening stops); its tail is cut at the last frame."""
        events: list[NoteEvent] = []
        if self._state is not _State.QUIET and self._position is not None:
            self._finish(events, self._position, "end")
        return events

    # -- private

    def _run(
        self,
        values: list[float],
        start_frame: int,
        audio: npt.NDArray[np.int16] | None,
        speech: Sequence[bool] | None,
    ) -> list[NoteEvent]:
        events: list[NoteEvent] = []
        window = self.window_frames
        self._first_frame = start_frame if self._first_frame is None else self._first_frame
        floor = self._floor
        margin, least = self.settings.margin_db, self.settings.min_threshold_db
        hysteresis = self.settings.hysteresis_db
        listening = speech is not None or (audio is not None and self.speech is not None)
        frame = start_frame
        level = self._level_db
        for i, level in enumerate(values):
            end = frame + window
            silent = level <= SILENCE_DB
            if silent:
                self._zero_run += window
            else:
                self._zeros_before = self._zero_run or self._zeros_before
                self._zero_run = 0
                floor.add(level)  # player silence is not the room
            threshold = max(floor.floor_db + margin, least)
            state = self._state
            if state is _State.QUIET:
                if level >= threshold:
                    self._start_candidate(frame)
                    state = self._state
                else:
                    self._before.append(level)
            if state is not _State.QUIET:
                if len(self._note_levels) < _NOTE_LEVELS_KEPT:
                    self._note_levels.append(level)
                loud = level >= threshold - hysteresis and not silent
                self._step(i, frame, loud, audio, speech, listening, events)
            frame = end
        self._level_db = level
        self._position = frame
        return events

    def _step(
        self,
        index: int,
        frame: int,
        loud: bool,
        audio: npt.NDArray[np.int16] | None,
        speech: Sequence[bool] | None,
        listening: bool,
        events: list[NoteEvent],
    ) -> None:
        """One window of a candidate or a note."""
        end = frame + self.window_frames
        if self._state is _State.NOTE and listening and self._after_player_silence(loud):
            if self._judge_burst(index, frame, loud, audio, speech, events):
                self._last_sound = end
            return
        if loud:
            self._last_sound = end
        if self._state is _State.CANDIDATE:
            verdict = self._verdict(index, audio, speech)
            self._speech.window(frame, loud, verdict, listening)
            self._confirm(events)
        if not loud and (reason := self._over(end)):
            self._finish(events, end, reason)

    def _verdict(
        self, index: int, audio: npt.NDArray[np.int16] | None, speech: Sequence[bool] | None
    ) -> bool | None:
        """Speech or not in window ``index`` of this feed; None when not (or no longer) asked."""
        if speech is not None:
            return speech[index]
        vad = self.speech
        if vad is None or audio is None or not self._speech.wants_verdict():
            return None
        window = self.window_frames
        return vad.push(audio[index * window : (index + 1) * window])

    def _after_player_silence(self, loud: bool) -> bool:
        """Is this window part of a burst that followed player silence, still being judged?"""
        if self._judging:
            return True
        if loud and self._zero_run == 0 and self._zeros_before >= self._verify_after:
            self._judging = True
            self._judged_heard = self._judged_speech = self._judged_quiet = 0
            if self.speech is not None:
                self.speech.reset()
            return True
        return False

    def _judge_burst(
        self,
        index: int,
        frame: int,
        loud: bool,
        audio: npt.NDArray[np.int16] | None,
        speech: Sequence[bool] | None,
        events: list[NoteEvent],
    ) -> bool:
        """One window of a burst after player silence: True once it is speech (it belongs to the
        note); a burst that ends or goes on without speech ends the note where it was."""
        verdict: bool | None = None
        if speech is not None:
            verdict = speech[index]
        elif self.speech is not None and audio is not None:
            window = self.window_frames
            verdict = self.speech.push(audio[index * window : (index + 1) * window])
        if verdict is not None:
            self._judged_heard += 1
            self._judged_speech += verdict
        self._judged_quiet = 0 if loud else self._judged_quiet + 1
        if self._judged_speech >= _SPEECH_WINDOWS and (
            self._judged_speech >= _SPEECH_SHARE * self._judged_heard
        ):
            self._judging = False
            self._zeros_before = 0
            return True
        # The VAD lags a few windows: a burst is over once it has been quiet for that long.
        over = self._judged_quiet > _SpeechOnset._LAG_WINDOWS
        if over or self._judged_heard >= self._vad_look or verdict is None:
            self._judging = False
            self._zeros_before = 0
            self._finish(events, frame, "player silence")
        return False

    def _over(self, now: int) -> str:
        """Why the sound in progress is over at ``now``; "" while it is not."""
        quiet = now - self._last_sound
        if self._fixed_silence:
            return "silence" if quiet >= self._fixed_silence else ""
        if self._zero_run >= self._player_silence:
            return "player silence"
        return "pause" if quiet >= self._max_pause else ""

    def _start_candidate(self, frame: int) -> None:
        self._state = _State.CANDIDATE
        self._onset = frame
        self._zeros_before = 0
        self._speech.reset()
        if self.speech is not None:
            self.speech.reset()
        self._note_levels = []

    def _start_of(self, onset: int) -> int:
        start = onset - self._preroll
        for limit in (self._previous_end, self._first_frame):
            if limit is not None and start < limit:
                start = limit
        return start

    def _confirm(self, events: list[NoteEvent]) -> None:
        onset = self._speech.onset
        if onset is not None and self._last_sound - onset >= self._min_note:
            self._state = _State.NOTE
            events.append(NoteStarted(onset, self._start_of(onset)))

    def _refined(self, onset: int) -> tuple[int, int]:
        """Onset and last sound against the note's own floor (its room tone): the first and the
        last window ``margin_db`` above it, looking back up to ``preroll_s`` for the onset, and
        a hangover after the last."""
        window = self.window_frames
        levels = np.asarray(self._note_levels)
        count = min(len(levels), (self._last_sound - self._onset) // window)
        sounding = levels[:count][levels[:count] > SILENCE_DB]
        if not len(sounding):
            return onset, self._last_sound
        note_floor = float(np.percentile(sounding, _NOTE_FLOOR_PERCENTILE))
        active = sounding[sounding > sounding.max() - 40.0]
        speech_db = float(10 * np.log10(np.mean(10 ** (active / 10))))
        if note_floor <= _NO_ROOM_TONE_DB:
            # Nothing but the codec's rounding under the words: nothing masks a soft consonant.
            threshold = speech_db - _UNMASKED_SYLLABLE_BELOW_SPEECH_DB
            fading = threshold
        else:
            threshold = max(
                note_floor + self.settings.margin_db,
                speech_db - _SYLLABLE_BELOW_SPEECH_DB,
                _QUIETEST_SYLLABLE_DB,
            )
            # A syllable fades slowly: its end counts down to _FADE_ABOVE_FLOOR_DB over the floor.
            fading = max(
                min(
                    min(threshold, _LOUDEST_ROOM_TONE_DB) - self.settings.hysteresis_db,
                    note_floor + _FADE_ABOVE_FLOOR_DB,
                ),
                _QUIETEST_SYLLABLE_DB,
            )
        cut = min(threshold, _LOUDEST_ROOM_TONE_DB)  # what may be cut off as room tone
        index = (onset - self._onset) // window
        return (
            self._refined_onset(onset, index, count, threshold, cut, speech_db),
            self._refined_end(index, count, fading),
        )

    def _refined_onset(
        self, onset: int, index: int, count: int, threshold: float, cut: float, speech_db: float
    ) -> int:
        window = self.window_frames
        levels = self._note_levels
        if index < count and levels[index] < cut:
            later = np.flatnonzero(np.asarray(levels[index:count]) >= cut)
            return onset + int(later[0]) * window if len(later) else onset
        history = list(self._before) + levels[:index]
        back = _windows_back(
            history,
            min(self._preroll // window, len(history)),
            threshold,
            round(_SYLLABLE_DIP_S * self.samplerate / window),
            speech_db - _VOWEL_BELOW_SPEECH_DB,
        )
        refined = onset - back * window
        if self._previous_end is not None:
            refined = max(refined, self._previous_end)
        return refined

    def _refined_end(self, index: int, count: int, fading: float) -> int:
        """One past the last window of the last syllable: the last one heard at ``fading`` or
        more, held ``hangover_s`` longer as long as there is no player silence."""
        window = self.window_frames
        levels = np.asarray(self._note_levels)
        heard = np.flatnonzero(levels[index:count] >= fading)
        if not len(heard):
            return self._last_sound
        last = index + int(heard[-1]) + 1  # in windows of the note, one past
        for _ in range(self._hangover_windows):
            if last >= len(levels) or levels[last] <= SILENCE_DB:
                break
            last += 1
        return self._onset + last * window

    def _finish(self, events: list[NoteEvent], now: int, reason: str) -> None:
        if self._state is _State.NOTE and self._speech.onset is not None:
            onset, last_sound = self._refined(self._speech.onset)
            end = min(last_sound + self._tail, now)
            note = Note(self._start_of(onset), end, onset, last_sound, reason)
            self._last_note = note
            self._previous_end = note.end_frame
            events.append(NoteEnded(note))
        self._state = _State.QUIET
        self._speech.reset()
        self._judging = False
        self._note_levels = []
        self._before.clear()


def _windows_back(
    history: Sequence[float], limit: int, threshold: float, bridge: int, vowel: float
) -> int:
    """How many of the last windows of ``history`` (at most ``limit``) belong to the sound that
    ends it: back while the level stays at ``threshold`` or more, and on across a dip of at most
    ``bridge`` windows (never digital silence) to an earlier sound that reaches ``vowel`` (a
    first short syllable, "Hi,", that the VAD had no time to hear; not a breath or a click)."""

    def run(start: int) -> int:
        while start < limit and history[-1 - start] >= threshold:
            start += 1
        return start

    back = run(0)
    while True:
        dip_end = back
        while dip_end < limit and SILENCE_DB < history[-1 - dip_end] < threshold:
            dip_end += 1
        start = run(dip_end)
        if not back < dip_end <= back + bridge or start == dip_end:
            return back
        if max(history[len(history) - start : len(history) - dip_end]) < vowel:
            return back
        back = start


# ---------------------------------------------------------------------------------------------
# What the catch-note key does


CatchReason = Literal["playing", "recent", "next"]


@dataclass(frozen=True, slots=True)
class CatchArmed:
    """Nothing is playing or just played: the next note will be caught until ``deadline_frame``."""

    armed_frame: int
    deadline_frame: int


@dataclass(frozen=True, slots=True)
class CatchWaiting:
    """A note is being caught: it began at ``onset_frame``; it is saved once it ends."""

    onset_frame: int
    start_frame: int


@dataclass(frozen=True, slots=True)
class CatchReady:
    """Save ``note`` now: the ring holds all of [note.start_frame, note.end_frame)."""

    note: Note
    reason: CatchReason  # playing at the press, ended just before it, or the next one


@dataclass(frozen=True, slots=True)
class CatchTimedOut:
    """Armed, but no note came before the deadline; the planner is idle again."""

    armed_frame: int
    deadline_frame: int


CatchEvent = CatchArmed | CatchWaiting | CatchReady | CatchTimedOut


class CatchPlanner:
    """The decision behind ``catch_note()``, from the detector's state at the key press.

    - sound playing now: the note is taken from the onset of the current sound (pre-roll
      included), however long ago that was, to its end (:class:`CatchWaiting`, then
      :class:`CatchReady` with reason ``"playing"``);
    - nothing plays, but a note's sound stopped within ``recent_s``: that note, at once
      (:class:`CatchReady`, ``"recent"``: "I pressed too late");
    - otherwise arm (:class:`CatchArmed`) and take the next note that starts within
      ``catch_timeout_s`` (``"next"``), or give up (:class:`CatchTimedOut`).

    Feed it every detector event and the current position; it never reads a clock.
    """

    def __init__(self, settings: NoteSettings, samplerate: int) -> None:
        self.settings = settings
        self.samplerate = samplerate
        self._state = CatchState.IDLE
        self._reason: CatchReason = "playing"
        self._onset: int | None = None
        self._armed_frame = 0
        self._deadline = 0

    @property
    def state(self) -> CatchState:
        return self._state

    @property
    def deadline_frame(self) -> int | None:
        return self._deadline if self._state is CatchState.ARMED else None

    def press(self, detector: NoteDetector, now_frame: int) -> list[CatchEvent]:
        """The key was pressed at ``now_frame``. While a catch is under way, nothing changes."""
        if self._state is not CatchState.IDLE:
            return []
        onset, start = detector.current_onset(), detector.current_start()
        if onset is not None and start is not None:
            self._wait_for(onset, "playing")
            return [CatchWaiting(onset, start)]
        recent = detector.recent_note(now_frame, self.settings.recent_s)
        if recent is not None:
            return [CatchReady(recent, "recent")]
        self._state = CatchState.ARMED
        self._armed_frame = now_frame
        self._deadline = now_frame + round(self.settings.catch_timeout_s * self.samplerate)
        return [CatchArmed(now_frame, self._deadline)]

    def feed(self, events: Iterable[NoteEvent], now_frame: int) -> list[CatchEvent]:
        """Detector events of the latest block, and where the stream now is."""
        out: list[CatchEvent] = []
        for event in events:
            if isinstance(event, NoteStarted) and self._state is CatchState.ARMED:
                self._wait_for(event.onset_frame, "next")
                out.append(CatchWaiting(event.onset_frame, event.start_frame))
            elif isinstance(event, NoteEnded) and self._state is CatchState.CATCHING:
                self._state = CatchState.IDLE
                out.append(CatchReady(event.note, self._reason))
        if self._state is CatchState.ARMED and now_frame >= self._deadline:
            self._state = CatchState.IDLE
            out.append(CatchTimedOut(self._armed_frame, self._deadline))
        return out

    def cancel(self) -> None:
        """Stop waiting or being armed (the user pressed Escape, listening stopped)."""
        self._state = CatchState.IDLE
        self._onset = None

    def _wait_for(self, onset: int, reason: CatchReason) -> None:
        self._state = CatchState.CATCHING
        self._onset = onset
        self._reason = reason


# ---------------------------------------------------------------------------------------------
# A whole recording at once


def split_recording(
    frames: npt.NDArray[np.int16],
    samplerate: int,
    settings: NoteSettings,
    *,
    block_frames: int | None = None,
) -> list[Note]:
    """The notes in a recording, found exactly as while listening (blocks of ``block_frames``,
    default the capture's 100 ms), with the VAD the settings ask for."""
    from capture.vad import speech_detector

    speech = speech_detector(settings.vad, samplerate, settings.vad_threshold)
    detector = NoteDetector(settings, samplerate, speech)
    step = block_frames or max(1, samplerate // 10)
    events: list[NoteEvent] = []
    for at in range(0, len(frames), step):
        events += detector.feed_block(frames[at : at + step], at)
    events += detector.finish()
    return [event.note for event in events if isinstance(event, NoteEnded)]
