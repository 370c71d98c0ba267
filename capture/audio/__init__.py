"""Loopback audio: what the computer is playing, as a stream of blocks on one sample clock.

``LoopbackSource`` is the only public way in. It runs the platform's backend (chosen in
``_native.py``) in a worker process, reads its blocks on a thread that does nothing else, and
hands them out stamped with their place on the recording's sample clock. Gaps (a backend that
sends nothing during silence, an audio server that died and came back) are filled with silence
so the timeline always equals wall time; a lost server is reconnected with backoff.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from capture.audio._apps import AppFilter, AppInfo
from capture.audio._clock import ClockAligner
from capture.audio._types import Backend, SourceInfo, Stream, StreamLost
from capture.errors import AudioSourceError

if TYPE_CHECKING:
    from capture.audio._types import Frames

__all__ = [
    "AppFilter",
    "AppInfo",
    "AudioBlock",
    "LoopbackSource",
    "SourceEvent",
    "SourceInfo",
    "list_apps",
    "list_sources",
]

log = logging.getLogger(__name__)

# Reconnection backoff after the audio server went away.
FIRST_RETRY_S = 0.25
MAX_RETRY_S = 1.0  # a restarted server is back in at most a second of silence


@dataclass(frozen=True, slots=True)
class AudioBlock:
    """Audio frames (int16, shape frames × channels) placed on the recording's sample clock."""

    frames: Frames
    start_frame: int
    captured_at: float
    silent_fill: bool = False
    #: Frames (on the same clock) where the followed app's player stopped: its last playing
    #: stream was closed or paused (per-application capture). A cue that a note ended.
    player_stopped: tuple[int, ...] = ()

    @property
    def end_frame(self) -> int:
        return self.start_frame + len(self.frames)


@dataclass(frozen=True, slots=True)
class SourceEvent:
    """Something happened to the source: "lost", "reconnected", "gave-up" or "switched"."""

    kind: str
    message: str
    at: float


def default_backend() -> Backend:
    from capture.audio._isolated import IsolatedBackend

    return IsolatedBackend()


def list_sources(backend: Backend | None = None) -> list[SourceInfo]:
    """The loopback sources, or AudioSourceError saying why there are none."""
    try:
        return (backend or default_backend()).list_sources()
    except StreamLost as exc:
        raise AudioSourceError(f"{exc}; is PulseAudio or PipeWire running?") from exc


def list_apps(backend: Backend | None = None) -> list[AppInfo]:
    """The applications playing sound now, or AudioSourceError saying why they cannot be seen."""
    try:
        return (backend or default_backend()).list_apps()
    except StreamLost as exc:
        raise AudioSourceError(f"{exc}; is PulseAudio or PipeWire running?") from exc


class LoopbackSource:
    """Reads one loopback source until closed; use as a context manager.

    With ``app``, only that application's sound (every stream it opens, as they come and go),
    or with ``AppFilter(name, exclude=True)`` all sound but that app's.
    """

    def __init__(
        self,
        spec: str = "",
        *,
        app: AppFilter | None = None,
        samplerate: int = 48000,
        channels: int = 2,
        block_ms: int = 40,
        gap_threshold_s: float = 0.5,
        reconnect_timeout_s: float = 120.0,
        backend: Backend | None = None,
        on_event: Callable[[SourceEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.app = app
        self.samplerate = samplerate
        self.channels = channels
        self.block_frames = max(1, samplerate * block_ms // 1000)
        self._gap_threshold = gap_threshold_s
        self._reconnect_timeout = reconnect_timeout_s
        self._backend = backend or default_backend()
        self._on_event = on_event
        self._clock = clock
        self._blocks: queue.Queue[tuple[float, Frames, list[int]]] = queue.Queue()
        self._pending: deque[AudioBlock] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: AudioSourceError | None = None
        self.aligner: ClockAligner | None = None
        self.info: SourceInfo | None = None
        #: With an app: how many of its streams played when the source opened (0: none yet).
        self.app_streams_at_start: int | None = None
        self._switch = threading.Event()
        # A continuous stream (per-app capture: its worker emits the mix's clock, silence
        # included) has gaps only when it was lost; a long wait otherwise is a stall of ours,
        # and filling it would add time when the backlog arrives.
        self._continuous = False
        self._interrupted = threading.Event()
        self.latency_frames = 0

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> SourceInfo:
        """Open the source (errors are raised here) and start reading."""
        try:
            stream = self._open()
        except StreamLost as exc:
            raise AudioSourceError(f"{exc}; is PulseAudio or PipeWire running?") from exc
        self.info = getattr(stream, "source", None) or SourceInfo(self.spec, self.spec)
        self.app_streams_at_start = getattr(stream, "matching_now", None)
        self._continuous = bool(getattr(stream, "continuous", False))
        #: How far the content runs behind the clock (per-app capture: its placing delay).
        self.latency_frames = int(getattr(stream, "latency_frames", 0))
        # The clock starts when audio can flow, not when we asked for it.
        self.aligner = ClockAligner(self.samplerate, self._clock(), self._gap_threshold)
        self._thread = threading.Thread(
            target=self._read_loop, args=(stream,), daemon=True, name="loopback-reader"
        )
        self._thread.start()
        return self.info

    def _open(self) -> Stream:
        if self.app is None:  # backends without per-app capture keep working as they were
            return self._backend.open(self.spec, self.samplerate, self.channels, self.block_frames)
        return self._backend.open(
            self.spec, self.samplerate, self.channels, self.block_frames, self.app
        )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the reader thread: read, stamp, hand over; nothing else ------------------------------

    def follow_app(self, app: AppFilter | None) -> None:
        """Record ``app`` from now on (None: all sound); the clock goes on, the switch is
        silence. Takes effect on the reader thread within a block or so."""
        self.app = app
        self._switch.set()

    def _read_loop(self, stream: Stream | None) -> None:
        read = 0  # frames read from this stream: where its player-stopped cues fall
        while stream is not None and not self._stop.is_set():
            if self._switch.is_set():
                self._switch.clear()
                stream.close()
                self._interrupted.set()
                stream, read = self._reconnect(switching=True), 0
                continue
            try:
                data = stream.read()
            except StreamLost as exc:
                stream.close()
                self._interrupted.set()
                self._event("lost", f"lost the audio source: {exc}")
                stream, read = self._reconnect(), 0
                continue
            if data is not None:
                take = getattr(stream, "take_player_stops", None)
                stops = [n - read for n in take(read + len(data))] if take is not None else []
                read += len(data)
                self._blocks.put((self._clock(), data, stops))
        if stream is not None:
            stream.close()

    def _reconnect(self, *, switching: bool = False) -> Stream | None:
        deadline = self._clock() + self._reconnect_timeout
        delay = FIRST_RETRY_S
        last_error = ""
        while not self._stop.is_set():
            try:
                stream = self._open()
            except (StreamLost, AudioSourceError) as exc:
                last_error = str(exc)
            else:
                if switching:
                    self.info = getattr(stream, "source", None) or self.info
                    self._event("switched", f"now recording {self.describe_app()}")
                else:
                    message = "audio source is back; the gap was filled with silence"
                    self._event("reconnected", message)
                return stream
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._stop.wait(min(delay, remaining))
            delay = min(delay * 2, MAX_RETRY_S)
        if not self._stop.is_set():
            message = (
                f"the audio source stayed unreachable for {self._reconnect_timeout:.0f} s "
                f"({last_error}); recording stopped"
            )
            self._failure = AudioSourceError(message)
            self._event("gave-up", message)
        return None

    def describe_app(self) -> str:
        return self.app.describe() if self.app is not None else "all sound"

    def _event(self, kind: str, message: str) -> None:
        log.warning("%s", message)
        if self._on_event is not None:
            self._on_event(SourceEvent(kind, message, self._clock()))

    # -- the consumer side -------------------------------------------------------------------

    @property
    def failure(self) -> AudioSourceError | None:
        """Set once the source gave up reconnecting; blocks already read can still be drained."""
        return self._failure

    def read(self, timeout: float = 0.1) -> AudioBlock | None:
        """The next block on the clock (real or silence), or None if there is none yet.

        Raises the source's failure once it gave up and everything it read was handed out.
        """
        aligner = self.aligner
        if aligner is None:
            raise RuntimeError("LoopbackSource.read() before start()")
        if self._pending:
            return self._pending.popleft()
        try:
            arrived_at, data, stops = self._blocks.get(timeout=timeout)
        except queue.Empty:
            if self._failure is not None:
                raise self._failure from None
            if self._continuous and not self._interrupted.is_set():
                return None  # only late: the backlog will come
            pad = aligner.on_idle(self._clock())
            return self._silence(aligner.position - pad, pad) if pad else None
        may_have_gap = not self._continuous or self._interrupted.is_set()
        self._interrupted.clear()
        pad = aligner.on_block(arrived_at, len(data), may_have_gap=may_have_gap)
        start = aligner.position - len(data)
        # A cue named by its place in the block (one that came late names an earlier frame).
        block = AudioBlock(
            data, start, arrived_at, player_stopped=tuple(start + at for at in stops)
        )
        if not pad:
            return block
        self._pending.append(block)
        return self._silence(start - pad, pad)

    def _silence(self, start_frame: int, frames: int) -> AudioBlock:
        import numpy as np

        zeros = np.zeros((frames, self.channels), dtype=np.int16)
        return AudioBlock(zeros, start_frame, self._clock(), silent_fill=True)
