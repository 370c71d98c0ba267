"""Real signals sent to a real ``loopcap record``: a closed terminal, Ctrl+C to the foreground
process group, each ending in a finalized file and no false alarm."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

from tests.helpers import ROOT, Loopcap
from tests.rig import PulseRig, decode_to_array, ffprobe, tone, write_wav

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


def test_ctrl_c_in_a_terminal_stops_loopcap_not_its_capture_worker(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path
) -> None:
    """A terminal sends Ctrl+C's SIGINT to the whole foreground process group."""
    clip = write_wav(tmp_path / "tone.wav", tone(30.0, 440, level=0.4))
    output = tmp_path / "interrupted.wav"
    player = pulse.play(clip)
    try:
        proc = subprocess.Popen(
            loopcap.command("record", "--audio-only", "-o", str(output)),
            env=loopcap.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a shell's foreground job
        )
        _wait_for_session(loopcap, proc)
        time.sleep(2.0)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        player.terminate()
        player.wait(timeout=10)
    assert proc.returncode == 0, stderr
    assert stderr.strip() == "", "no false alarm about the audio source"
    recorded = decode_to_array(Path(stdout.strip()))
    tail = recorded[-RATE // 10 :]
    assert np.sqrt(np.mean(tail**2)) > 0.1, "the last 0.1 s holds the tone, not silence"
