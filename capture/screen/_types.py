"""Values shared by the screen facade and its per-platform window backends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from capture.errors import UsageError


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle of the desktop in pixels (left/top may be negative on multi-monitor setups)."""

    left: int
    top: int
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Region:
        """``X,Y,W,H`` as typed on the command line."""
        parts = text.replace(" ", "").split(",")
        try:
            left, top, width, height = (int(p) for p in parts)
        except ValueError:
            raise UsageError(
                f"region '{text}' is not X,Y,WIDTH,HEIGHT in whole pixels (e.g. 0,0,1280,720)"
            ) from None
        if width < 2 or height < 2:
            raise UsageError(f"region '{text}' is empty: give a width and height of 2 or more")
        return cls(left, top, width, height)

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def even(self) -> Region:
        """The same rectangle shrunk to even width and height (libx264 refuses odd sizes)."""
        return Region(self.left, self.top, max(2, self.width & ~1), max(2, self.height & ~1))

    def moved_to(self, left: int, top: int) -> Region:
        return Region(left, top, self.width, self.height)

    def intersection(self, other: Region) -> Region | None:
        left, top = max(self.left, other.left), max(self.top, other.top)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Region(left, top, right - left, bottom - top)

    def contains(self, other: Region) -> bool:
        return self.intersection(other) == other

    def __str__(self) -> str:
        return f"{self.width}x{self.height} at {self.left},{self.top}"


@dataclass(frozen=True, slots=True)
class Monitor:
    """A monitor as ``mss`` numbers them: 1 is the first (0 would be all of them together)."""

    index: int
    region: Region
    primary: bool = False


@dataclass(frozen=True, slots=True)
class Window:
    """A top-level window: its content area on the desktop, without the window manager's frame."""

    id: int
    title: str
    region: Region
    visible: bool = True  # False while minimized


@dataclass(frozen=True, slots=True)
class MonitorTarget:
    index: int | None = None  # None: the primary monitor


@dataclass(frozen=True, slots=True)
class RegionTarget:
    region: Region


@dataclass(frozen=True, slots=True)
class WindowTarget:
    title: str  # a case-insensitive part of the title


Target = MonitorTarget | RegionTarget | WindowTarget


class WindowBackend(Protocol):
    """What each platform's window module provides (one instance per thread)."""

    def list_windows(self) -> list[Window]:
        """Visible top-level windows with a title, topmost last where the platform knows."""
        ...

    def locate(self, window_id: int) -> Region | None:
        """Where the window's content is now, or None if it was closed or minimized."""
        ...

    def close(self) -> None: ...
