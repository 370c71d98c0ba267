"""The control socket against hostile and broken clients, with a real ``loopcap listen``.

Each client here is a real Unix socket client; after each one the service must still answer
``loopcap ctl`` promptly (the ``ctl`` runs are given a timeout well under what a hang would take).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import time
from multiprocessing.connection import Client
from pathlib import Path

from tests.helpers import Loopcap, assert_one_clear_line
from tests.rig import PulseRig
from tests.test_service import listening

PROMPT_S = 20  # a ctl that takes longer than this is hung behind another client


def _raw_client(loopcap: Loopcap) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(str(loopcap.runtime / "control.sock"))
    return sock


def _prompt_status(loopcap: Loopcap) -> str:
    result = loopcap.run("ctl", "status", "--json", timeout=PROMPT_S)
    assert result.returncode == 0, result.stderr
    state: str = json.loads(result.stdout)["state"]
    return state


def test_a_client_that_reads_the_challenge_and_leaves_does_not_silence_the_socket(
    loopcap: Loopcap, pulse: PulseRig
) -> None:
    with listening(loopcap) as proc:
        for _ in range(3):
            sock = _raw_client(loopcap)
            assert sock.recv(100), "the server sends its challenge first"
            sock.close()
        assert _prompt_status(loopcap) == "listening"
        assert proc.poll() is None


def test_an_idle_client_does_not_block_others_and_is_dropped_after_a_few_seconds(
    loopcap: Loopcap, pulse: PulseRig
) -> None:
    with listening(loopcap):
        idle = [_raw_client(loopcap) for _ in range(4)]  # connected, never answering
        try:
            assert _prompt_status(loopcap) == "listening", "served while others idle"
            started = time.monotonic()
            for sock in idle:
                sock.recv(100)  # the challenge
                while sock.recv(100):  # then nothing until the server hangs up
                    pass
            assert time.monotonic() - started < 25, "idle handshakes time out"
        finally:
            for sock in idle:
                sock.close()
        assert _prompt_status(loopcap) == "listening"


def test_an_authenticated_client_that_never_sends_its_request_is_dropped(
    loopcap: Loopcap, pulse: PulseRig
) -> None:
    with listening(loopcap):
        key = bytes.fromhex((loopcap.runtime / "control.key").read_text().strip())
        with Client(str(loopcap.runtime / "control.sock"), "AF_UNIX", authkey=key) as conn:
            assert _prompt_status(loopcap) == "listening", "served while a request is pending"
            assert conn.poll(25), "the server hangs up on a request that never comes"
            try:
                conn.recv_bytes()
            except EOFError:
                pass
            else:
                raise AssertionError("the server answered a request that was never sent")


def test_garbage_and_a_deeply_nested_request_get_answers_not_tracebacks(
    loopcap: Loopcap, pulse: PulseRig
) -> None:
    with listening(loopcap) as proc:
        for junk in (b"\x00" * 5000, b"GET / HTTP/1.0\r\n\r\n", bytes(range(256)) * 40):
            sock = _raw_client(loopcap)
            sock.recv(100)
            with contextlib.suppress(OSError):  # hung up on mid-send: fine
                sock.sendall(junk)
            sock.close()
        key = bytes.fromhex((loopcap.runtime / "control.key").read_text().strip())
        deep = b'{"cmd": "status", "x": ' + b"[" * 60_000  # fits the size limit, unterminated
        with Client(str(loopcap.runtime / "control.sock"), "AF_UNIX", authkey=key) as conn:
            conn.send_bytes(deep)
            reply = json.loads(conn.recv_bytes())
        assert reply["ok"] is False and "bad request" in reply["error"]
        assert loopcap.status()["state"] == "listening"
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
    assert "Traceback" not in stderr, stderr


# -----------------------------------------------------------------------------------------------
# The runtime folder (lock, socket, key)


def _runtime_at(loopcap: Loopcap, folder: Path) -> dict[str, str]:
    return {"LOOPCAP_RUNTIME_DIR": str(folder)}


def test_a_runtime_folder_open_to_others_is_refused_with_one_line(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    for args in (("listen", "--no-hotkeys"), ("ctl", "status")):
        result = loopcap.run(*args, timeout=30, env=_runtime_at(loopcap, shared))
        assert result.returncode == 1, result
        assert_one_clear_line(result.stderr)
        assert str(shared) in result.stderr and "open to other users" in result.stderr
    assert list(shared.iterdir()) == [], "nothing was created in it"


def test_a_runtime_folder_of_another_user_is_refused(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path
) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)  # nobody's: the tests run as root, who may give it away
    result = loopcap.run("listen", "--no-hotkeys", timeout=30, env=_runtime_at(loopcap, theirs))
    assert result.returncode == 1
    assert_one_clear_line(result.stderr)
    assert str(theirs) in result.stderr and "another user" in result.stderr


def test_planted_links_are_never_written_through(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path
) -> None:
    victims = {name: tmp_path / f"victim-{name}" for name in ("key", "key.tmp")}
    for victim in victims.values():
        victim.write_text("precious\n")
        victim.chmod(0o644)
    runtime = loopcap.runtime
    runtime.mkdir(mode=0o700)
    (runtime / "control.key").symlink_to(victims["key"])
    (runtime / "control.key.tmp").symlink_to(victims["key.tmp"])
    with listening(loopcap):  # (returns at once: the planted link "exists")
        key = runtime / "control.key"
        deadline = time.monotonic() + 30
        while key.is_symlink() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not key.is_symlink() and stat.S_IMODE(key.stat().st_mode) == 0o600
        assert _prompt_status(loopcap) == "listening"
    for victim in victims.values():
        assert victim.read_text() == "precious\n"
        assert stat.S_IMODE(victim.stat().st_mode) == 0o644

    # A link where the instance lock goes: refused, and the file it points at is untouched.
    lock_victim = tmp_path / "victim-lock"
    lock_victim.write_text("precious\n")
    (runtime / "instance.lock").unlink()
    (runtime / "instance.lock").symlink_to(lock_victim)
    result = loopcap.run("listen", "--no-hotkeys", timeout=30)
    assert result.returncode == 1
    assert_one_clear_line(result.stderr)
    assert "instance.lock" in result.stderr
    assert lock_victim.read_text() == "precious\n"
