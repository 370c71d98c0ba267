"""Real signals sent to a real ``loopcap record``: a closed terminal, Ctrl+C to the foreground
process group, each ending in a finalized file and no false alarm."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import Loopcap
from tests.rig import PulseRig, ffprobe

RATE = 48000


def _wait_for_session(loopcap: Loopcap, proc: subprocess.Popen[str]) -> None:
    """Until the recording runs (its session folder holds audio)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        pcm = list(loopcap.sessions.glob("*/audio.pcm")) if loopcap.sessions.exists() else []
        if pcm and pcm[0].stat().st_size > 0:
            return
        time.sleep(0.05)
    raise AssertionError("the recording did not start")


def test_sighup_finalizes_like_sigterm(loopcap: Loopcap, pulse: PulseRig, tmp_path: Path) -> None:
    output = tmp_path / "hung-up.wav"
    proc = loopcap.start("record", "--audio-only", "-o", str(output))
    _wait_for_session(loopcap, proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGHUP)  # the terminal was closed
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert stdout.strip() == str(output)
    assert float(ffprobe(output)["format"]["duration"]) > 0.8  # type: ignore[index]
    assert not list(loopcap.sessions.iterdir()), "nothing left for recover"
