"""Running the native backend in a child process, so an audio-server failure cannot kill loopcap.

Measured: after PulseAudio dies mid-recording, the next soundcard call aborts the interpreter
(a libpulse assertion) in a way no Python code can catch. So soundcard lives in
``capture.audio._worker``; this side reads its pipe, and a dead worker is just a lost stream
that LoopbackSource reconnects.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import threading
from collections import deque
from typing import IO, TYPE_CHECKING, Any

from capture.audio._apps import AppFilter, AppInfo
from capture.audio._types import SourceInfo, StreamLost, take_due
from capture.errors import AudioSourceError
from capture.processes import stop_process

if TYPE_CHECKING:
    from capture.audio._types import Frames

log = logging.getLogger(__name__)

WORKER = [sys.executable, "-m", "capture.audio._worker"]
# Starting Python with numpy and soundcard takes a few hundred ms; a hung server should not hang us.
HEADER_TIMEOUT_S = 20.0
#: How the worker's "the app's player stopped" lines on stderr begin.
STOP_PREFIX = '{"player_stopped":'


# Ctrl+C in a terminal reaches its whole foreground process group. The worker is stopped by
# loopcap deliberately (close()), after the last block is read: it must not die with loopcap's
# SIGINT, which would cut the recording's end and raise a false "lost the audio source".
_OWN_PROCESS_GROUP: dict[str, Any] = (
    {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
    if sys.platform.startswith("win")
    else {"start_new_session": True}
)


def _raise_for(header: dict[str, Any]) -> None:
    message = str(header.get("error", "the audio worker failed"))
    if header.get("kind") == "source":
        raise AudioSourceError(message)
    raise StreamLost(message)


class IsolatedBackend:
    name = "isolated"

    def __init__(self) -> None:
        #: The worker's own backend ("pulseaudio", "wasapi", "coreaudio"), once it answered.
        self.native_name = ""

    def _ask(self, command: str) -> dict[str, Any]:
        try:
            result = subprocess.run(
                [*WORKER, command], capture_output=True, timeout=HEADER_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise StreamLost("the audio server did not answer within 20 s") from None
        header = _parse_header(
            result.stdout.splitlines()[0] if result.stdout else b"", result.stderr
        )
        if not header.get("ok"):
            _raise_for(header)
        self.native_name = str(header.get("backend", ""))
        return header

    def list_sources(self) -> list[SourceInfo]:
        return [SourceInfo(**s) for s in self._ask("list")["sources"]]

    def list_apps(self) -> list[AppInfo]:
        return [AppInfo(**a) for a in self._ask("apps")["apps"]]

    def open(
        self,
        spec: str,
        samplerate: int,
        channels: int,
        block_frames: int,
        app: AppFilter | None = None,
    ) -> IsolatedStream:
        return IsolatedStream(spec, samplerate, channels, block_frames, app)


def _parse_header(line: bytes, stderr: bytes = b"") -> dict[str, Any]:
    try:
        header = json.loads(line)
    except ValueError:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return {"ok": False, "kind": "server", "error": f"the audio worker failed: {tail[0]}"}
    if not isinstance(header, dict):
        return {"ok": False, "kind": "server", "error": "the audio worker answered nonsense"}
    return header


class IsolatedStream:
    def __init__(
        self,
        spec: str,
        samplerate: int,
        channels: int,
        block_frames: int,
        app: AppFilter | None = None,
    ) -> None:
        self._block_bytes = block_frames * channels * 2
        self._channels = channels
        self._stderr_tail: deque[str] = deque(maxlen=20)
        # Output frames where the followed app's player stopped, as the worker said.
        self._player_stops: list[int] = []
        self._stops_lock = threading.Lock()
        app_args = app.as_args() if app is not None else []
        self._proc = subprocess.Popen(
            [*WORKER, "open", spec, str(samplerate), str(channels), str(block_frames), *app_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **_OWN_PROCESS_GROUP,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._stdout: IO[bytes] = self._proc.stdout
        self._stderr_reader = threading.Thread(
            target=self._drain_stderr,
            args=(self._proc.stderr,),
            daemon=True,
            name="audio-worker-log",
        )
        self._stderr_reader.start()
        header = self._read_header()
        if not header.get("ok"):
            self.close()
            _raise_for(header)
        self.source = SourceInfo(**header["source"])
        #: With an app: how many of its streams played when capture started (0: none yet).
        self.matching_now: int | None = header.get("matching")
        #: Every frame of the timeline comes (late at worst): waiting is not a gap.
        self.continuous = bool(header.get("continuous", False))
        self.latency_frames = int(header.get("latency_frames", 0))

    def _read_header(self) -> dict[str, Any]:
        box: list[bytes] = []
        reader = threading.Thread(target=lambda: box.append(self._stdout.readline()), daemon=True)
        reader.start()
        reader.join(HEADER_TIMEOUT_S)
        if not box:
            self.close()
            raise StreamLost("the audio worker did not start within 20 s")
        return _parse_header(box[0], "\n".join(self._stderr_tail).encode())

    def _drain_stderr(self, pipe: IO[bytes]) -> None:
        for raw in pipe:
            line = raw.decode("utf-8", "replace").rstrip()
            if line.startswith(STOP_PREFIX):
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    frame = int(json.loads(line)["player_stopped"])
                    with self._stops_lock:
                        self._player_stops.append(frame)
                continue
            if line:
                self._stderr_tail.append(line)
                log.debug("audio worker: %s", line)

    def read(self) -> Frames:
        import numpy as np

        data = self._stdout.read(self._block_bytes)
        if len(data) < self._block_bytes:
            self._proc.wait(timeout=5)
            reason = (
                self._last_error() or f"the audio worker exited with code {self._proc.returncode}"
            )
            raise StreamLost(reason)
        return np.frombuffer(data, dtype=np.int16).reshape(-1, self._channels)

    def take_player_stops(self, before: int) -> list[int]:
        """The worker's output frames before ``before`` where the app's player stopped."""
        with self._stops_lock:
            return take_due(self._player_stops, before)

    def _last_error(self) -> str:
        for line in reversed(self._stderr_tail):
            try:
                payload = json.loads(line)
            except ValueError:
                continue
            if isinstance(payload, dict) and "error" in payload:
                return str(payload["error"])
        return ""

    def close(self) -> None:
        stop_process(self._proc, grace=3)
        self._stdout.close()
        self._stderr_reader.join(timeout=2)  # ends at EOF, now that the worker is gone
        if self._proc.stderr is not None:
            self._proc.stderr.close()
