"""macOS: a per-user LaunchAgent with RunAtLoad, ``open`` and ``open -R``.

The agent's plist is loopcap's own file (its Label is loopcap's); launchd reads it at the next
login. Turning start at login off removes that one file.
"""

from __future__ import annotations

import plistlib
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from capture.desktop._types import (
    EntryState,
    Removed,
    console_command,
    program_problem,
    replace_file,
)
from capture.errors import DesktopError

LABEL = "loopcap.tray"


def tray_command() -> list[str]:
    return [*console_command(), "tray"]


def agent_path(home: Path | None = None) -> Path:
    return (home or Path.home()) / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def log_path(home: Path | None = None) -> Path:
    return (home or Path.home()) / "Library" / "Logs" / "loopcap.log"


def agent_plist(command: list[str], log: Path) -> bytes:
    """The LaunchAgent: run ``command`` once at login in the user's GUI session."""
    agent: dict[str, Any] = {
        "Label": LABEL,
        "ProgramArguments": command,
        "RunAtLoad": True,
        "KeepAlive": False,  # Quit in the tray means quit
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",  # the logged-in desktop, where the menu bar is
        "StandardOutPath": str(log),
        "StandardErrorPath": str(log),
    }
    return plistlib.dumps(agent)


def read_agent(data: bytes) -> tuple[bool, tuple[str, ...]]:
    """(is it loopcap's agent, what it runs) from a plist's bytes."""
    try:
        agent = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError):
        return False, ()
    if not isinstance(agent, dict) or agent.get("Label") != LABEL:
        return False, ()
    arguments = agent.get("ProgramArguments", [])
    return True, tuple(str(a) for a in arguments)


def autostart_state() -> EntryState:
    path = agent_path()
    try:
        ours, command = read_agent(path.read_bytes())
    except FileNotFoundError:
        return EntryState(str(path))
    if not ours:
        return EntryState(str(path), installed=True, enabled=True, foreign=True)
    return EntryState(
        str(path), installed=True, enabled=True, command=command, problem=program_problem(command)
    )


def enable_autostart() -> EntryState:
    path = agent_path()
    state = autostart_state()
    if state.foreign:
        raise DesktopError(f"{path} exists and was not written by loopcap; loopcap leaves it alone")
    data = agent_plist(tray_command(), log_path())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, data)
    except OSError as exc:
        raise DesktopError(f"cannot write {path}: {exc.strerror or exc}") from None
    return autostart_state()


def disable_autostart() -> Removed:
    path = agent_path()
    state = autostart_state()
    if not state.installed:
        return Removed()
    if state.foreign:
        raise DesktopError(f"{path} was not written by loopcap; loopcap leaves it alone")
    try:
        path.unlink()
    except OSError as exc:
        raise DesktopError(f"cannot remove {path}: {exc.strerror or exc}") from None
    return Removed((str(path),))


def menu_entry_state() -> EntryState:
    return EntryState("Applications")


def install_menu_entry(icons: Mapping[int, bytes]) -> EntryState:
    raise DesktopError(
        "an application menu entry is made for Linux desktops; on macOS, start at login keeps "
        "loopcap in the menu bar"
    )


def uninstall_menu_entry() -> Removed:
    return Removed()


def open_path(path: Path) -> None:
    subprocess.Popen(["open", str(path)], stdin=subprocess.DEVNULL)


def reveal_path(path: Path) -> None:
    subprocess.Popen(["open", "-R", str(path)], stdin=subprocess.DEVNULL)
