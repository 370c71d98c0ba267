"""Windows on Microsoft Windows, through ctypes: EnumWindows and DWM's extended frame bounds.

The process is made per-monitor DPI aware first, so rectangles are in physical pixels like the
ones ``mss`` grabs. ``DWMWA_EXTENDED_FRAME_BOUNDS`` is the visible frame; ``GetWindowRect``
would include the invisible resize borders of Windows 10 and later.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable
from typing import Any

from capture.screen._types import Region, Window

DWMWA_EXTENDED_FRAME_BOUNDS = 9
DWMWA_CLOAKED = 14
# DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2, as a pointer-sized handle value.
PER_MONITOR_AWARE_V2 = -4


def region_from_rect(left: int, top: int, right: int, bottom: int) -> Region | None:
    """A window rectangle (right/bottom exclusive) as a Region; None if it has no area."""
    if right - left < 2 or bottom - top < 2:
        return None
    return Region(left, top, right - left, bottom - top)


def visible_windows(
    entries: Iterable[tuple[int, str, bool, bool, bool, tuple[int, int, int, int]]],
) -> list[Window]:
    """Windows worth offering: (hwnd, title, visible, minimized, cloaked, rect) → Window list."""
    found = []
    for hwnd, title, visible, minimized, cloaked, rect in entries:
        if not visible or cloaked or not title.strip():
            continue
        region = region_from_rect(*rect)
        if region is None and not minimized:
            continue
        found.append(Window(hwnd, title, region or Region(0, 0, 2, 2), visible=not minimized))
    return found


class _Rect(ctypes.Structure):
    _fields_ = (
        ("left", ctypes.c_long),
        ("top", ctypes.c_long),
        ("right", ctypes.c_long),
        ("bottom", ctypes.c_long),
    )


class Win32Windows:  # pragma: no cover - needs Windows
    def __init__(self) -> None:
        windll: Any = ctypes.windll  # type: ignore[attr-defined]
        self._user32 = windll.user32
        self._dwmapi = windll.dwmapi
        try:
            self._user32.SetProcessDpiAwarenessContext(ctypes.c_void_p(PER_MONITOR_AWARE_V2))
        except AttributeError:  # before Windows 10 1703
            self._user32.SetProcessDPIAware()

    def _rect(self, hwnd: int) -> tuple[int, int, int, int]:
        rect = _Rect()
        result = self._dwmapi.DwmGetWindowAttribute(
            ctypes.c_void_p(hwnd),
            DWMWA_EXTENDED_FRAME_BOUNDS,
            ctypes.byref(rect),
            ctypes.sizeof(rect),
        )
        if result != 0:  # DWM off (very old systems): the plain window rectangle
            self._user32.GetWindowRect(ctypes.c_void_p(hwnd), ctypes.byref(rect))
        return rect.left, rect.top, rect.right, rect.bottom

    def _cloaked(self, hwnd: int) -> bool:
        value = ctypes.c_int(0)
        self._dwmapi.DwmGetWindowAttribute(
            ctypes.c_void_p(hwnd), DWMWA_CLOAKED, ctypes.byref(value), ctypes.sizeof(value)
        )
        return bool(value.value)

    def _title(self, hwnd: int) -> str:
        length = self._user32.GetWindowTextLengthW(ctypes.c_void_p(hwnd))
        buffer = ctypes.create_unicode_buffer(length + 1)
        self._user32.GetWindowTextW(ctypes.c_void_p(hwnd), buffer, length + 1)
        return buffer.value

    def list_windows(self) -> list[Window]:
        entries: list[tuple[int, str, bool, bool, bool, tuple[int, int, int, int]]] = []
        callback_type = ctypes.WINFUNCTYPE(  # type: ignore[attr-defined]
            ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p
        )

        def collect(hwnd: int, _: int) -> bool:
            entries.append(
                (
                    int(hwnd),
                    self._title(hwnd),
                    bool(self._user32.IsWindowVisible(ctypes.c_void_p(hwnd))),
                    bool(self._user32.IsIconic(ctypes.c_void_p(hwnd))),
                    self._cloaked(hwnd),
                    self._rect(hwnd),
                )
            )
            return True

        self._user32.EnumWindows(callback_type(collect), 0)
        return visible_windows(entries)

    def locate(self, window_id: int) -> Region | None:
        hwnd = ctypes.c_void_p(window_id)
        if not self._user32.IsWindow(hwnd) or self._user32.IsIconic(hwnd):
            return None
        return region_from_rect(*self._rect(window_id))

    def close(self) -> None:
        pass


def open_backend() -> Win32Windows:  # pragma: no cover - needs Windows
    return Win32Windows()
