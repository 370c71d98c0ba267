"""Fixtures: a real PulseAudio with a virtual speaker, a private loopcap state, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.rig import PulseRig, pulse_rig

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseRig]:
    """One audio server for the whole run; its environment is also set in this process."""
    with pulse_rig(tmp_path_factory.mktemp("pulse")) as rig:
        saved = {key: os.environ.get(key) for key in rig.env}
        os.environ.update(rig.env)
        try:
            yield rig
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture
def private_pulse(tmp_path: Path) -> Iterator[PulseRig]:
    """An audio server of this test's own, for tests that kill it."""
    with pulse_rig(tmp_path / "pulse") as rig:
        yield rig


@dataclass
class Loopcap:
    """Runs the real ``loopcap`` command with a private settings and state folder."""

    env: dict[str, str]
    home: Path

    @property
    def runtime(self) -> Path:
        """Where the running instance keeps its lock, control socket and key."""
        return Path(self.env["LOOPCAP_RUNTIME_DIR"])

    @property
    def sessions(self) -> Path:
        return Path(self.env["LOOPCAP_STATE_DIR"]) / "sessions"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "capture", *args]

    def run(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            check=False,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )


def make_loopcap(base: Path, rig_env: dict[str, str]) -> Loopcap:
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **rig_env,
        "LOOPCAP_STATE_DIR": str(base / "state"),
        "LOOPCAP_CONFIG_DIR": str(base / "config"),
        "LOOPCAP_RUNTIME_DIR": str(base / "runtime"),
        "PYTHONPATH": str(ROOT),
        "HOME": str(home),
        "XDG_MUSIC_DIR": str(home / "Music"),
    }
    return Loopcap(env, home)


@pytest.fixture
def loopcap(tmp_path: Path, pulse: PulseRig) -> Loopcap:
    return make_loopcap(tmp_path, pulse.env)


def assert_one_clear_line(stderr: str) -> None:
    """Expected failures say one thing, on one line, without a traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("loopcap"), stderr


@dataclass
class Desktop:
    """Xvfb with openbox (a reparenting window manager, like real desktops have)."""

    display: str
    width: int
    height: int

    @property
    def env(self) -> dict[str, str]:
        return {"DISPLAY": self.display}


def _window_manager_ready(display: str) -> bool:
    from Xlib import X
    from Xlib import display as xdisplay

    connection = xdisplay.Display(display)
    try:
        root = connection.screen().root
        atom = connection.intern_atom("_NET_SUPPORTING_WM_CHECK")
        return root.get_full_property(atom, X.AnyPropertyType) is not None
    finally:
        connection.close()


@pytest.fixture(scope="session")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    """A 640x480 desktop for the whole run; openbox and Xvfb are stopped by their PIDs."""
    import time

    from tests.rig import _stop_process, xvfb_rig

    home = tmp_path_factory.mktemp("openbox-home")
    with xvfb_rig(640, 480) as xvfb:
        wm = subprocess.Popen(
            ["openbox", "--sm-disable"],
            env={**xvfb.environ(), "HOME": str(home)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not _window_manager_ready(xvfb.display):
                if time.monotonic() > deadline:
                    raise RuntimeError("openbox did not start")
                time.sleep(0.05)
            yield Desktop(xvfb.display, 640, 480)
        finally:
            _stop_process(wm)
