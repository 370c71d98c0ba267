"""What every platform module answers with, and the command an entry runs."""

from __future__ import annotations

import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from capture.recording.atomic import write_atomically


@dataclass(frozen=True, slots=True)
class EntryState:
    """Start at login or the application menu entry, as found on this system."""

    #: Where it lives, for the user: a file, or a registry value on Windows.
    location: str
    installed: bool = False
    #: Installed and not switched off by the desktop (GNOME's Startup Applications can).
    enabled: bool = False
    #: Something is there that loopcap did not write: loopcap leaves it alone.
    foreign: bool = False
    #: What it runs.
    command: tuple[str, ...] = ()
    #: Why it will not work as it is (the program it runs is gone...), or "".
    problem: str = ""


@dataclass(frozen=True, slots=True)
class Removed:
    """What turning something off removed: files (or a registry value), and the empty folders
    that loopcap had created for them."""

    items: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()


def console_command(executable: str = sys.executable) -> list[str]:
    """loopcap as the environment running now starts it, by absolute path: that environment's
    ``loopcap`` script when it has one (a venv's or pipx's ``bin/``), else its interpreter with
    ``-m capture``. Never a bare ``loopcap`` found on some PATH at login."""
    name = "loopcap.exe" if sys.platform.startswith("win") else "loopcap"
    script = Path(sysconfig.get_path("scripts")) / name
    if script.is_file():
        return [str(script)]
    return [executable, "-m", "capture"]


def program_problem(command: tuple[str, ...]) -> str:
    """Why an entry's command cannot start, judged by its program's absolute path, or ""."""
    if not command:
        return "it runs nothing"
    program = Path(command[0])
    if program.is_absolute() and not program.exists():
        return f"it runs {program}, which no longer exists (loopcap was moved or uninstalled)"
    return ""


def replace_file(path: Path, data: bytes) -> None:
    """Write ``path`` whole (temporary name, then rename), replacing loopcap's own old copy."""

    def produce(temp: Path) -> None:
        temp.write_bytes(data)

    write_atomically(path, produce, overwrite=True)
