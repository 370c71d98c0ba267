"""Values and interfaces shared by the loopback backends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from capture.errors import AudioSourceError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from capture.audio._apps import AppFilter, AppInfo

    Frames = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A loopback source the user can record: ``id`` is stable, ``name`` is for people."""

    id: str
    name: str
    is_default: bool = False


class StreamLost(Exception):
    """The audio server or device went away; reopening may work later."""


class Stream(Protocol):
    def read(self) -> Frames | None:
        """The next block, int16 (frames, channels); None if no data came in a while."""

    def close(self) -> None: ...


class Backend(Protocol):
    name: str

    def list_sources(self) -> list[SourceInfo]: ...

    def list_apps(self) -> list[AppInfo]:
        """The applications playing sound now."""

    def open(
        self,
        spec: str,
        samplerate: int,
        channels: int,
        block_frames: int,
        app: AppFilter | None = None,
    ) -> Stream:
        """Open the source matching ``spec`` (id or name substring; empty = default); with
        ``app``, only that application's sound (or all but it) played to it.

        Raises AudioSourceError when the source does not exist or the system cannot record one
        application, StreamLost when the server cannot be reached right now.
        """


def pick_source(sources: list[SourceInfo], spec: str) -> SourceInfo:
    """The source a user meant: exact id, else a unique case-insensitive name substring."""
    if not spec:
        for source in sources:
            if source.is_default:
                return source
        if sources:
            return sources[0]
        raise AudioSourceError("no loopback source found; run 'loopcap doctor' to see why")
    for source in sources:
        if source.id == spec:
            return source
    wanted = spec.casefold()
    matches = [s for s in sources if wanted in s.name.casefold() or wanted in s.id.casefold()]
    if len(matches) == 1:
        return matches[0]
    listing = "; ".join(f"{s.id} ({s.name})" for s in sources) or "none"
    if not matches:
        raise AudioSourceError(
            f"no loopback source matches '{spec}'; available: {listing} (see 'loopcap devices')"
        )
    names = ", ".join(s.name for s in matches)
    raise AudioSourceError(f"'{spec}' matches several sources ({names}); use its id")


def take_due(frames: list[int], before: int) -> list[int]:
    """Remove from ``frames`` (player-stopped cues, by output frame) those before ``before``,
    and return them: what a block ending there carries."""
    due = [frame for frame in frames if frame < before]
    frames[:] = [frame for frame in frames if frame >= before]
    return due
