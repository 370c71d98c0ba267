"""The running service through its control channel: ``loopcap listen`` driven by ``loopcap ctl``.

Real PulseAudio, no display (``--no-hotkeys``): what desktop shortcuts and scripts rely on.
"""

from __future__ import annotations

import contextlib
import json
import stat
import subprocess
import time
from collections.abc import Iterator
from multiprocessing.connection import Client
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import Loopcap, assert_one_clear_line
from tests.rig import (
    PulseRig,
    as_float,
    best_alignment,
    decode_to_array,
    read_wav,
    speech_wav,
    write_wav,
)

RATE = 48000


@contextlib.contextmanager
def listening(loopcap: Loopcap) -> Iterator[subprocess.Popen[str]]:
    proc = loopcap.start("listen", "--no-hotkeys")
    try:
        deadline = time.monotonic() + 30
        while not (loopcap.runtime / "control.key").exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "loopcap listen did not start"
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()  # by its PID; the service stops and releases the lock
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_status_json_reports_the_state(loopcap: Loopcap, pulse: PulseRig) -> None:
    with listening(loopcap):
        answer = loopcap.status()
        assert answer["state"] == "listening"
        assert answer["catch"] == "idle"
        assert answer["recording"] is None
        assert answer["source"] == "virt.monitor"
        assert answer["hotkeys_active"] is False
        assert answer["recent"] == []
        started = loopcap.run("ctl", "start")
        assert started.returncode == 0, started.stderr
        time.sleep(1.2)
        answer = loopcap.status()
        assert answer["state"] == "recording"
        assert answer["recording_kind"] == "audio"
        assert answer["recording"] == started.stdout.strip()
        assert isinstance(answer["recording_seconds"], float) and answer["recording_seconds"] >= 1
        stopped = loopcap.run("ctl", "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert loopcap.status()["recent"] == [stopped.stdout.strip()]


def test_ctl_without_a_running_instance_says_how_to_start_one(loopcap: Loopcap) -> None:
    result = loopcap.run("ctl", "status")
    assert result.returncode == 1
    assert_one_clear_line(result.stderr)
    assert "loopcap is not running" in result.stderr and "loopcap tray" in result.stderr


def test_catch_note_wait_saves_the_playing_note(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path
) -> None:
    text = "Hello, this is a voice note that is already playing when the command arrives."
    speech = read_wav(speech_wav(tmp_path / "speech.wav", text))[0]
    silence = np.zeros((RATE, 2), dtype=np.int16)
    clip = write_wav(tmp_path / "note.wav", np.concatenate([silence, speech]))
    with listening(loopcap):
        player = pulse.play(clip)
        time.sleep(2.5)  # 1.5 s into the speech
        result = loopcap.run("ctl", "catch-note", "--wait", timeout=60)
        player.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    saved = Path(result.stdout.strip())
    assert saved.exists() and saved.suffix == ".mp3"
    recorded = decode_to_array(saved)
    offset, score = best_alignment(recorded, as_float(speech))
    assert score >= 0.95, score
    assert 0 <= offset <= 0.5 * RATE, "saved from the note's start, before the command"
    assert len(recorded) >= len(speech)


def test_second_instance_is_refused(loopcap: Loopcap, pulse: PulseRig) -> None:
    with listening(loopcap) as first:
        second = loopcap.run("listen", "--no-hotkeys", timeout=30)
        assert second.returncode == 1
        assert_one_clear_line(second.stderr)
        assert f"already running (pid {first.pid})" in second.stderr
        assert loopcap.status()["state"] == "listening", "the first one is unharmed"


def test_socket_and_key_are_private(loopcap: Loopcap, pulse: PulseRig) -> None:
    with listening(loopcap):
        for name in ("control.sock", "control.key"):
            mode = (loopcap.runtime / name).stat().st_mode
            assert stat.S_IMODE(mode) == 0o600, (name, oct(mode))
        sock = (loopcap.runtime / "control.sock").stat().st_mode
        assert stat.S_ISSOCK(sock)
    assert not (loopcap.runtime / "control.key").exists(), "the key goes with the service"


def test_malformed_and_unauthenticated_clients_are_rejected(
    loopcap: Loopcap, pulse: PulseRig
) -> None:
    address = str(loopcap.runtime / "control.sock")
    with listening(loopcap) as proc:
        key = bytes.fromhex((loopcap.runtime / "control.key").read_text().strip())
        with Client(address, "AF_UNIX", authkey=key) as conn:
            conn.send_bytes(b"\x80\x04not json at all")
            reply = json.loads(conn.recv_bytes())
        assert reply["ok"] is False and "bad request" in reply["error"]
        with Client(address, "AF_UNIX", authkey=key) as conn:
            conn.send_bytes(json.dumps(["status"]).encode())
            reply = json.loads(conn.recv_bytes())
        assert reply["ok"] is False and "'cmd'" in reply["error"]
        from multiprocessing import AuthenticationError

        with pytest.raises((AuthenticationError, ConnectionError, EOFError)):
            conn = Client(address, "AF_UNIX", authkey=b"not the key" * 3)
            conn.send_bytes(json.dumps({"cmd": "stop"}).encode())
            conn.recv_bytes()
        assert proc.poll() is None
        assert loopcap.status()["state"] == "listening", "still answering after bad clients"
