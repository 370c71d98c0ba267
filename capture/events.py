"""What the Recorder tells its clients (CLI, tray, control socket), as plain values, and the
states it keeps."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class State(enum.Enum):
    IDLE = "idle"
    LISTENING = "listening"
    RECORDING = "recording"


class RecordingKind(enum.Enum):
    """What a running recording captures."""

    AUDIO = "audio"
    SCREEN = "screen"  # the screen, with the sound unless it was left out


class CatchState(enum.Enum):
    """Where a catch-note request stands (the Recorder's, the catch planner's, the one)."""

    IDLE = "idle"
    ARMED = "armed"  # nothing played; the next note is caught, until the deadline
    CATCHING = "catching"  # a note is playing; it is saved when it ends


@dataclass(frozen=True, slots=True)
class StateChanged:
    state: State


@dataclass(frozen=True, slots=True)
class LevelChanged:
    peak_db: float


@dataclass(frozen=True, slots=True)
class SourceProblem:
    kind: str  # "lost", "reconnected", "gave-up"
    message: str


@dataclass(frozen=True, slots=True)
class RecordingSaved:
    path: Path
    seconds: float
    #: The recent past from the replay ring ("save the last N seconds"), not a started recording.
    replay: bool = False


@dataclass(frozen=True, slots=True)
class RecordingFailed:
    message: str


@dataclass(frozen=True, slots=True)
class NoteArmed:
    """Nothing was playing: the next note that starts within ``timeout_s`` will be caught."""

    timeout_s: float


@dataclass(frozen=True, slots=True)
class NoteCatching:
    """A note is playing and being caught, from ``seconds_ago`` seconds before now."""

    seconds_ago: float


@dataclass(frozen=True, slots=True)
class NoteSaved:
    path: Path
    seconds: float
    reason: str  # "playing", "recent", "next", "heard" (saving every note) or "save-last"


@dataclass(frozen=True, slots=True)
class NoteTimedOut:
    """Armed, but no note came in time."""

    timeout_s: float


@dataclass(frozen=True, slots=True)
class NoteFailed:
    message: str


Event = (
    StateChanged
    | LevelChanged
    | SourceProblem
    | RecordingSaved
    | RecordingFailed
    | NoteArmed
    | NoteCatching
    | NoteSaved
    | NoteTimedOut
    | NoteFailed
)
