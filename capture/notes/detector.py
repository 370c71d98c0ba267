"""Voice-note detection: where a note starts and ends, with pre-roll and a trimmed tail.

Pure logic on the sample clock: blocks (or ready-made levels) go in with their ``start_frame``,
events come out carrying frame positions; nothing here reads a clock or sleeps, so tests feed
exact sequences. Every tuning constant is a field of :class:`~capture.settings.NoteSettings`.

How a note is found, in the order the detector decides:

- **Level.** Each ``window_ms`` of audio (all channels) gets its RMS loudness in dBFS.
- **Noise floor.** A low percentile (``floor_percentile``) of the levels over the last
  ``floor_window_s``. Listening starts from an assumed silent past, so the floor only rises once
  a sound has gone on without pauses for most of that window: a music bed or a hum becomes the
  floor, speech with its pauses does not. (So a steady sound that *starts* while listening, such
  as music, reads as one note until the floor catches up, about ``floor_window_s``.)
- **Onset.** A window at or above ``threshold = max(floor + margin_db, min_threshold_db)``.
  While a note sounds, windows down to ``threshold - hysteresis_db`` still count as sound.
- **Confirmation.** Sound from onset to last sound must span ``min_note_s``; a shorter blip
  (a notification) is dropped without an event. Until confirmed, the sound is not a note.
- **End.** ``silence_s`` without sound. Pauses inside speech are shorter; the gap between notes
  that autoplay one after another is longer (WhatsApp leaves about 3 to 4 s), so they split.
  A blip within ``silence_s`` of a note's sound joins that note, as any sound would.
- **Extent.** A note is saved from ``preroll_s`` before the onset (never reaching into the
  previous note) to ``tail_s`` after its last sound.

Not thread-safe: call a detector and a planner from the one thread that feeds them (post key
presses to that thread).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from capture.errors import NoteSettingsError
from capture.events import CatchState
from capture.levels import SILENCE_DB, power_to_db, window_power
from capture.settings import NoteSettings

# The noise floor is tracked on a histogram of levels at this resolution: exact, O(1) per window.
_FLOOR_BIN_DB = 0.5
_FLOOR_BINS = int(-SILENCE_DB / _FLOOR_BIN_DB) + 1


# ---------------------------------------------------------------------------------------------
# What the detector reports


@dataclass(frozen=True, slots=True)
class Note:
    """One voice note on the sample clock; save frames [start_frame, end_frame)."""

    start_frame: int  # onset minus the pre-roll
    end_frame: int  # last sound plus the tail
    onset_frame: int  # where the sound began
    last_sound_frame: int  # one past the last window that counted as sound

    def duration_s(self, samplerate: int) -> float:
        return (self.end_frame - self.start_frame) / samplerate


@dataclass(frozen=True, slots=True)
class NoteStarted:
    """A sound has lasted long enough to be a note (reported ``min_note_s`` after its onset)."""

    onset_frame: int
    start_frame: int  # where a saved copy will begin: onset minus the pre-roll


@dataclass(frozen=True, slots=True)
class NoteEnded:
    """The note has been silent for ``silence_s``: it is complete (and in the ring)."""

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


# ---------------------------------------------------------------------------------------------
# The detector


class NoteDetector:
    """Finds voice notes in a stream of audio blocks or levels on the sample clock."""

    def __init__(self, settings: NoteSettings, samplerate: int) -> None:
        if settings.tail_s > settings.silence_s:
            raise NoteSettingsError(
                f"notes.tail_s ({settings.tail_s} s) must not exceed notes.silence_s "
                f"({settings.silence_s} s): a note is known to be over only after the silence"
            )
        self.settings = settings
        self.samplerate = samplerate
        self.window_frames = max(1, round(settings.window_ms * samplerate / 1000))
        self._silence = round(settings.silence_s * samplerate)
        self._min_note = round(settings.min_note_s * samplerate)
        self._preroll = round(settings.preroll_s * samplerate)
        self._tail = round(settings.tail_s * samplerate)
        floor_windows = max(1, round(settings.floor_window_s * samplerate / self.window_frames))
        self._floor = _FloorTracker(floor_windows, settings.floor_percentile)
        self._first_frame: int | None = None
        self._position: int | None = None  # one past the last window analysed
        # A partial window carried between blocks: where it starts, its frames, their power.
        self._carry_start = 0
        self._carry_frames = 0
        self._carry_power = 0.0
        # The sound in progress (None: quiet), whether it is a note yet, its last sound.
        self._onset: int | None = None
        self._confirmed = False
        self._last_sound = 0
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
        """Where the sound of the note now in progress began; None when no note is sounding.

        A note is in progress from its confirmation until ``silence_s`` after its last sound, so
        a pause inside speech still counts as playing. Sound not yet confirmed as a note (under
        ``min_note_s``) does not.
        """
        return self._onset if self._confirmed else None

    def current_start(self) -> int | None:
        """Where a saved copy of the note in progress would begin (onset minus pre-roll)."""
        return self._start_of(self._onset) if self._confirmed and self._onset is not None else None

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
        window = self.window_frames
        samples_per_window = window * (1 if frames.ndim == 1 else frames.shape[1])
        if self._carry_frames and start_frame != self._carry_start + self._carry_frames:
            self._carry_frames = 0
            self._carry_power = 0.0
        events: list[NoteEvent] = []
        if self._carry_frames:
            need = window - self._carry_frames
            head = frames[:need]
            self._carry_power += float(window_power(head, len(head))[0]) if len(head) else 0.0
            self._carry_frames += len(head)
            if self._carry_frames < window:
                return events
            level = power_to_db(np.array([self._carry_power]), samples_per_window)
            events += self.feed_levels(level, self._carry_start)
            self._carry_frames = 0
            self._carry_power = 0.0
            frames = frames[need:]
            start_frame += need
        whole = len(frames) // window
        if whole:
            power = window_power(frames, window)
            events += self.feed_levels(power_to_db(power, samples_per_window), start_frame)
        rest = frames[whole * window :]
        if len(rest):
            self._carry_start = start_frame + whole * window
            self._carry_frames = len(rest)
            self._carry_power = float(window_power(rest, len(rest))[0])
        return events

    def feed_levels(
        self, levels: Iterable[float] | npt.NDArray[np.float64], start_frame: int
    ) -> list[NoteEvent]:
        """Analyse consecutive window levels (dBFS), the first one beginning at ``start_frame``."""
        values = levels.tolist() if isinstance(levels, np.ndarray) else levels
        events: list[NoteEvent] = []
        window = self.window_frames
        frame = start_frame
        if self._first_frame is None:
            self._first_frame = start_frame
        floor = self._floor
        margin, least = self.settings.margin_db, self.settings.min_threshold_db
        hysteresis = self.settings.hysteresis_db
        level = self._level_db
        for level in values:
            floor.add(level)
            threshold = floor.floor_db + margin
            threshold = max(threshold, least)
            end = frame + window
            if self._onset is None:
                if level >= threshold:
                    self._onset = frame
                    self._last_sound = end
                    self._confirm(events)
            elif level >= threshold - hysteresis:
                self._last_sound = end
                if not self._confirmed:
                    self._confirm(events)
            elif end - self._last_sound >= self._silence:
                self._finish(events, end)
            frame = end
        self._level_db = level
        self._position = frame
        return events

    def finish(self) -> list[NoteEvent]:
        """End the note in progress now (listening stops); its tail is cut at the last frame."""
        events: list[NoteEvent] = []
        if self._onset is not None and self._position is not None:
            self._finish(events, self._position)
        return events

    # -- private

    def _start_of(self, onset: int) -> int:
        start = onset - self._preroll
        for limit in (self._previous_end, self._first_frame):
            if limit is not None and start < limit:
                start = limit
        return start

    def _confirm(self, events: list[NoteEvent]) -> None:
        assert self._onset is not None
        if self._last_sound - self._onset >= self._min_note:
            self._confirmed = True
            events.append(NoteStarted(self._onset, self._start_of(self._onset)))

    def _finish(self, events: list[NoteEvent], now: int) -> None:
        assert self._onset is not None
        if self._confirmed:
            end = min(self._last_sound + self._tail, now)
            note = Note(self._start_of(self._onset), end, self._onset, self._last_sound)
            self._last_note = note
            self._previous_end = note.end_frame
            events.append(NoteEnded(note))
        self._onset = None
        self._confirmed = False


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
