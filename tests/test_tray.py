"""``loopcap tray`` on a headless desktop: Xvfb, trayer as the tray host, a private D-Bus session
with dunst for notifications, real PulseAudio, and xdotool for the mouse and keys.

Each test starts its own display and stops everything it started by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tests.helpers import ROOT, Loopcap, stop_process, wait_until
from tests.rig import (
    PulseRig,
    XvfbRig,
    as_float,
    best_alignment,
    decode_to_array,
    read_wav,
    speech_wav,
    write_wav,
    xvfb_rig,
)

RATE = 48000
WIDTH, HEIGHT = 800, 600
TRAY_HEIGHT = 32
# assets/make_icons.py: the idle ring's grey.
IDLE_GREY = (128, 134, 140)
# Catch note, Save last 30 s, Save last 2 min, Listen to | Start audio recording, Start screen
# recording | Recent recordings, Open recordings folder, Settings, Start at login | Quit
MENU_ROWS = 11
START_AT_LOGIN_ROW = 9  # after "Listen to" and the two recording rows
CHECK_COLUMN = 24  # px at the left of the menu where GTK draws check boxes

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("Xvfb", "trayer", "xdotool", "dbus-run-session", "dunst")),
    reason="needs Xvfb, trayer, xdotool, dbus-run-session and dunst (make system-packages)",
)


def stop_pid(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


@dataclass
class TrayDesktop:
    xvfb: XvfbRig
    env: dict[str, str]

    def xdotool(self, *args: str) -> str:
        result = subprocess.run(
            ["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=10, check=True
        )
        return result.stdout

    def screenshot(self) -> npt.NDArray[np.uint8]:
        """The whole screen as RGB."""
        import mss

        with mss.MSS(display=self.xvfb.display) as grabber:
            shot = grabber.grab(grabber.monitors[0])
        bgra = np.frombuffer(shot.bgra, dtype=np.uint8).reshape(shot.height, shot.width, 4)
        rgb: npt.NDArray[np.uint8] = bgra[:, :, 2::-1].copy()
        return rgb


@contextlib.contextmanager
def tray_desktop(
    loopcap: Loopcap, *, tray_host: bool = True, record: bool = True
) -> Iterator[TrayDesktop]:
    extra = () if record else ("-extension", "RECORD")
    with xvfb_rig(WIDTH, HEIGHT, extra) as xvfb:
        # NO_AT_BRIDGE: GTK would start accessibility daemons that outlive the test.
        env = {**loopcap.env, "DISPLAY": xvfb.display, "NO_AT_BRIDGE": "1"}
        host = start_tray_host(env, xvfb.display) if tray_host else None
        try:
            yield TrayDesktop(xvfb, env)
        finally:
            if host is not None:
                stop_process(host, timeout=10)


def start_tray_host(env: dict[str, str], display: str) -> subprocess.Popen[bytes]:
    """trayer, once it owns the tray. It sometimes exits 1 at once without a word (seen on a busy
    machine, on main too): a second or third start works."""
    from tray.host import xembed_host

    for attempt in range(3):
        host = subprocess.Popen(
            [
                *("trayer", "--edge", "top", "--align", "right", "--widthtype", "request"),
                *("--height", str(TRAY_HEIGHT)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def owned(host: subprocess.Popen[bytes] = host) -> bool:
            return xembed_host(display) or host.poll() is not None

        wait_until(owned, 10, "trayer to own the tray")
        if host.poll() is None:
            return host
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError(f"trayer exited with {host.returncode}, three times")


@dataclass
class RunningTray:
    """``loopcap tray`` inside its own D-Bus session, with dunst showing its notifications."""

    proc: subprocess.Popen[str]
    loopcap: Loopcap
    bus_file: Path
    env: dict[str, str]
    stdout: queue.Queue[str] = field(default_factory=queue.Queue)
    stderr: list[str] = field(default_factory=list)

    def dunstctl(self, *args: str) -> str:
        """dunst's own control command, on the tray's private session bus."""
        bus = self.bus_file.read_text().strip()
        result = subprocess.run(
            ["dunstctl", *args],
            env={**self.env, "DBUS_SESSION_BUS_ADDRESS": bus},
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return result.stdout

    @property
    def pid(self) -> int:
        """The loopcap process itself (dbus-run-session does not pass signals on)."""
        return int((self.loopcap.runtime / "instance.pid").read_text().strip())

    def wait_stderr(self, text: str, timeout: float = 20) -> None:
        wait_until(lambda: any(text in line for line in self.stderr), timeout, repr(text))

    def next_saved(self, timeout: float = 30) -> Path:
        return Path(self.stdout.get(timeout=timeout).strip())


@contextlib.contextmanager
def running_tray(
    loopcap: Loopcap, desk: TrayDesktop, *args: str, dmenu: Path | None = None
) -> Iterator[RunningTray]:
    """``dmenu``: the program dunst's context menu (``dunstctl context``) offers actions to."""
    base = loopcap.home.parent
    bus_file, dunstrc = base / "session-bus", base / "dunstrc"
    dunstrc.write_text(f"[global]\n    dmenu = {dmenu}\n" if dmenu else "")
    script = (
        'echo "$DBUS_SESSION_BUS_ADDRESS" > "$1"; dunst -conf "$2" >/dev/null 2>&1 & d=$!; '
        'shift 2; "$@"; rc=$?; kill $d; exit $rc'
    )
    proc = subprocess.Popen(
        [
            *("dbus-run-session", "--", "sh", "-c", script, "sh", str(bus_file), str(dunstrc)),
            *loopcap.command("tray", *args),
        ],
        env=desk.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # its group (dbus-daemon, dunst, loopcap) can be stopped at once
    )
    tray = RunningTray(proc, loopcap, bus_file, desk.env)
    out, err = proc.stdout, proc.stderr
    assert out is not None and err is not None

    def read_stdout() -> None:
        for line in out:
            tray.stdout.put(line)

    def read_stderr() -> None:
        tray.stderr.extend(err)

    # Daemons: a child that outlives the test keeps the pipes open, and must not keep pytest.
    readers = [
        threading.Thread(target=read_stdout, daemon=True),
        threading.Thread(target=read_stderr, daemon=True),
    ]
    for reader in readers:
        reader.start()
    pid = None
    try:
        wait_until(
            lambda: (loopcap.runtime / "control.key").exists() or proc.poll() is not None,
            30,
            "loopcap to answer",
        )
        pid = tray.pid
        yield tray
    finally:
        if pid is not None:
            stop_pid(pid)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group this test started, by its id
            stop_process(proc, timeout=10)
            raise
        for reader in readers:
            reader.join(10)
        out.close()
        err.close()


def idle_icon_box(shot: npt.NDArray[np.uint8]) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of the idle icon's grey ring in the tray strip."""
    strip = shot[:TRAY_HEIGHT].astype(np.int16)
    close = (np.abs(strip - np.array(IDLE_GREY)).max(axis=2) <= 12).nonzero()
    if len(close[0]) < 30:  # a ring at 22-32 px has well over 30 such pixels
        return None
    return int(close[1].min()), int(close[0].min()), int(close[1].max()), int(close[0].max())


def menu_rows(shot: npt.NDArray[np.uint8]) -> list[int]:
    """Centres (y) of the text rows of the open menu: a light panel below the tray with dark text.

    Separators are light grey lines, not text, so they are not rows.
    """
    below = shot[TRAY_HEIGHT:].astype(np.int16).sum(axis=2)
    light = below > 3 * 200
    rows_light = light.sum(axis=1)
    panel = np.flatnonzero(rows_light > 100)
    assert len(panel), "no menu on the screen"
    top, bottom = int(panel[0]), int(panel[-1])
    cols = np.flatnonzero(light[top:bottom].sum(axis=0) > (bottom - top) // 2)
    left, right = int(cols[0]), int(cols[-1])
    # Text only: the check-box column at the left (Start at login) is not a row of its own.
    dark = (below[top:bottom, left + CHECK_COLUMN : right] < 3 * 100).any(axis=1)
    centres: list[int] = []
    start = None
    for y, is_text in enumerate([*dark.tolist(), False]):
        if is_text and start is None:
            start = y
        elif not is_text and start is not None:
            centres.append(TRAY_HEIGHT + top + (start + y) // 2)
            start = None
    return centres


def docked_icon(desk: TrayDesktop) -> tuple[int, int, int, int]:
    """The idle icon's box once trayer shows it whole in its strip."""
    box = None

    def docked() -> bool:
        nonlocal box
        box = idle_icon_box(desk.screenshot())
        # While trayer docks it, the icon can show for a moment cut or at its old place.
        return box is not None and 16 <= box[2] - box[0] <= TRAY_HEIGHT

    wait_until(docked, 10, "the idle icon in the tray strip")
    assert box is not None
    _x0, _y0, x1, y1 = box
    assert x1 > WIDTH - 64 and y1 < TRAY_HEIGHT, f"icon at {box}, not in trayer's strip"
    return box


def open_menu(desk: TrayDesktop) -> list[int]:
    """Right-click the icon; the centres of the menu's rows once all are drawn. A click that
    lands while GTK rebuilds the menu (after an item changed it) opens nothing: click again."""
    x0, y0, x1, y1 = docked_icon(desk)
    rows: list[int] = []

    def menu_open() -> bool:
        nonlocal rows
        with contextlib.suppress(AssertionError):
            rows = menu_rows(desk.screenshot())
        return len(rows) == MENU_ROWS

    for attempt in range(3):
        desk.xdotool("mousemove", str((x0 + x1) // 2), str((y0 + y1) // 2), "click", "3")
        with contextlib.suppress(AssertionError):
            wait_until(menu_open, 5, f"the menu's {MENU_ROWS} rows")
            return rows
        if attempt < 2:
            desk.xdotool("key", "Escape")
    raise AssertionError(f"the menu did not open with {MENU_ROWS} rows ({len(rows)} seen)")


def check_mark_pixels(shot: npt.NDArray[np.uint8], row: int) -> int:
    """Dark pixels in the check-mark column at the left of a menu row."""
    below = shot[TRAY_HEIGHT:].astype(np.int16).sum(axis=2)
    light_cols = np.flatnonzero((below > 3 * 200).sum(axis=0) > 100)
    left = int(light_cols[0])
    band = shot[row - 8 : row + 9, left : left + CHECK_COLUMN].astype(np.int16).sum(axis=2)
    return int((band < 3 * 100).sum())


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> npt.NDArray[np.int16]:
    folder = tmp_path_factory.mktemp("tray-speech")
    text = "This voice note keeps talking for a few seconds, so a key can be pressed in the middle."
    return read_wav(speech_wav(folder / "note.wav", text))[0]


def test_menu_docks_opens_and_saves_the_last_30_seconds(
    loopcap: Loopcap, pulse: PulseRig, speech: npt.NDArray[np.int16], tmp_path: Path
) -> None:
    clip = write_wav(tmp_path / "clip.wav", speech)
    with tray_desktop(loopcap) as desk, running_tray(loopcap, desk) as tray:
        tray.wait_stderr("tray icon ready")
        assert "appindicator backend, menu" in "".join(tray.stderr)
        pulse.play(clip).wait(timeout=30)
        time.sleep(0.3)
        rows = open_menu(desk)
        # Catch note, Save last 30 s, Save last 2 min, Listen to, | Start audio, Start screen, | ...
        desk.xdotool("mousemove", str(WIDTH - 100), str(rows[1]), "click", "1")
        saved = tray.next_saved()

    assert saved.exists() and saved.parent.is_relative_to(loopcap.home), saved
    recorded = decode_to_array(saved)
    # The tray has listened for less than 30 s: all of it is saved, no more than 30 s.
    assert len(speech) < len(recorded) <= 30.5 * RATE
    offset, score = best_alignment(recorded, as_float(speech))
    assert score >= 0.95, score
    assert 0 < offset < len(recorded) - len(speech), "the whole clip is inside the 30 s"


def test_start_at_login_item_reflects_and_changes_the_autostart_entry(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path
) -> None:
    loopcap.env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    entry = tmp_path / "xdg-config" / "autostart" / "loopcap.desktop"
    assert loopcap.run("autostart", "on").returncode == 0  # on before the tray starts
    with tray_desktop(loopcap) as desk, running_tray(loopcap, desk, "--no-hotkeys") as tray:
        tray.wait_stderr("tray icon ready")
        rows = open_menu(desk)
        y = rows[START_AT_LOGIN_ROW]
        checked = check_mark_pixels(desk.screenshot(), y)
        desk.xdotool("mousemove", str(WIDTH - 100), str(y), "click", "1")
        wait_until(lambda: not entry.exists(), 10, "the click to remove the autostart entry")

        rows = open_menu(desk)
        unchecked = check_mark_pixels(desk.screenshot(), rows[START_AT_LOGIN_ROW])
        desk.xdotool("mousemove", str(WIDTH - 100), str(rows[START_AT_LOGIN_ROW]), "click", "1")
        wait_until(entry.exists, 10, "the click to write the autostart entry")
        assert "X-Loopcap-Managed=true" in entry.read_text()

        # Turned off from outside while the tray runs: the menu follows within its 1 s tick.
        assert loopcap.run("autostart", "off").returncode == 0
        time.sleep(2)
        rows = open_menu(desk)
        outside = check_mark_pixels(desk.screenshot(), rows[START_AT_LOGIN_ROW])
        desk.xdotool("key", "Escape")
    # An empty box when off; the check mark inside it adds its dark pixels when on.
    assert checked >= unchecked + 20, (checked, unchecked)
    assert abs(outside - unchecked) <= 5, (unchecked, outside)


def test_saved_note_notification_names_the_file_and_shows_its_folder(
    loopcap: Loopcap, pulse: PulseRig, speech: npt.NDArray[np.int16], tmp_path: Path
) -> None:
    """The notification reaches dunst with the file's name and offers Open and Show in folder;
    choosing Show in folder (dunst's context menu, through a stand-in dmenu) opens the folder.
    No file manager answers on the private bus, so loopcap opens the folder with xdg-open,
    here a stand-in that writes down what it was asked to open."""
    tools = tmp_path / "bin"
    tools.mkdir()
    opened, offered = tmp_path / "opened.txt", tmp_path / "offered.txt"
    xdg_open = tools / "xdg-open"
    xdg_open.write_text(f'#!/bin/sh\necho "$@" >> {opened}\n')
    dmenu = tools / "dmenu"
    dmenu.write_text(f'#!/bin/sh\ntee {offered} | grep -m1 "Show in folder"\n')
    for tool in (xdg_open, dmenu):
        tool.chmod(0o755)
    loopcap.env["PATH"] = f"{tools}:{loopcap.env['PATH']}"
    with (
        tray_desktop(loopcap) as desk,
        running_tray(loopcap, desk, "--no-hotkeys", dmenu=dmenu) as tray,
    ):
        tray.wait_stderr("tray icon ready")
        pulse.play(write_wav(tmp_path / "note.wav", speech)).wait(timeout=30)
        result = loopcap.run("ctl", "catch-note", "--wait")  # the note that just ended
        assert result.returncode == 0, result.stderr
        saved = Path(result.stdout.strip())
        assert tray.next_saved() == saved
        wait_until(lambda: int(tray.dunstctl("count", "displayed")) >= 1, 10, "dunst to show it")
        tray.dunstctl("context")
        wait_until(opened.exists, 10, "Show in folder to open the folder")
        history: dict[str, Any] = {}

        def in_history() -> bool:
            nonlocal history
            history = json.loads(tray.dunstctl("history"))
            return bool(history["data"][0])

        wait_until(in_history, 10, "the notification in dunst's history")
    assert opened.read_text().split() == [str(saved.parent)]
    notes = history["data"][0]
    assert len(notes) == 1, notes
    assert notes[0]["summary"]["data"] == "Note saved"
    assert saved.name in notes[0]["body"]["data"]
    actions = [line.split(" (")[0] for line in offered.read_text().splitlines()]
    assert "#Open" in actions and "#Show in folder" in actions, actions


def test_hotkey_while_a_note_plays_saves_it_from_its_start(
    loopcap: Loopcap, pulse: PulseRig, speech: npt.NDArray[np.int16], tmp_path: Path
) -> None:
    silence = np.zeros((RATE, 2), dtype=np.int16)
    clip = write_wav(tmp_path / "note.wav", np.concatenate([silence, speech]))
    with tray_desktop(loopcap) as desk, running_tray(loopcap, desk) as tray:
        tray.wait_stderr("hotkeys active")
        player = pulse.play(clip)
        time.sleep(1.0 + 1.5)  # halfway into the speech
        desk.xdotool("key", "ctrl+alt+n")
        player.wait(timeout=30)
        saved = tray.next_saved()
    recorded = decode_to_array(saved)
    offset, score = best_alignment(recorded, as_float(speech))
    assert score >= 0.95, score
    assert 0 <= offset <= 0.5 * RATE, "the note starts at the speech, from before the key press"
    assert len(recorded) >= len(speech), "the whole note, to its end"


def test_without_a_tray_host_it_keeps_working_and_says_so(
    loopcap: Loopcap, pulse: PulseRig
) -> None:
    with tray_desktop(loopcap, tray_host=False) as desk, running_tray(loopcap, desk) as tray:
        tray.wait_stderr("running without it")
        status = loopcap.run("ctl", "status", "--json")
        assert status.returncode == 0, status.stderr
        assert '"state": "listening"' in status.stdout
        saved = loopcap.run("ctl", "save-last", "2")
        assert saved.returncode == 0, saved.stderr
        assert Path(saved.stdout.strip()).exists()
    said = "".join(tray.stderr)
    assert "no system tray host is running" in said
    assert "hotkeys and 'loopcap ctl' still work" in said
    assert tray.proc.returncode == 0, said


def test_without_record_extension_it_keeps_working_without_hotkeys(
    loopcap: Loopcap, pulse: PulseRig
) -> None:
    with tray_desktop(loopcap, record=False) as desk, running_tray(loopcap, desk) as tray:
        tray.wait_stderr("tray icon ready")
        status = loopcap.status()
        assert status["hotkeys_active"] is False
        assert "lacks the RECORD extension" in status["hotkeys"]
    said = "".join(tray.stderr)
    assert "lacks the RECORD extension" in said and "loopcap ctl" in said
    assert tray.proc.returncode == 0, said


def test_second_tray_is_refused(loopcap: Loopcap, pulse: PulseRig) -> None:
    with tray_desktop(loopcap) as desk, running_tray(loopcap, desk) as first:
        first.wait_stderr("tray icon ready")
        second = loopcap.run("tray", timeout=30, DISPLAY=desk.xvfb.display)
        assert second.returncode == 1
        assert f"loopcap is already running (pid {first.pid})" in second.stderr


def test_labels_and_tray_host_check() -> None:
    """The pure parts need no desktop."""
    from datetime import datetime

    from tray.app import duration_label, hotkey_label, recent_label
    from tray.host import why_no_tray

    assert recent_label("note", datetime(2026, 11, 30, 14, 2, 59), 37.9) == "note 14:02, 0:37"
    assert hotkey_label("<ctrl>+<alt>+n") == "Ctrl+Alt+N"
    assert duration_label(75) == "1:15" and duration_label(3725) == "1:02:05"
    assert "no display" in why_no_tray({}, "linux")
    assert why_no_tray({}, "win32") == ""


def embedded_icon_box(display_name: str) -> tuple[int, int, int, int] | None:
    """Root position and size of loopcap's icon window once a tray host has embedded it.

    None until then, and also when a window of the tree went away during the walk (trayer and
    GTK create and destroy windows while docking): the caller asks again.
    """
    from Xlib import display as xdisplay
    from Xlib import error as xerror

    conn = xdisplay.Display(display_name)
    try:
        return _find_embedded_icon(conn)
    except (xerror.BadWindow, xerror.BadDrawable):
        return None
    finally:
        conn.close()


def _find_embedded_icon(conn: Any) -> tuple[int, int, int, int] | None:
    root = conn.screen().root
    pending = list(root.query_tree().children)
    while pending:
        window = pending.pop()
        pending.extend(window.query_tree().children)
        wm_class = window.get_wm_class() or ()
        if "loopcapSystemTrayIcon" not in wm_class:
            continue
        if window.query_tree().parent.id == root.id:
            return None  # not (yet) embedded
        geometry = window.get_geometry()
        origin = window.translate_coords(root, 0, 0)
        return -origin.x, -origin.y, geometry.width, geometry.height
    return None


def test_xorg_fallback_left_click_catches_a_note(loopcap: Loopcap, pulse: PulseRig) -> None:
    """pystray's xorg backend (no PyGObject): no menu, but a left click still catches a note.

    Nothing plays, so the click arms the catcher for the next note; the service reports it.
    """
    loopcap.env["PYSTRAY_BACKEND"] = "xorg"
    with tray_desktop(loopcap) as desk, running_tray(loopcap, desk, "--no-hotkeys") as tray:
        tray.wait_stderr("tray icon ready")
        said = "".join(tray.stderr)
        assert "xorg backend, no menu: a left click catches a note" in said
        assert "install PyGObject" in said
        # Docked means trayer took the icon's window in (its parent is no longer the root).
        box: tuple[int, int, int, int] | None = None

        def docked() -> bool:
            nonlocal box
            box = embedded_icon_box(desk.env["DISPLAY"])
            # Just taken in, the window is still 1x1 at trayer's edge until trayer sizes it.
            return box is not None and box[2] > 8 and box[3] > 8

        wait_until(docked, 10, "trayer to embed the icon and give it its size")
        assert box is not None
        x, y, width, height = box
        assert x > WIDTH - 64 and 0 <= y < TRAY_HEIGHT, f"icon at {box}, not in trayer's strip"

        def drawn() -> bool:
            pixels = desk.screenshot()[y : y + height, x : x + width].max(axis=2) > 60
            return int(pixels.sum()) > 30

        wait_until(drawn, 10, "the icon drawn where it was embedded")
        assert loopcap.status()["catch"] == "idle"
        desk.xdotool("mousemove", str(x + width // 2), str(y + height // 2), "click", "1")
        wait_until(
            lambda: loopcap.status()["catch"] == "armed",
            10,
            "the click to arm the note catcher",
        )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_saves_the_recording_and_quits(
    loopcap: Loopcap,
    pulse: PulseRig,
    speech: npt.NDArray[np.int16],
    tmp_path: Path,
    stop_signal: signal.Signals,
) -> None:
    """``kill`` and a closed session (SIGHUP) while recording: the tray quits cleanly and the
    recording so far is a finished file, not a ``.part`` left for recovery."""
    clip = write_wav(tmp_path / "clip.wav", speech)
    with tray_desktop(loopcap) as desk, running_tray(loopcap, desk) as tray:
        tray.wait_stderr("tray icon ready")
        started = loopcap.run("ctl", "start")
        assert started.returncode == 0, started.stderr
        pulse.play(clip).wait(timeout=30)
        os.kill(tray.pid, stop_signal)
        tray.proc.wait(30)
        saved = tray.next_saved()
    assert tray.proc.returncode == 0, "".join(tray.stderr)
    assert saved.exists() and saved.parent.is_relative_to(loopcap.home), saved
    assert not list(saved.parent.glob("*.part")), "nothing half-written is left"
    _offset, score = best_alignment(decode_to_array(saved), as_float(speech))
    assert score >= 0.95, score
