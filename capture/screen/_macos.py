"""Windows on macOS, from Quartz window lists (``CGWindowListCopyWindowInfo``).

Quartz gives bounds in points; ``mss`` grabs in points too (it scales Retina captures), so the
bounds are used as they are. Window titles need the Screen Recording permission; without it
only owner names are known, and those are used instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from capture.errors import ScreenSourceError
from capture.screen._types import Region, Window

NORMAL_LAYER = 0


def window_from_info(info: Mapping[str, Any]) -> Window | None:
    """One entry of a Quartz window list as a Window; None for menus, docks and blank windows."""
    if int(info.get("kCGWindowLayer", NORMAL_LAYER)) != NORMAL_LAYER:
        return None
    bounds = info.get("kCGWindowBounds") or {}
    width, height = int(bounds.get("Width", 0)), int(bounds.get("Height", 0))
    if width < 2 or height < 2:
        return None
    name = str(info.get("kCGWindowName") or "")
    owner = str(info.get("kCGWindowOwnerName") or "")
    title = f"{owner} — {name}" if name and owner and name != owner else (name or owner)
    if not title:
        return None
    region = Region(int(bounds.get("X", 0)), int(bounds.get("Y", 0)), width, height)
    visible = bool(info.get("kCGWindowIsOnscreen", True))
    return Window(int(info["kCGWindowNumber"]), title, region, visible=visible)


def windows_from_infos(infos: Iterable[Mapping[str, Any]]) -> list[Window]:
    found = (window_from_info(info) for info in infos)
    return [w for w in found if w is not None and w.visible]


class QuartzWindows:  # pragma: no cover - needs macOS
    def __init__(self) -> None:
        try:
            import Quartz
        except ImportError as exc:
            raise ScreenSourceError(
                "window capture on macOS needs pyobjc's Quartz: pip install pyobjc-framework-Quartz"
            ) from exc
        self._quartz: Any = Quartz

    def _infos(self, option: int, window_id: int = 0) -> list[Mapping[str, Any]]:
        q = self._quartz
        return list(q.CGWindowListCopyWindowInfo(option, window_id) or [])

    def list_windows(self) -> list[Window]:
        q = self._quartz
        option = q.kCGWindowListOptionOnScreenOnly | q.kCGWindowListExcludeDesktopElements
        return windows_from_infos(self._infos(option))

    def locate(self, window_id: int) -> Region | None:
        q = self._quartz
        for info in self._infos(q.kCGWindowListOptionIncludingWindow, window_id):
            window = window_from_info(info)
            if window is not None and window.visible:
                return window.region
        return None

    def close(self) -> None:
        pass


def open_backend() -> QuartzWindows:  # pragma: no cover - needs macOS
    return QuartzWindows()
