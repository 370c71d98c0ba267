"""What the Recorder tells its front ends (CLI, tray, control socket), as plain values."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class State(enum.Enum):
    IDLE = "idle"
    LISTENING = "listening"
    RECORDING = "recording"


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


@dataclass(frozen=True, slots=True)
class RecordingFailed:
    message: str


@dataclass(frozen=True, slots=True)
class NoteArmed:
    """Nothing was playing: the next note that starts within ``timeout_s`` will be caught."""

    timeout_s: float


@dataclass(frozen=True, slots=True)
class NoteStarted:
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
    | NoteStarted
    | NoteSaved
    | NoteTimedOut
    | NoteFailed
)
