"""Start at login, the application menu entry, and their Windows/macOS counterparts.

Linux runs for real: the ``loopcap`` command writes and removes files under a private HOME and
XDG folders, ``desktop-file-validate`` judges them, and the Exec line is run from a clean
environment. Windows and macOS: their pure parts here, the rest skipped with the reason.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import Loopcap, make_loopcap

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="XDG autostart and menu entries are Linux's"
)
needs_validator = pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None,
    reason="needs desktop-file-validate (desktop-file-utils; make system-packages)",
)


@pytest.fixture
def desk(tmp_path: Path) -> Loopcap:
    """The loopcap command with a private HOME and XDG folders, no audio server needed."""
    loopcap = make_loopcap(tmp_path, {})
    loopcap.env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    loopcap.env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    return loopcap


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under ``root``."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def validate(path: Path) -> None:
    result = subprocess.run(
        ["desktop-file-validate", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def exec_argv(entry: Path) -> list[str]:
    from capture.desktop._entry import parse, parse_exec

    return parse_exec(parse(entry.read_text(encoding="utf-8"))["Exec"])


@linux_only
@needs_validator
def test_autostart_on_status_off_round_trip(desk: Loopcap, tmp_path: Path) -> None:
    config = Path(desk.env["XDG_CONFIG_HOME"])
    # Someone else's autostart entry is there already: loopcap must leave it exactly as it is.
    (config / "autostart").mkdir(parents=True)
    (config / "autostart" / "other.desktop").write_text("[Desktop Entry]\nName=other\n")
    before = tree(tmp_path)

    off = desk.run("autostart", "status")
    assert off.returncode == 1 and "off" in off.stdout, off

    on = desk.run("autostart", "on")
    assert on.returncode == 0, on.stderr
    entry = config / "autostart" / "loopcap.desktop"
    assert entry.is_file(), on.stdout
    assert not (desk.home / ".config").exists(), "XDG_CONFIG_HOME is honoured, not ~/.config"
    validate(entry)

    argv = exec_argv(entry)
    assert Path(argv[0]).is_absolute() and argv[-1] == "tray", argv
    # The entry's command works at login: no PYTHONPATH, no venv on PATH, nothing but HOME.
    version = subprocess.run(
        ["env", "-i", f"HOME={desk.home}", "PATH=/usr/bin:/bin", *argv[:-1], "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("loopcap "), version.stdout

    status = desk.run("autostart", "status")
    assert status.returncode == 0 and str(entry) in status.stdout, status
    again = desk.run("autostart", "on")  # rewriting loopcap's own entry is fine
    assert again.returncode == 0, again.stderr

    gone = desk.run("autostart", "off")
    assert gone.returncode == 0, gone.stderr
    assert f"removed {entry}" in gone.stdout
    assert tree(tmp_path) == before, "off removes exactly what on added"
    nothing = desk.run("autostart", "off")
    assert nothing.returncode == 0 and "off already" in nothing.stdout


@linux_only
def test_autostart_default_folder_and_foreign_entry(desk: Loopcap, tmp_path: Path) -> None:
    """Without XDG_CONFIG_HOME it is ~/.config/autostart; an entry loopcap did not write there is
    neither replaced nor removed, and the refusal is one clear line."""
    from tests.helpers import assert_one_clear_line

    del desk.env["XDG_CONFIG_HOME"]
    mine = desk.home / ".config" / "autostart" / "loopcap.desktop"
    created = desk.run("autostart", "on")
    assert created.returncode == 0 and mine.is_file(), created
    assert desk.run("autostart", "off").returncode == 0
    assert not (desk.home / ".config").exists(), "the folders it created went with it"

    mine.parent.mkdir(parents=True)
    mine.write_text("[Desktop Entry]\nType=Application\nName=mine\nExec=/bin/true\n")
    for action in ("on", "off"):
        refused = desk.run("autostart", action)
        assert refused.returncode == 1, refused
        assert_one_clear_line(refused.stderr)
        assert "was not written by loopcap" in refused.stderr
    assert "Name=mine" in mine.read_text()


@linux_only
@needs_validator
def test_menu_entry_install_and_uninstall(desk: Loopcap, tmp_path: Path) -> None:
    from PIL import Image

    from capture.desktop import ICON_SIZES

    data = Path(desk.env["XDG_DATA_HOME"])
    # An icon of that name that loopcap did not put there stays, untouched.
    theirs = data / "icons" / "hicolor" / "48x48" / "apps" / "loopcap.png"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"not loopcap's")
    before = tree(tmp_path)

    assert desk.run("desktop", "status").returncode == 1
    installed = desk.run("desktop", "install")
    assert installed.returncode == 0, installed.stderr
    entry = data / "applications" / "loopcap.desktop"
    validate(entry)
    argv = exec_argv(entry)
    assert Path(argv[0]).is_file() and argv[1:] == ["tray"], argv
    for size in ICON_SIZES:
        icon = data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "loopcap.png"
        if size == 48:
            assert icon.read_bytes() == b"not loopcap's"
            continue
        with Image.open(icon) as image:
            assert image.format == "PNG" and image.size == (size, size), icon
            assert image.getchannel("A").getextrema()[1] == 255, "something is drawn"
    status = desk.run("desktop", "status")
    assert status.returncode == 0 and str(entry) in status.stdout

    removed = desk.run("desktop", "uninstall")
    assert removed.returncode == 0, removed.stderr
    assert tree(tmp_path) == before, "uninstall removes exactly what install added"


def test_doctor_reports_autostart_and_menu_entry(desk: Loopcap) -> None:
    def lines() -> dict[str, str]:
        out = desk.run("doctor").stdout
        return {
            name: line
            for line in out.splitlines()
            for name in ("start at login", "menu entry")
            if f" {name}:" in line
        }

    before = lines()
    assert "not installed" in before["start at login"], before
    assert desk.run("autostart", "on").returncode == 0
    after = lines()
    assert after["start at login"].startswith("✓"), after
    if sys.platform.startswith("linux"):
        assert "not installed" in after["menu entry"]
        assert desk.run("desktop", "install").returncode == 0
        assert lines()["menu entry"].startswith("✓")


def test_doctor_names_an_entry_whose_program_is_gone(
    desk: Loopcap, monkeypatch: pytest.MonkeyPatch
) -> None:
    from capture.desktop import _linux

    if not sys.platform.startswith("linux"):
        pytest.skip("the entry is written by the Linux module here")
    for key in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "HOME"):
        monkeypatch.setenv(key, desk.env[key])
    monkeypatch.setattr(_linux, "console_command", lambda: ["/nonexistent/venv/bin/loopcap"])
    _linux.enable_autostart()
    from capture.doctor import check_desktop

    check = next(c for c in check_desktop() if c.name == "start at login")
    assert not check.ok and "/nonexistent/venv/bin/loopcap, which no longer exists" in check.detail


# -- the Exec line's quoting -------------------------------------------------------------------

AWKWARD_ARGVS = [
    ["/home/me/My Programs/venv/bin/loopcap", "tray"],
    ['/opt/"quoted"/$HOME/`tick`/back\\slash/100%/loopcap', "tray"],
    ["/plain/loopcap", "tray"],
    ["", "two words", "tab\there"],
]


@pytest.mark.parametrize("argv", AWKWARD_ARGVS)
def test_exec_value_round_trips_as_glib_reads_it(argv: list[str]) -> None:
    from capture.desktop._entry import exec_value, parse_exec

    value = exec_value(argv)
    assert parse_exec(value) == argv
    try:
        from gi.repository import GLib
    except ImportError:
        pytest.skip("PyGObject is not installed: GLib's own reading is not checked")
    text = f"[Desktop Entry]\nExec={value}\n"
    keyfile = GLib.KeyFile()
    keyfile.load_from_data(text, len(text.encode()), GLib.KeyFileFlags.NONE)
    command = keyfile.get_string("Desktop Entry", "Exec").replace("%%", "%")
    assert GLib.shell_parse_argv(command)[1] == argv


def test_exec_field_codes_and_bad_quotes() -> None:
    from capture.desktop._entry import parse_exec, parse_string_list, string_list

    assert parse_exec("/bin/loopcap tray %U") == ["/bin/loopcap", "tray"]
    assert parse_exec('"/a b/x" %% "50%%"') == ["/a b/x", "%", "50%"]
    with pytest.raises(ValueError, match="unclosed quote"):
        parse_exec('"/a b/x tray')
    items = ["/a;b", "c\\d", ""]
    assert parse_string_list(string_list(items)) == items


# -- Windows: the Run value ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [r"C:\Users\Ann Lee\venv\Scripts\pythonw.exe", "-m", "capture", "tray"],
        [r"C:\x\loopcap.exe", "tray"],
        [r'C:\odd "quote"\trailing slash\\', "a b"],
    ],
)
def test_windows_run_value_round_trips(argv: list[str]) -> None:
    from capture.desktop._windows import run_value, split_run_value

    assert split_run_value(run_value(argv)) == tuple(argv)


def test_windows_login_command_prefers_pythonw() -> None:
    from capture.desktop._windows import login_command, run_value

    python = r"C:\Users\Ann Lee\venv\Scripts\python.exe"
    console = [r"C:\Users\Ann Lee\venv\Scripts\loopcap.exe"]
    windowless = login_command(python, True, console)
    assert windowless[1:] == ["-m", "capture", "tray"]
    assert windowless[0].endswith("pythonw.exe") and "Ann Lee" in windowless[0]
    assert run_value(windowless).startswith('"C:\\Users\\Ann Lee\\venv\\Scripts\\pythonw.exe" ')
    assert login_command(python, False, console) == [*console, "tray"]


@pytest.mark.skipif(not sys.platform.startswith("win"), reason="the Run key exists on Windows only")
def test_windows_run_key_round_trip() -> None:
    from capture import desktop

    assert desktop.enable_autostart().installed
    assert desktop.disable_autostart().items
    assert not desktop.autostart_state().installed


# -- macOS: the LaunchAgent ----------------------------------------------------------------------


def test_macos_agent_plist(tmp_path: Path) -> None:
    from capture.desktop._macos import LABEL, agent_path, agent_plist, log_path, read_agent

    command = ["/Users/ann/.local/pipx/venvs/loopcap/bin/loopcap", "tray"]
    data = agent_plist(command, log_path(tmp_path))
    agent = plistlib.loads(data)
    assert agent["Label"] == LABEL
    assert agent["ProgramArguments"] == command
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] is False
    assert agent["LimitLoadToSessionType"] == "Aqua"
    assert agent["StandardErrorPath"].endswith("Library/Logs/loopcap.log")
    assert read_agent(data) == (True, tuple(command))
    assert read_agent(plistlib.dumps({"Label": "com.other"})) == (False, ())
    assert read_agent(b"not a plist") == (False, ())
    assert agent_path(tmp_path) == tmp_path / "Library" / "LaunchAgents" / f"{LABEL}.plist"


@pytest.mark.skipif(sys.platform != "darwin", reason="LaunchAgents exist on macOS only")
def test_macos_launch_agent_round_trip() -> None:
    from capture import desktop

    assert desktop.enable_autostart().installed
    subprocess.run(["plutil", "-lint", desktop.autostart_state().location], check=True)
    assert desktop.disable_autostart().items


def test_where_label() -> None:
    from capture.desktop.notify import where_label

    home = Path("/home/ann")
    assert where_label(home / "Music" / "loopcap", home) == "~/Music/loopcap"
    assert where_label(Path("/mnt/notes"), home) == "/mnt/notes"
    assert os.sep == "/" or where_label(home, home) == "~"


def test_a_notice_no_server_takes_goes_to_on_unshown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No session bus: send() still returns at once, and the notice comes back to be said
    another way (the tray prints it on stderr)."""
    import queue

    from capture.desktop.notify import Notice, Notifier

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    unshown: queue.Queue[Notice] = queue.Queue()
    notifier = Notifier(on_unshown=unshown.put)
    try:
        notice = Notice("Note saved", "note.mp3 (0:05)", file=tmp_path / "note.mp3")
        notifier.send(notice)
        assert unshown.get(timeout=10) == notice
        assert not notifier.supports_actions()
    finally:
        notifier.close()
        notifier.close()


@linux_only
def test_an_entry_the_desktop_switched_off_is_off(desk: Loopcap) -> None:
    """GNOME's Startup Applications switches loopcap's own entry off in place; 'on' turns it on."""
    assert desk.run("autostart", "on").returncode == 0
    entry = Path(desk.env["XDG_CONFIG_HOME"]) / "autostart" / "loopcap.desktop"
    text = entry.read_text().replace(
        "X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false"
    )
    entry.write_text(text)
    status = desk.run("autostart", "status")
    assert status.returncode == 1 and "switched off by the desktop" in status.stdout, status
    assert desk.run("autostart", "on").returncode == 0
    assert desk.run("autostart", "status").returncode == 0
    assert "X-GNOME-Autostart-enabled=true" in entry.read_text()
