"""loopcap on the user's desktop: which display server runs (:mod:`.display`), start at login,
an application menu entry, opening files, notifications (:mod:`.notify`).

One interface, one private module per platform (``_linux``: XDG autostart and menu entries,
``_windows``: the per-user Run key, ``_macos``: a per-user LaunchAgent), chosen in
:func:`_platform`. Entries start the interpreter and environment that runs this code, by
absolute path, so they keep working after a reboot whatever the login shell's PATH holds.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

from capture.desktop._types import EntryState, Removed
from capture.desktop.display import DisplayServer, display_server, x11_extensions

__all__ = [
    "ICON_SIZES",
    "DisplayServer",
    "EntryState",
    "Removed",
    "autostart_state",
    "disable_autostart",
    "display_server",
    "enable_autostart",
    "install_menu_entry",
    "menu_entry_state",
    "open_path",
    "reveal_path",
    "tray_command",
    "uninstall_menu_entry",
    "x11_extensions",
]

#: The icon theme sizes shipped in capture/desktop/icons/ (written by assets/make_icons.py).
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)


def _platform() -> ModuleType:
    """The one place that picks the platform module."""
    if sys.platform.startswith("win"):
        from capture.desktop import _windows

        return _windows
    if sys.platform == "darwin":
        from capture.desktop import _macos

        return _macos
    from capture.desktop import _linux

    return _linux


def tray_command() -> list[str]:
    """What start at login and the menu entry run: loopcap's tray, by absolute path."""
    command: list[str] = _platform().tray_command()
    return command


def autostart_state() -> EntryState:
    state: EntryState = _platform().autostart_state()
    return state


def enable_autostart() -> EntryState:
    """Start loopcap's tray at login (rewriting loopcap's own entry, never someone else's)."""
    state: EntryState = _platform().enable_autostart()
    return state


def disable_autostart() -> Removed:
    """Remove what :func:`enable_autostart` added; what was removed (nothing: it was off)."""
    removed: Removed = _platform().disable_autostart()
    return removed


def menu_entry_state() -> EntryState:
    state: EntryState = _platform().menu_entry_state()
    return state


def install_menu_entry() -> EntryState:
    """Put loopcap in the desktop's application menu, with its icon at the theme's sizes."""
    state: EntryState = _platform().install_menu_entry(icon_files())
    return state


def uninstall_menu_entry() -> Removed:
    """Remove what :func:`install_menu_entry` added."""
    removed: Removed = _platform().uninstall_menu_entry()
    return removed


def open_path(path: Path) -> None:
    """Open a file or folder as a double click in the file manager would (DesktopError if not)."""
    _platform().open_path(path)


def reveal_path(path: Path) -> None:
    """Show a file selected in its folder, in the file manager."""
    _platform().reveal_path(path)


def icon_files() -> dict[int, bytes]:
    """loopcap's application icon as PNG, by size in pixels."""
    folder = resources.files("capture.desktop") / "icons"
    return {size: (folder / f"loopcap-{size}.png").read_bytes() for size in ICON_SIZES}
