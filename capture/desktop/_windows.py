"""Windows: the per-user Run key, os.startfile, and Explorer's /select.

Only the value named ``loopcap`` under the Run key is loopcap's: turning start at login off
deletes that value and nothing else. The command starts ``pythonw.exe`` when the environment has
one, so that no console window opens at login.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path, PureWindowsPath
from typing import Any

from capture.desktop._types import EntryState, Removed, console_command, program_problem
from capture.errors import DesktopError

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = "loopcap"
LOCATION = rf"HKEY_CURRENT_USER\{RUN_KEY}\{VALUE_NAME}"


def login_command(executable: str, windowless_exists: bool, console: list[str]) -> list[str]:
    """The command for the Run value: ``pythonw.exe -m capture tray`` beside ``executable`` when
    it exists (no console window), else loopcap's console command."""
    windowless = PureWindowsPath(executable).with_name("pythonw.exe")
    if windowless_exists:
        return [str(windowless), "-m", "capture", "tray"]
    return [*console, "tray"]


def tray_command() -> list[str]:
    executable = sys.executable
    return login_command(
        executable, Path(executable).with_name("pythonw.exe").is_file(), console_command()
    )


def run_value(command: list[str]) -> str:
    """The Run value's text: Windows' own command-line quoting (CommandLineToArgvW rules)."""
    return subprocess.list2cmdline(command)


def split_run_value(value: str) -> tuple[str, ...]:
    """The arguments of a Run value, as CommandLineToArgvW reads them (quotes, backslashes)."""
    args: list[str] = []
    current: list[str] = []
    in_arg = quoted = False
    backslashes = 0
    for c in value:
        if c == "\\":
            backslashes += 1
            in_arg = True
            continue
        if c == '"':
            current.append("\\" * (backslashes // 2))
            if backslashes % 2:
                current.append('"')
            else:
                quoted = not quoted
            backslashes = 0
            in_arg = True
            continue
        current.append("\\" * backslashes)
        backslashes = 0
        if c in " \t" and not quoted:
            if in_arg:
                args.append("".join(current))
            current, in_arg = [], False
        else:
            current.append(c)
            in_arg = True
    current.append("\\" * backslashes)
    if in_arg:
        args.append("".join(current))
    return tuple(args)


def _winreg() -> Any:
    import winreg

    return winreg


def autostart_state() -> EntryState:
    winreg = _winreg()
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            value, _kind = winreg.QueryValueEx(key, VALUE_NAME)
    except FileNotFoundError:
        return EntryState(LOCATION)
    command = split_run_value(str(value))
    return EntryState(
        LOCATION, installed=True, enabled=True, command=command, problem=program_problem(command)
    )


def enable_autostart() -> EntryState:
    winreg = _winreg()
    try:
        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.SetValueEx(key, VALUE_NAME, 0, winreg.REG_SZ, run_value(tray_command()))
    except OSError as exc:
        raise DesktopError(f"cannot write {LOCATION}: {exc}") from None
    return autostart_state()


def disable_autostart() -> Removed:
    winreg = _winreg()
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, VALUE_NAME)
    except FileNotFoundError:
        return Removed()
    except OSError as exc:
        raise DesktopError(f"cannot remove {LOCATION}: {exc}") from None
    return Removed((LOCATION,))


def menu_entry_state() -> EntryState:
    return EntryState("the Start menu")


def install_menu_entry(icons: Mapping[int, bytes]) -> EntryState:
    raise DesktopError(
        "an application menu entry is made for Linux desktops; on Windows, start at login "
        "keeps loopcap running"
    )


def uninstall_menu_entry() -> Removed:
    return Removed()


def open_path(path: Path) -> None:
    try:
        os.startfile(path)  # type: ignore[attr-defined]  # noqa: S606 - Windows only
    except OSError as exc:
        raise DesktopError(f"cannot open {path}: {exc}") from None


def reveal_path(path: Path) -> None:
    # Explorer wants "/select," and the path as one argument; it exits 1 even when it worked.
    subprocess.Popen(["explorer", f"/select,{path}"])
