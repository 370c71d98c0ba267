"""``loopcap autostart on|off|status`` and ``loopcap desktop install|uninstall|status``.

A thin layer over :mod:`capture.desktop`; light at import (``loopcap --help`` stays fast).
"""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from capture.cli import Subparsers
    from capture.desktop import EntryState, Removed


def register_cli(subparsers: Subparsers) -> None:
    autostart = subparsers.add_parser(
        "autostart",
        help="start loopcap's tray when you log in: on, off, or status",
        description=(
            "Start loopcap's tray when you log in (Linux: an XDG autostart entry in "
            "$XDG_CONFIG_HOME/autostart; Windows: the per-user Run key; macOS: a per-user "
            "LaunchAgent). The entry runs this loopcap by its absolute path. 'off' removes "
            "exactly what 'on' added. 'status' exits 0 when on, 1 when off."
        ),
    )
    autostart.add_argument("action", choices=("on", "off", "status"))
    autostart.set_defaults(handler=run_autostart)

    desktop = subparsers.add_parser(
        "desktop",
        help="put loopcap in the desktop's application menu (Linux): install, uninstall, status",
        description=(
            "Add loopcap to the application menu: a .desktop launcher in "
            "$XDG_DATA_HOME/applications with its icon in the hicolor theme at 16 to 256 px. "
            "'uninstall' removes exactly what 'install' added. 'status' exits 0 when installed, "
            "1 when not."
        ),
    )
    desktop.add_argument("action", choices=("install", "uninstall", "status"))
    desktop.set_defaults(handler=run_desktop)


def run_autostart(args: argparse.Namespace) -> int:
    from capture import desktop

    if args.action == "on":
        _say_state("starts at login", desktop.enable_autostart())
        return 0
    if args.action == "off":
        return _say_removed(desktop.disable_autostart(), "start at login was off already")
    return _status("start at login", desktop.autostart_state())


def run_desktop(args: argparse.Namespace) -> int:
    from capture import desktop

    if args.action == "install":
        _say_state("in the application menu", desktop.install_menu_entry())
        return 0
    if args.action == "uninstall":
        return _say_removed(desktop.uninstall_menu_entry(), "no menu entry was installed")
    return _status("menu entry", desktop.menu_entry_state())


def _say_state(what: str, state: EntryState) -> None:
    print(f"loopcap {what}: {state.location} runs {shlex.join(state.command)}")


def _say_removed(removed: Removed, nothing: str) -> int:
    for item in removed.items:
        print(f"removed {item}")
    if removed.folders:
        print(f"removed {len(removed.folders)} empty folders that loopcap had created")
    if not removed.items:
        print(nothing)
    return 0


def _status(what: str, state: EntryState) -> int:
    if not state.installed:
        print(f"{what}: off ({state.location} does not exist)")
        return 1
    if state.foreign:
        print(f"{what}: {state.location} exists, but loopcap did not write it")
        return 0
    if not state.enabled:
        print(f"{what}: switched off by the desktop ({state.location})")
        return 1
    print(f"{what}: on: {state.location} runs {shlex.join(state.command)}")
    if state.problem:
        print(f"loopcap: {what} will not work: {state.problem}")
        return 1
    return 0
