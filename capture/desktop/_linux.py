"""Linux and other freedesktop.org systems: XDG autostart, an application menu entry with its
icons in the hicolor theme, xdg-open, and the file manager's ShowItems over D-Bus.

Every file loopcap writes carries ``X-Loopcap-Managed=true``, and the entry lists the other files
and the folders it created (``X-Loopcap-Files``, ``X-Loopcap-Created-Folders``), so that turning
it off removes exactly what was added and never a file of the user's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from capture.desktop import _entry
from capture.desktop._types import (
    EntryState,
    Removed,
    console_command,
    program_problem,
    replace_file,
)
from capture.errors import DesktopError

ENTRY_NAME = "loopcap.desktop"
ICON_NAME = "loopcap"
MANAGED = "X-Loopcap-Managed"
FILES = "X-Loopcap-Files"
CREATED = "X-Loopcap-Created-Folders"


def tray_command() -> list[str]:
    return [*console_command(), "tray"]


def config_home() -> Path:
    """``$XDG_CONFIG_HOME`` when set to an absolute path (the specification ignores others)."""
    return _xdg_home("XDG_CONFIG_HOME", ".config")


def data_home() -> Path:
    return _xdg_home("XDG_DATA_HOME", ".local/share")


def _xdg_home(variable: str, default: str) -> Path:
    value = os.environ.get(variable, "")
    return Path(value) if value and Path(value).is_absolute() else Path.home() / default


def autostart_path() -> Path:
    return config_home() / "autostart" / ENTRY_NAME


def menu_entry_path() -> Path:
    return data_home() / "applications" / ENTRY_NAME


def icon_path(size: int) -> Path:
    return data_home() / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"


def entry_keys(command: Sequence[str], *, autostart: bool) -> dict[str, str]:
    """The keys of loopcap's entry (without the bookkeeping ones)."""
    keys = {
        "Type": "Application",
        "Version": "1.4",
        "Name": "loopcap",
        "GenericName": "Sound Recorder",
        "Comment": "Keep what your computer is playing; catch voice notes with one key",
        "Exec": _entry.exec_value(command),
        "TryExec": _entry.exec_value(command[:1]),
        "Icon": ICON_NAME,
        "Terminal": "false",
        "StartupNotify": "false",
        "Categories": "AudioVideo;Audio;Recorder;",
        "Keywords": "record;loopback;voice note;WhatsApp;screen;",
    }
    if autostart:
        keys["X-GNOME-Autostart-enabled"] = "true"
    return keys


# -- start at login --------------------------------------------------------------------------


def autostart_state() -> EntryState:
    return _state(autostart_path())


def enable_autostart() -> EntryState:
    path = autostart_path()
    _write_entry(path, entry_keys(tray_command(), autostart=True), {})
    return autostart_state()


def disable_autostart() -> Removed:
    return _remove_entry(autostart_path())


# -- the application menu --------------------------------------------------------------------


def menu_entry_state() -> EntryState:
    return _state(menu_entry_path())


def install_menu_entry(icons: Mapping[int, bytes]) -> EntryState:
    path = menu_entry_path()
    _write_entry(
        path,
        entry_keys(tray_command(), autostart=False),
        {icon_path(size): data for size, data in icons.items()},
    )
    return menu_entry_state()


def uninstall_menu_entry() -> Removed:
    return _remove_entry(menu_entry_path())


# -- files and folders -----------------------------------------------------------------------


def open_path(path: Path) -> None:
    _spawn(["xdg-open", str(path)], path)


def reveal_path(path: Path) -> None:
    """Show ``path`` selected in the file manager (org.freedesktop.FileManager1, which Nautilus,
    Dolphin, Nemo, Thunar... offer), or open its folder when no file manager answers there."""
    uri = path.resolve().as_uri()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        shown = subprocess.run(
            [
                *("dbus-send", "--session", "--print-reply", "--reply-timeout=3000"),
                "--dest=org.freedesktop.FileManager1",
                "/org/freedesktop/FileManager1",
                "org.freedesktop.FileManager1.ShowItems",
                f"array:string:{uri}",
                "string:",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=5,
            check=False,
        )
        if shown.returncode == 0:
            return
    open_path(path.parent)


def _spawn(argv: list[str], path: Path) -> None:
    try:
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # the opened program outlives loopcap and is not its child
        )
    except FileNotFoundError:
        raise DesktopError(f"cannot open {path}: '{argv[0]}' is not installed") from None


def _read(path: Path) -> dict[str, str] | None:
    try:
        return _entry.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DesktopError(f"cannot read {path}: {exc}") from None


def _state(path: Path) -> EntryState:
    keys = _read(path)
    if keys is None:
        return EntryState(str(path))
    try:
        command = tuple(_entry.parse_exec(keys.get("Exec", "")))
    except ValueError:
        command = ()
    if keys.get(MANAGED) != "true":
        return EntryState(str(path), installed=True, enabled=True, foreign=True, command=command)
    switched_off = keys.get("Hidden") == "true" or keys.get("X-GNOME-Autostart-enabled") == "false"
    return EntryState(
        str(path),
        installed=True,
        enabled=not switched_off,
        command=command,
        problem=program_problem(command),
    )


def _not_ours(path: Path) -> DesktopError:
    return DesktopError(
        f"{path} exists and was not written by loopcap; loopcap leaves it alone "
        "(remove or rename it yourself if loopcap should manage it)"
    )


def _write_entry(path: Path, keys: dict[str, str], extra: Mapping[Path, bytes]) -> None:
    """Write (or rewrite) loopcap's entry at ``path`` and the ``extra`` files, recording what
    was created; a file of the user's is never overwritten."""
    previous = _read(path)
    if previous is not None and previous.get(MANAGED) != "true":
        raise _not_ours(path)
    ours_before = set(_entry.parse_string_list((previous or {}).get(FILES, "")))
    created = _entry.parse_string_list((previous or {}).get(CREATED, ""))
    written: list[str] = []
    try:
        for file, data in extra.items():
            if file.exists() and str(file) not in ours_before:
                continue  # someone else's icon of that name: keep it, and do not list it
            created += _make_folders(file.parent)
            replace_file(file, data)
            written.append(str(file))
        created += _make_folders(path.parent)
        keys = {**keys, MANAGED: "true"}
        if written:
            keys[FILES] = _entry.string_list(written)
        if created:
            keys[CREATED] = _entry.string_list(created)
        replace_file(path, _entry.render(keys).encode("utf-8"))
    except OSError as exc:
        raise DesktopError(f"cannot write {path}: {exc.strerror or exc}") from None
    for stale in ours_before - set(written):  # an icon size no longer shipped
        with contextlib.suppress(FileNotFoundError):
            Path(stale).unlink()


def _make_folders(folder: Path) -> list[str]:
    """Create ``folder`` and its missing parents; the ones created, outermost first."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()][::-1]
    folder.mkdir(parents=True, exist_ok=True)
    return [str(p) for p in missing]


def _remove_entry(path: Path) -> Removed:
    """Remove loopcap's entry, the files it lists, then the folders it created if empty."""
    keys = _read(path)
    if keys is None:
        return Removed()
    if keys.get(MANAGED) != "true":
        raise _not_ours(path)
    files: list[str] = []
    folders: list[str] = []
    try:
        for name in [*_entry.parse_string_list(keys.get(FILES, "")), str(path)]:
            with contextlib.suppress(FileNotFoundError):
                Path(name).unlink()
                files.append(name)
        for name in sorted(_entry.parse_string_list(keys.get(CREATED, "")), key=len, reverse=True):
            with contextlib.suppress(FileNotFoundError, OSError):  # not empty: keep it
                Path(name).rmdir()
                folders.append(name)
    except OSError as exc:
        raise DesktopError(f"cannot remove {path}: {exc.strerror or exc}") from None
    return Removed(tuple(files), tuple(folders))
