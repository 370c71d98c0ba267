"""Fuzzing the control protocol (hypothesis): whatever a client sends, before or after the
handshake, the server answers the next honest client. A real server on a real Unix socket.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
from collections.abc import Iterator
from multiprocessing.connection import Client
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture.service.control import ControlServer, Endpoint, send

FUZZ = settings(
    max_examples=60,
    deadline=None,  # each example is bounded by the socket timeouts below, not by hypothesis
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    folder = tmp_path_factory.mktemp("runtime")
    folder.chmod(0o700)
    endpoint = Endpoint.for_user(folder / "loopcap")

    def handler(request: dict[str, Any]) -> dict[str, Any]:
        if request["cmd"] != "echo":
            return {"ok": False, "error": f"unknown command '{request['cmd']}'"}
        return {"ok": True, "echo": request.get("value")}

    control = ControlServer(endpoint, handler)
    control.start()
    try:
        yield endpoint
    finally:
        control.stop()


def _still_answers(endpoint: Endpoint) -> None:
    assert send({"cmd": "echo", "value": 7}, endpoint, timeout=10) == {"ok": True, "echo": 7}


@FUZZ
@given(junk=st.binary(max_size=2048))
def test_bytes_before_the_handshake(server: Endpoint, junk: bytes) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(server.address)
        with contextlib.suppress(OSError):
            sock.sendall(junk)
            sock.recv(4096)
    _still_answers(server)


def _authenticated(endpoint: Endpoint) -> Any:
    key = bytes.fromhex(endpoint.key_file.read_text().strip())
    return Client(endpoint.address, endpoint.family, authkey=key)


@FUZZ
@given(payload=st.binary(max_size=4096))
def test_any_request_bytes_after_the_handshake(server: Endpoint, payload: bytes) -> None:
    with _authenticated(server) as conn:
        conn.send_bytes(payload)
        assert conn.poll(10)
        reply = json.loads(conn.recv_bytes())
    assert isinstance(reply, dict) and isinstance(reply["ok"], bool)
    _still_answers(server)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)


@FUZZ
@given(request=json_values, depth=st.integers(0, 60_000))
def test_any_json_and_any_nesting(server: Endpoint, request: Any, depth: int) -> None:
    reply = None
    with _authenticated(server) as conn, contextlib.suppress(OSError, EOFError):
        # Too long for one message: answered "bad request" and hung up on, maybe mid-send.
        conn.send_bytes(b"[" * depth + json.dumps(request).encode() + b"]" * depth)
        assert conn.poll(10)
        reply = json.loads(conn.recv_bytes())
    if reply is not None:
        assert isinstance(reply, dict) and isinstance(reply["ok"], bool)
    _still_answers(server)


@FUZZ
@given(length=st.integers(0, 2**32 - 1), body=st.binary(max_size=64))
def test_lying_length_headers(server: Endpoint, length: int, body: bytes) -> None:
    with _authenticated(server) as conn, contextlib.suppress(OSError):
        conn._send(struct.pack("!i", length - 2**31) + body)  # a header that lies, then gone
    _still_answers(server)


def test_the_key_file_is_private(server: Endpoint) -> None:
    assert Path(server.key_file).stat().st_mode & 0o777 == 0o600
