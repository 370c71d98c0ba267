"""Changing what is followed on a running loopcap: the tray's "Listen to" menu, ctl listen-to."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import Loopcap
from tests.rig import RATE, PulseRig, best_alignment, decode_to_array, noise, write_wav, xvfb_rig


@pytest.fixture(scope="module")
def two_clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("listen-to")
    return (
        write_wav(folder / "music.wav", noise(6.0, seed=21)),
        write_wav(folder / "voice.wav", noise(1.5, seed=22)),
    )


class FakeIcon:
    """Stands in for pystray's Icon: the menu is built and called as pystray would."""

    HAS_MENU = True

    def __init__(self, name: str, icon: Any, title: str, menu: Any) -> None:
        self.title, self.icon, self.menu = title, icon, menu

    def update_menu(self) -> None:
        pass


@pytest.fixture
def display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with xvfb_rig(320, 240) as xvfb:  # pystray wants a display at import
        monkeypatch.setenv("DISPLAY", xvfb.display)
        yield xvfb.display


def test_listen_to_menu_offers_the_apps_playing_and_remembers_the_choice(
    pulse: PulseRig,
    two_clips: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    display: str,
) -> None:
    from capture.audio import AppFilter
    from capture.service.control import Endpoint
    from capture.service.instance import LoopcapService
    from capture.settings import Settings, load_settings
    from tray.app import TrayApp

    monkeypatch.setenv("LOOPCAP_CONFIG_DIR", str(tmp_path / "config"))
    service = LoopcapService(Settings(), endpoint=Endpoint.for_user(tmp_path / "runtime"))
    tray = TrayApp(service, icon_cls=FakeIcon)
    music = pulse.play(two_clips[0], app="MusicApp")
    try:
        time.sleep(0.3)
        tray.refresh_apps()
    finally:
        music.kill()
        music.wait()
    assert "MusicApp" in tray.apps_playing
    items = list(tray._listen_to_items())
    names = [str(item.text) for item in items]
    assert names[0] == "All sound" and "MusicApp" in names
    assert items[0].checked and not items[names.index("MusicApp")].checked

    done = threading.Event()
    tray._refresh = lambda **_: done.set()  # type: ignore[method-assign]  # the action's last step
    items[names.index("MusicApp")](tray.icon)  # what a click on the item does
    assert done.wait(10)
    assert service.recorder.app == AppFilter("MusicApp")
    assert service.status()["following"] == "MusicApp"
    assert load_settings().audio.app == "MusicApp", "remembered in the settings file"
    items = list(tray._listen_to_items())
    assert [str(i.text) for i in items if i.checked] == ["MusicApp"]


def test_ctl_listen_to_switches_a_running_instance(
    loopcap: Loopcap, pulse: PulseRig, two_clips: tuple[Path, Path]
) -> None:
    music_clip, voice_clip = two_clips
    config = Path(loopcap.env["LOOPCAP_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    # WAV: noise through MP3 keeps only ~0.8 correlation, which would hide what is tested here.
    settings = config / "settings.toml"
    commented = '# mine\n[output]\naudio_format = "wav"  # lossless\n\n[audio]  # sound\n'
    settings.write_text(commented)
    service = loopcap.start("listen", "--no-hotkeys")
    try:
        deadline = time.monotonic() + 30
        while loopcap.run("ctl", "status").returncode != 0:
            assert time.monotonic() < deadline and service.poll() is None, "listen did not start"
            time.sleep(0.2)
        switched = loopcap.run("ctl", "listen-to", "VoiceApp")
        assert switched.returncode == 0, switched.stderr
        assert switched.stdout.strip() == "listening to VoiceApp"
        status = json.loads(loopcap.run("ctl", "status", "--json").stdout)
        assert status["following"] == "VoiceApp"
        assert settings.read_text() == commented + 'app = "VoiceApp"\n', "comments kept"
        time.sleep(1.5)  # the worker is replaced by one that follows the app
        music = pulse.play(music_clip, app="MusicApp")
        time.sleep(0.5)
        pulse.play(voice_clip, app="VoiceApp").wait(timeout=10)
        time.sleep(1.6)  # per-app audio runs about a second behind
        saved = loopcap.run("ctl", "save-last", "4")
        music.kill()
        music.wait()
        assert saved.returncode == 0, saved.stderr
        recorded = decode_to_array(Path(saved.stdout.strip()))
        voice = decode_to_array(voice_clip)
        _, mine = best_alignment(recorded, voice)
        _, theirs = best_alignment(recorded, decode_to_array(music_clip)[: 2 * RATE])
        assert mine >= 0.95, f"the app followed now: {mine:.3f}"
        assert theirs <= 0.1, f"another app leaks in: {theirs:.3f}"
        assert loopcap.run("ctl", "listen-to", "all").stdout.strip() == "listening to all sound"
        bad = loopcap.run("ctl", "listen-to", " ")
        assert bad.returncode != 0 and "Traceback" not in bad.stderr
        assert len([line for line in bad.stderr.splitlines() if line.strip()]) == 1
        broken = commented + 'app = "VoiceApp\n'  # the user's edit, half done
        settings.write_text(broken)
        refused = loopcap.run("ctl", "listen-to", "MusicApp")
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert [line for line in refused.stderr.splitlines() if line.strip()] == [
            refused.stderr.strip()
        ]
        assert "not remembered" in refused.stderr and str(settings) in refused.stderr
        assert settings.read_text() == broken, "a file that cannot be parsed is never written"
    finally:
        service.terminate()
        service.communicate(timeout=30)
    assert np.isfinite(mine)
