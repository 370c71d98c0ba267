"""Global hotkeys through pynput, with an honest answer when the desktop cannot give them.

pynput's X11 listener needs the RECORD extension: without it the listener thread dies and
``GlobalHotKeys.wait()`` hangs forever (measured). Wayland gives X11 programs no global keys at
all. Both are detected before starting, and a listener that dies anyway is noticed.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# How long a freshly started listener must stay alive to count as working.
STARTUP_CHECK_S = 0.3


@dataclass(frozen=True, slots=True)
class HotkeyStatus:
    active: bool
    message: str


def why_unavailable(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> str:
    """Empty if global hotkeys can work here, else why not and what to use instead."""
    from capture.desktop import display_server

    server = display_server(environ, platform)
    if server == "native":
        return ""
    if server == "wayland":
        return (
            "Wayland gives no global hotkeys to X11 programs; bind 'loopcap ctl catch-note' to a "
            "shortcut in your desktop's keyboard settings"
        )
    if server == "none":
        return "no display, so no global hotkeys; use 'loopcap ctl catch-note'"
    return _x11_record_missing(environ["DISPLAY"])


def _x11_record_missing(display: str) -> str:
    from capture.desktop import x11_extensions

    try:
        extensions = x11_extensions(display)
    except ConnectionError as exc:
        return f"cannot open X display {display} ({exc}); use 'loopcap ctl catch-note'"
    if extensions is not None and "RECORD" not in extensions:
        return (
            f"the X server on {display} lacks the RECORD extension that global hotkeys need; "
            "use 'loopcap ctl catch-note' (or enable RECORD)"
        )
    return ""


class Hotkeys:
    """Runs the bindings (pynput syntax, e.g. ``<ctrl>+<alt>+n``) until stopped."""

    def __init__(self, bindings: Mapping[str, Callable[[], None]]) -> None:
        self._bindings = dict(bindings)
        self._listener: Any = None

    def start(self) -> HotkeyStatus:
        reason = why_unavailable()
        if reason:
            return HotkeyStatus(False, reason)
        try:
            from pynput import keyboard
        except Exception as exc:  # noqa: BLE001 - pynput raises anything when no backend fits
            return HotkeyStatus(False, f"global hotkeys unavailable ({exc})")
        try:
            listener = keyboard.GlobalHotKeys(self._bindings)
        except ValueError as exc:
            return HotkeyStatus(False, f"a hotkey in the settings is not valid: {exc}")
        listener.start()
        time.sleep(STARTUP_CHECK_S)
        if not listener.is_alive():
            return HotkeyStatus(False, "the hotkey listener stopped at once; use 'loopcap ctl'")
        self._listener = listener
        keys = ", ".join(self._bindings)
        return HotkeyStatus(True, f"hotkeys active: {keys}")

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
