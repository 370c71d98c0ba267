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
import stat
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capture.errors import AlreadyRunning, LoopcapError, NotRunning, RuntimeFolderError
from capture.paths import runtime_dir

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024
#: Time a client gets to authenticate and send its request (and later to take the answer).
REQUEST_TIMEOUT_S = 5.0
#: Clients served at once; more wait in the socket's backlog.
MAX_CLIENTS = 16


# Never follow a link planted where the lock or key goes (0 where the OS has no such flag).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def check_runtime_dir(folder: Path) -> None:
    """Create ``folder`` (0700) if needed; refuse one that another user could plant files in.

    The lock and the control key live there: in a folder someone else can write to, planted
    links would make loopcap write the user's files, or hand the key to whoever reads it.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.lstat()
    except OSError as exc:
        raise RuntimeFolderError(
            f"cannot use the runtime folder {folder}: {exc.strerror or exc}"
        ) from None
    if not hasattr(os, "getuid"):
        return  # Windows: the named pipe and the user's profile folder have their own ACLs
    fix = f"point LOOPCAP_RUNTIME_DIR at a folder only you can write to (mode 700), not {folder}"
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise RuntimeFolderError(f"the runtime folder {folder} is not a folder but a link; {fix}")
    if info.st_uid != os.getuid():
        raise RuntimeFolderError(
            f"the runtime folder {folder} belongs to another user (uid {info.st_uid}); {fix}"
        )
    if info.st_mode & 0o022:
        raise RuntimeFolderError(
            f"the runtime folder {folder} is open to other users "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run 'chmod 700 {folder}' or {fix}"
        )


def _check_private_file(path: Path) -> None:
    """Refuse a link, or anything but a private file of this user, where ours goes."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    owned = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    if not stat.S_ISREG(info.st_mode) or not owned or info.st_nlink > 1:
        raise RuntimeFolderError(f"{path} is not a private file of this user; remove it")


def _open_private(path: Path, flags: int) -> int:
    """Open ``path`` (mode 0600 if created) without following a link; it must be ours."""
    try:
        fd = os.open(path, flags | _NOFOLLOW, 0o600)
    except OSError as exc:
        raise RuntimeFolderError(
            f"cannot open {path}: {exc.strerror or exc}; if it is a link, remove it"
        ) from None
    info = os.fstat(fd)
    owned = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    if not stat.S_ISREG(info.st_mode) or not owned or info.st_nlink > 1:
        os.close(fd)
        raise RuntimeFolderError(f"{path} is not a private file of this user; remove it")
    return fd


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

        check_runtime_dir(self._pid_file.parent)
        # filelock opens the lock file by name; in a folder only the user can write, a link there
        # was planted by nobody else, but it is refused all the same rather than written through.
        _check_private_file(Path(self._lock.lock_file))
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
    """Answers ``loopcap ctl``; no client, however broken or hostile, stops it.

    The accepting thread only accepts: the handshake, the request and the answer happen on a
    thread per client (at most :data:`MAX_CLIENTS` at once), and a client gets
    :data:`REQUEST_TIMEOUT_S` to authenticate and send its request before it is hung up on.
    """

    def __init__(self, endpoint: Endpoint, handler: Handler) -> None:
        self.endpoint = endpoint
        self._handler = handler
        self._listener: Any = None
        self._key = b""
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)

    def start(self) -> None:
        from multiprocessing.connection import Listener

        check_runtime_dir(self.endpoint.key_file.parent)
        if self.endpoint.family == "AF_UNIX":
            with contextlib.suppress(FileNotFoundError):
                Path(self.endpoint.address).unlink()  # left by a crash; the instance lock is ours
        old_umask = os.umask(0o077)  # the socket is created 0600 from the start: no window
        try:
            # No authkey here: the Listener would authenticate inside accept(), on the accepting
            # thread, where one silent client would hold up everyone. Each client thread does it.
            self._listener = Listener(
                self.endpoint.address, self.endpoint.family, backlog=4 * MAX_CLIENTS
            )
        finally:
            os.umask(old_umask)
        if self.endpoint.family == "AF_UNIX":
            Path(self.endpoint.address).chmod(0o600)  # rw for the user is all a client needs
        # The key last: a client that finds it finds a socket to talk to.
        self._key = secrets.token_bytes(32)
        _write_private(self.endpoint.key_file, self._key.hex())
        self._thread = threading.Thread(target=self._serve, daemon=True, name="control-server")
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            # A free slot first: with MAX_CLIENTS stuck clients, the next one waits in the
            # socket's backlog until a deadline frees a slot, instead of being refused.
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                conn = self._listener.accept()
            except Exception:  # any failure of one connection is that client's
                self._slots.release()
                if self._stopping.is_set() or self._listener is None:
                    return
                log.warning("control: a client failed to connect", exc_info=True)
                continue
            threading.Thread(
                target=self._answer, args=(conn,), daemon=True, name="control-client"
            ).start()

    def _answer(self, conn: Any) -> None:
        try:
            with conn, _Deadline(conn, REQUEST_TIMEOUT_S) as deadline:
                request = self._read_request(conn)
                deadline.cancel()  # the command itself may take long (catch-note --wait)
                if request is None:
                    return
                reply = self._reply(request)
                with _Deadline(conn, REQUEST_TIMEOUT_S), contextlib.suppress(OSError):
                    conn.send_bytes(json.dumps(reply, default=str).encode())
        except Exception:  # the service must outlive any one client
            log.exception("control: a client's connection failed")
        finally:
            self._slots.release()

    def _read_request(self, conn: Any) -> dict[str, Any] | None:
        """The client's request once it proved it has the key; None if it did not."""
        from multiprocessing import AuthenticationError
        from multiprocessing.connection import answer_challenge, deliver_challenge

        try:
            deliver_challenge(conn, self._key)
            answer_challenge(conn, self._key)
        except AuthenticationError:
            log.warning("control: rejected a client with the wrong key")
            return None
        except (OSError, EOFError, ValueError) as exc:
            log.info("control: a client left before authenticating (%s)", exc)
            return None
        try:
            return _parse_request(conn.recv_bytes(MAX_MESSAGE_BYTES))
        except EOFError:
            log.info("control: a client left without a request")
            return None
        except (OSError, ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            log.warning("control: malformed request rejected (%s)", reason)
            with contextlib.suppress(OSError):
                conn.send_bytes(
                    json.dumps({"ok": False, "error": f"bad request: {reason}"}).encode()
                )
            return None

    def _reply(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._handler(request)
        except LoopcapError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:  # the service must outlive any one command
            log.exception("control: %s failed", request.get("cmd"))
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is None:
            return  # never started (e.g. another instance runs): its files are not ours
        listener, self._listener = self._listener, None
        with contextlib.suppress(OSError):
            listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.endpoint.key_file.unlink()


class _Deadline:
    """Hangs up on ``conn`` unless cancelled within ``seconds``: a blocked read then ends."""

    def __init__(self, conn: Any, seconds: float) -> None:
        self._conn = conn
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        log.info("control: a client took too long; hanging up")
        try:
            fileno = self._conn.fileno()
        except OSError:
            return  # already closed
        if self._is_socket(fileno):
            import socket

            # shutdown() on a duplicate reaches the shared socket and wakes the blocked read.
            with socket.socket(fileno=os.dup(fileno)) as sock, contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        else:  # a Windows pipe: closing it ends the read
            with contextlib.suppress(OSError):
                self._conn.close()

    @staticmethod
    def _is_socket(fileno: int) -> bool:
        import stat

        try:
            return stat.S_ISSOCK(os.fstat(fileno).st_mode)
        except OSError:
            return False


def _parse_request(raw: bytes) -> dict[str, Any]:
    request = json.loads(raw)
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        raise ValueError("a request is a JSON object with a 'cmd' string")  # noqa: TRY004
    return request


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` as a new 0600 file (a new inode: whatever was there, link or not, is
    replaced, never written through)."""
    temp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()  # left by a crash (or planted): unlink removes a link, not its target
    fd = _open_private(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    temp.replace(path)


# -----------------------------------------------------------------------------------------------
# Client


def send(
    request: dict[str, Any], endpoint: Endpoint | None = None, timeout: float = 130
) -> dict[str, Any]:
    """Send one request to the running instance and return its reply."""
    from multiprocessing import AuthenticationError
    from multiprocessing.connection import Client, answer_challenge, deliver_challenge

    endpoint = endpoint or Endpoint.for_user()
    if endpoint.key_file.parent.exists():
        check_runtime_dir(endpoint.key_file.parent)  # a key planted by someone else is no key
    try:
        key = bytes.fromhex(endpoint.key_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        raise NotRunning(
            "loopcap is not running; start it with 'loopcap tray' or 'loopcap listen'"
        ) from None
    try:
        conn = Client(endpoint.address, endpoint.family)
    except (OSError, EOFError) as exc:
        raise NotRunning(
            f"loopcap is not running ({exc.__class__.__name__}); "
            "start it with 'loopcap tray' or 'loopcap listen'"
        ) from None
    with conn:
        try:
            with _Deadline(conn, REQUEST_TIMEOUT_S):
                answer_challenge(conn, key)
                deliver_challenge(conn, key)
                conn.send_bytes(json.dumps(request).encode())
        except (OSError, EOFError) as exc:
            raise NotRunning(
                f"loopcap did not let this client in ({exc.__class__.__name__}); "
                "is it still starting or stopping?"
            ) from None
        except AuthenticationError:
            raise NotRunning(
                f"the running loopcap refused the key in {endpoint.key_file}; restart it"
            ) from None
        if not conn.poll(timeout):
            raise LoopcapError(f"loopcap did not answer '{request.get('cmd')}' in {timeout:.0f} s")
        try:
            with _Deadline(conn, REQUEST_TIMEOUT_S):
                reply = json.loads(conn.recv_bytes(MAX_MESSAGE_BYTES))
        except (OSError, EOFError, ValueError, RecursionError):
            raise LoopcapError("loopcap answered nonsense") from None
    if not isinstance(reply, dict):
        raise LoopcapError("loopcap answered nonsense")
    return reply
