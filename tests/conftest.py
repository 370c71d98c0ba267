"""Fixtures: a real PulseAudio with a virtual speaker, a desktop, a private loopcap state.

The helpers they use (and tests, the demo and benchmarks share) are in tests/helpers.py."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import Loopcap, make_loopcap, stop_process, wait_until
from tests.rig import PulseRig, pulse_rig, this_process_on


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseRig]:
    """One audio server for the whole run; its environment is also set in this process."""
    with pulse_rig(tmp_path_factory.mktemp("pulse")) as rig, this_process_on(rig):
        yield rig


@pytest.fixture
def private_pulse(tmp_path: Path) -> Iterator[PulseRig]:
    """An audio server of this test's own, for tests that kill it."""
    with pulse_rig(tmp_path / "pulse") as rig:
        yield rig


@pytest.fixture
def loopcap(tmp_path: Path, pulse: PulseRig) -> Loopcap:
    return make_loopcap(tmp_path, pulse.env)


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
    from tests.rig import xvfb_rig

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
            wait_until(lambda: _window_manager_ready(xvfb.display), 10, "openbox to start")
            yield Desktop(xvfb.display, 640, 480)
        finally:
            stop_process(wm)
