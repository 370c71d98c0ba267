"""Screen frames onto the audio clock, into a kill-safe file, and the final mux.

One clock: the audio sample clock is the master of a recording. :class:`AudioClock` learns from
audio blocks where each sample sits on the monotonic clock, so a frame grabbed at monotonic time
``t`` has a place on the recording's timeline. :class:`FramePacer` turns those places into a
constant frame rate: each slot of ``1/fps`` gets the newest frame grabbed for it, and slots no
grab reached repeat the previous frame, so the video is exactly as long as the audio (feeding
frames as they come and dropping late ones made 15 s of wall time into 13.27 s of video here).
The screen is grabbed at the slots' own instants (:meth:`AudioClock.time_zero` gives the grid):
grabs on a grid of their own were shown up to half a frame before or after they were taken, by
an amount that changed from one recording to the next (A/V offsets spread over 50 ms at 30 fps).

While recording, frames go through ffmpeg into a fragmented MP4 (``-g fps -flush_packets 1``:
a SIGKILL loses about a second). Stopping muxes that with the session's audio into the user's
file: video copied, audio encoded to AAC, the first frame's offset applied (:func:`mux`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar

from capture.errors import FfmpegError

if TYPE_CHECKING:
    from capture.audio import AudioBlock
    from capture.screen import Frame, ScreenSource
    from capture.settings import ScreenSettings

log = logging.getLogger(__name__)

P = TypeVar("P")

#: The kill-safe file the video is written to while recording (see the module's docstring).
LIVE_VIDEO = "video.mp4"
#: How long the clock's estimate of the audio latency looks back (follows sound-card drift).
CLOCK_WINDOW_S = 10.0
#: Frames grabbed before the audio's first sample is known are held this long at most.
MAX_HELD_S = 2.0
#: A first frame this close to the audio's start also stands for the instants before it (the
#: first grab and the first audio block come within a frame or two of each other); a later one
#: starts the video stream late, and the mux offsets it.
MAX_LEAD_FILL_S = 0.5


# -------------------------------------------------------------------------------------------
# The clock


class AudioClock:
    """Where a monotonic instant falls on a recording's audio timeline, in seconds.

    Each audio block says: sample ``end_frame`` had arrived by ``captured_at``. The smallest
    ``captured_at - end_frame / rate`` over a recent window is the least-delayed arrival, the
    best estimate of when sample 0 was captured; the window lets it follow a sound card whose
    clock drifts from the system's. Time zero is the recording's first sample.
    """

    def __init__(
        self, samplerate: int, window_s: float = CLOCK_WINDOW_S, latency_s: float = 0.0
    ) -> None:
        self.samplerate = samplerate
        self.window_s = window_s
        #: How long after it played a sample arrives, beyond delivery (per-app capture: ~1 s).
        self.latency_s = latency_s
        self.start_frame: int | None = None
        self._minima: deque[tuple[float, float]] = deque()  # (arrival, origin), origins rising
        # Read by the screen threads while the audio pump updates the window: published as one
        # value, never read out of the deque while it is being changed.
        self._origin: float | None = None

    def on_block(self, captured_at: float, end_frame: int) -> None:
        origin = captured_at - self.latency_s - end_frame / self.samplerate
        while self._minima and self._minima[-1][1] >= origin:
            self._minima.pop()
        self._minima.append((captured_at, origin))
        while self._minima[0][0] < captured_at - self.window_s:
            self._minima.popleft()
        self._origin = self._minima[0][1]

    def on_audio_block(self, block: AudioBlock) -> None:
        if not block.silent_fill:  # silence made up by the source arrives on no real schedule
            self.on_block(block.captured_at, block.end_frame)

    def set_start(self, start_frame: int) -> None:
        if self.start_frame is None:
            self.start_frame = start_frame

    @property
    def origin(self) -> float | None:
        """The monotonic time of sample 0, as best known now."""
        return self._origin

    def time_zero(self) -> float | None:
        """The monotonic instant of the recording's time 0 (None until its first sample)."""
        origin, start_frame = self._origin, self.start_frame
        if origin is None or start_frame is None:
            return None
        return origin + start_frame / self.samplerate

    def to_recording_time(self, monotonic: float) -> float | None:
        zero = self.time_zero()
        return None if zero is None else monotonic - zero


class WallClock:
    """The clock of a recording without audio: seconds since it started."""

    def __init__(self, started_at: float) -> None:
        self.started_at = started_at

    def time_zero(self) -> float | None:
        return self.started_at

    def to_recording_time(self, monotonic: float) -> float | None:
        return monotonic - self.started_at


RecordingClock = AudioClock | WallClock


# -------------------------------------------------------------------------------------------
# Constant frame rate


@dataclass(frozen=True, slots=True)
class Write(Generic[P]):
    """Write ``payload`` ``count`` times (once, plus repeats for slots no grab reached)."""

    payload: P
    count: int


class FramePacer(Generic[P]):
    """Places frames, stamped in recording seconds, on the slots of a constant frame rate.

    Slot ``n`` covers the instant ``n / fps``; it shows the newest frame whose time rounds to
    ``n``. A frame is written once the next slot's frame arrives (or at :meth:`finish`), so a
    newer grab for the same slot replaces it. The video stream starts at the first frame's slot
    (never before the audio: earlier grabs count as slot 0), or at slot 0 when the first frame
    comes within ``lead_fill_s``; :attr:`offset_s` is that start on the audio timeline.
    """

    def __init__(self, fps: float, lead_fill_s: float = MAX_LEAD_FILL_S) -> None:
        self.fps = fps
        self.lead_fill_slots = round(lead_fill_s * fps)
        self.first_slot: int | None = None
        self._pending: tuple[int, P] | None = None
        self.written = 0  # slots written
        self.repeated = 0  # slots filled with a repeated frame
        self.replaced = 0  # frames superseded by a newer one for the same slot

    @property
    def offset_s(self) -> float:
        return (self.first_slot or 0) / self.fps

    def slot_of(self, seconds: float) -> int:
        return max(0, int(seconds * self.fps + 0.5))

    def place(self, seconds: float, payload: P) -> list[Write[P]]:
        slot = self.slot_of(seconds)
        if self._pending is None:
            if slot <= self.lead_fill_slots:
                slot = 0  # the first frame stands for the slots before it
            self.first_slot = slot
            self._pending = (slot, payload)
            return []
        pending_slot, pending = self._pending
        if slot <= pending_slot:
            self.replaced += 1
            self._pending = (pending_slot, payload)
            return []
        self._pending = (slot, payload)
        return [self._write(pending, slot - pending_slot)]

    def finish(self, end_seconds: float) -> list[Write[P]]:
        """Write what is pending and repeat it up to ``end_seconds`` (the audio's length)."""
        if self._pending is None:
            return []
        pending_slot, pending = self._pending
        self._pending = None
        total = round(end_seconds * self.fps)
        count = total - pending_slot
        return [self._write(pending, count)] if count > 0 else []

    def _write(self, payload: P, count: int) -> Write[P]:
        self.written += count
        self.repeated += count - 1
        return Write(payload, count)


# -------------------------------------------------------------------------------------------
# Encoding while recording


def live_video_stream(
    path: Path, *, width: int, height: int, settings: ScreenSettings, pixel_format: str
) -> Any:
    """ffmpeg reading raw frames from its stdin into a fragmented, kill-safe MP4."""
    import ffmpeg as ffmpeg_python

    fps = settings.fps
    source = ffmpeg_python.input(
        "pipe:", f="rawvideo", pix_fmt=pixel_format, s=f"{width}x{height}", r=fps
    )
    return source.output(
        str(path),
        f="mp4",
        vcodec="libx264",
        preset=settings.preset,
        crf=settings.crf,
        pix_fmt="yuv420p",
        g=fps,  # a keyframe a second: each fragment is playable on its own
        movflags="frag_keyframe+empty_moov+default_base_moof",
        flush_packets=1,
    )


class _FrameConverter:
    """BGRA grabs into the bytes the encoder reads."""

    def __init__(self, frame_path: str) -> None:
        self.pixel_format = "yuv420p" if frame_path == "i420" else "bgra"

    def __call__(self, frame: Frame) -> memoryview:
        """The frame as the pipe takes it, without copying it again."""
        if self.pixel_format == "bgra":
            return frame.pixels.data
        import cv2

        converted: Any = cv2.cvtColor(frame.pixels, cv2.COLOR_BGRA2YUV_I420)
        return memoryview(converted).cast("B")


@dataclass(frozen=True, slots=True)
class VideoStats:
    slots: int
    grabbed: int
    repeated: int
    offset_s: float

    @property
    def delivered(self) -> float:
        """Share of the slots that show a frame grabbed for them (1.0: none repeated)."""
        return 1.0 - self.repeated / self.slots if self.slots else 0.0


class VideoCapture:
    """Screen frames placed on the recording's clock and encoded into ``path`` as they come.

    ``on_start(offset_s)`` is called once, from the writer thread, when the video stream's start
    on the audio timeline is known (the session writes it into its manifest).
    """

    def __init__(
        self,
        source: ScreenSource,
        path: Path,
        *,
        settings: ScreenSettings,
        clock: RecordingClock,
        on_start: Callable[[float], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.path = path
        self.settings = settings
        self.clock = clock
        self._on_start = on_start
        self._monotonic = monotonic
        self._convert = _FrameConverter(settings.frame_path)
        self._pacer: FramePacer[memoryview] = FramePacer(settings.fps)
        self._stack = contextlib.ExitStack()
        self._pipe: IO[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._end_s: float | None = None
        self._stopping = threading.Event()
        self._done = threading.Event()
        self.failure: FfmpegError | None = None

    def start(self) -> None:
        from capture.ffmpeg import open_pipe

        width, height = self.source.size
        stream = live_video_stream(
            self.path,
            width=width,
            height=height,
            settings=self.settings,
            pixel_format=self._convert.pixel_format,
        )
        self._pipe = self._stack.enter_context(
            open_pipe(stream, what=f"encoding the screen into {self.path}")
        )
        # Grabs fall on the slots' instants: a grab between two slots would be shown up to half
        # a frame off its time, by an amount that differs from one recording to the next.
        self.source.align_to(self.clock.time_zero)
        self.source.start()
        self._thread = threading.Thread(target=self._write_loop, daemon=True, name="video")
        self._thread.start()

    # -- the writer thread ---------------------------------------------------------------------

    def _write(self, writes: list[Write[memoryview]]) -> None:
        if self.failure is not None or self._pipe is None:
            return
        try:
            for write in writes:
                for _ in range(write.count):
                    self._pipe.write(write.payload)
        except (BrokenPipeError, OSError) as exc:
            self.failure = FfmpegError(f"the screen encoder stopped: {exc}")
            log.warning("%s", self.failure)

    def _place(self, frame: Frame, seconds: float) -> None:
        first = self._pacer.first_slot is None
        self._write(self._pacer.place(seconds, self._convert(frame)))
        if first and self._on_start is not None:
            self._on_start(self._pacer.offset_s)

    def _write_loop(self) -> None:
        held: deque[Frame] = deque(maxlen=max(1, int(MAX_HELD_S * self.settings.fps)))
        while True:
            frame = self.source.read(timeout=0.05)
            end_s = self._end_s
            if frame is None:
                if self._stopping.is_set():
                    break
                continue
            seconds = self.clock.to_recording_time(frame.captured_at)
            if seconds is None:  # the audio's first sample is not known yet
                held.append(frame)
                continue
            while held:
                early = held.popleft()
                early_s = self.clock.to_recording_time(early.captured_at)
                self._place(early, early_s if early_s is not None else seconds)
            if end_s is not None and seconds > end_s:
                break
            self._place(frame, seconds)
        self._done.set()

    # -- stopping ------------------------------------------------------------------------------

    def stop(self, end_s: float) -> VideoStats:
        """Stop at ``end_s`` on the recording's timeline and finish the live file."""
        self._end_s = end_s
        self._stopping.set()
        self.source.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._pacer.first_slot is None:  # nothing was ever grabbed: black, not nothing
            import numpy as np

            from capture.screen import Frame

            width, height = self.source.size
            black = np.zeros((height, width, 4), dtype=np.uint8)
            black[..., 3] = 255
            self._place(Frame(black, 0.0), 0.0)
        self._write(self._pacer.finish(end_s))
        self.close()
        stats = VideoStats(
            slots=self._pacer.written,
            grabbed=self.source.frames_grabbed,
            repeated=self._pacer.repeated,
            offset_s=self._pacer.offset_s,
        )
        log.info(
            "video: %d frames, %d grabbed, %d repeated (%.2f%% delivered), starts at %.3f s",
            stats.slots,
            stats.grabbed,
            stats.repeated,
            100 * stats.delivered,
            stats.offset_s,
        )
        return stats

    def close(self) -> None:
        """Stop grabbing and let ffmpeg finish the file (safe to call twice)."""
        self._stopping.set()
        self.source.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._pipe = None
        try:
            self._stack.close()
        except FfmpegError as exc:
            self.failure = self.failure or exc

    def __enter__(self) -> VideoCapture:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
