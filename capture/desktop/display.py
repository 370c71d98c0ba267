"""Which display server runs here (X11, Wayland, none), asked in one place.

Screen capture, global hotkeys and the tray each depend on it: X11 allows all three to an X11
program; Wayland blocks screen capture and global hotkeys of X11 programs (XWayland shows only X11
windows); without a display only the sound works. Windows and macOS have their native desktop.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Literal

DisplayServer = Literal["native", "wayland", "x11", "none"]


def display_server(
    environ: Mapping[str, str] = os.environ, platform: str = sys.platform
) -> DisplayServer:
    if platform.startswith("win") or platform == "darwin":
        return "native"
    if environ.get("WAYLAND_DISPLAY") or environ.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    return "x11" if environ.get("DISPLAY") else "none"


def x11_extensions(display: str) -> frozenset[str] | None:
    """The extensions of the X server on ``display``; None when python-xlib is not installed.

    Raises ConnectionError, with Xlib's reason, when the display cannot be opened.
    """
    try:
        from Xlib import display as xdisplay
        from Xlib.error import DisplayError
    except ImportError:
        return None
    try:
        conn = xdisplay.Display(display)
    except DisplayError as exc:
        raise ConnectionError(str(exc)) from exc
    try:
        return frozenset(conn.list_extensions())
    finally:
        conn.close()
