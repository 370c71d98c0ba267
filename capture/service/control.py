"""The local control channel of a running loopcap (``loopcap ctl``), and one instance per user.

Transport: ``multiprocessing.connection`` on a Unix socket in the user's runtime folder (a named
pipe on Windows), with an authentication key kept in a file only the user can read. Messages are
JSON objects sent as bytes — never pickles, which would run code from whoever could connect.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capture.errors import AlreadyRunning, LoopcapError, NotRunning
from capture.paths import runtime_dir

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    family: str
    key_file: Path
    lock_file: Path
    pid_file: Path

    @classmethod
    def for_user(cls, folder: Path | None = None) -> Endpoint:
        folder = folder or runtime_dir()
        if sys.platform.startswith("win"):
            user = os.environ.get("USERNAME", "user")
            address, family = rf"\\.\pipe\loopcap-{user}", "AF_PIPE"
        else:
            address, family = str(folder / "control.sock"), "AF_UNIX"
        return cls(
            address,
            family,
            folder / "control.key",
            folder / "instance.lock",
            folder / "instance.pid",
        )


# -----------------------------------------------------------------------------------------------
# One instance per user


class InstanceLock:
    """Held by the running instance; the OS releases it when the process dies in any way.

    The holder's process id is written beside the lock, for the message a second instance gets.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        from filelock import FileLock

        self._pid_file = endpoint.pid_file
        # Not thread-local: the tray takes it on a worker thread and releases it on the main one.
        self._lock = FileLock(endpoint.lock_file, timeout=0, thread_local=False)

    def acquire(self) -> None:
        from filelock import Timeout

        self._pid_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self._lock.acquire()
        except Timeout:
            raise AlreadyRunning(self._running_message()) from None
        _write_private(self._pid_file, str(os.getpid()))

    def _running_message(self) -> str:
        try:
            pid = self._pid_file.read_text(encoding="utf-8").strip()
        except OSError:
            pid = "?"
        return f"loopcap is already running (pid {pid}); drive it with 'loopcap ctl'"

    def release(self) -> None:
        if self._lock.is_locked:
            with contextlib.suppress(FileNotFoundError):
                self._pid_file.unlink()
            self._lock.release()


# -----------------------------------------------------------------------------------------------
# Server


Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlServer:
    """Answers ``loopcap ctl`` on its own thread; a bad client never stops it."""

    def __init__(self, endpoint: Endpoint, handler: Handler) -> None:
        self.endpoint = endpoint
        self._handler = handler
        self._listener: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        from multiprocessing.connection import Listener

        folder = self.endpoint.key_file.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(32)
        _write_private(self.endpoint.key_file, key.hex())
        if self.endpoint.family == "AF_UNIX":
            with contextlib.suppress(FileNotFoundError):
                Path(self.endpoint.address).unlink()  # left by a crash; the instance lock is ours
        old_umask = os.umask(0o077)  # the socket is created 0600 from the start: no window
        try:
            self._listener = Listener(self.endpoint.address, self.endpoint.family, authkey=key)
        finally:
            os.umask(old_umask)
        if self.endpoint.family == "AF_UNIX":
            Path(self.endpoint.address).chmod(0o600)  # rw for the user is all a client needs
        self._thread = threading.Thread(target=self._serve, daemon=True, name="control-server")
        self._thread.start()

    def _serve(self) -> None:
        from multiprocessing import AuthenticationError

        while not self._stopping.is_set():
            try:
                conn = self._listener.accept()
            except AuthenticationError:
                log.warning("control: rejected a client with the wrong key")
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                log.warning("control: a client failed to connect", exc_info=True)
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: Any) -> None:
        with conn:
            try:
                request = _parse_request(conn.recv_bytes(MAX_MESSAGE_BYTES))
            except (OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
                log.warning("control: malformed request rejected (%s)", exc)
                with contextlib.suppress(OSError):
                    conn.send_bytes(
                        json.dumps({"ok": False, "error": f"bad request: {exc}"}).encode()
                    )
                return
            try:
                reply = self._handler(request)
            except LoopcapError as exc:
                reply = {"ok": False, "error": str(exc)}
            except Exception as exc:  # the service must outlive any one command
                log.exception("control: %s failed", request.get("cmd"))
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            with contextlib.suppress(OSError):
                conn.send_bytes(json.dumps(reply, default=str).encode())

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is None:
            return  # never started (e.g. another instance runs): its files are not ours
        with contextlib.suppress(OSError):
            self._listener.close()
        self._listener = None
        with contextlib.suppress(FileNotFoundError):
            self.endpoint.key_file.unlink()


def _parse_request(raw: bytes) -> dict[str, Any]:
    request = json.loads(raw)
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        raise ValueError("a request is a JSON object with a 'cmd' string")  # noqa: TRY004
    return request


def _write_private(path: Path, text: str) -> None:
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    temp.replace(path)


# -----------------------------------------------------------------------------------------------
# Client


def send(
    request: dict[str, Any], endpoint: Endpoint | None = None, timeout: float = 130
) -> dict[str, Any]:
    """Send one request to the running instance and return its reply."""
    from multiprocessing.connection import Client

    endpoint = endpoint or Endpoint.for_user()
    try:
        key = bytes.fromhex(endpoint.key_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        raise NotRunning(
            "loopcap is not running; start it with 'loopcap tray' or 'loopcap listen'"
        ) from None
    try:
        conn = Client(endpoint.address, endpoint.family, authkey=key)
    except (OSError, EOFError) as exc:
        raise NotRunning(
            f"loopcap is not running ({exc.__class__.__name__}); "
            "start it with 'loopcap tray' or 'loopcap listen'"
        ) from None
    with conn:
        conn.send_bytes(json.dumps(request).encode())
        if not conn.poll(timeout):
            raise LoopcapError(f"loopcap did not answer '{request.get('cmd')}' in {timeout:.0f} s")
        reply = json.loads(conn.recv_bytes(MAX_MESSAGE_BYTES))
    if not isinstance(reply, dict):
        raise LoopcapError("loopcap answered nonsense")
    return reply
