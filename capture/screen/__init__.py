"""The screen: a monitor, a region or one window, grabbed with ``mss`` at a steady frame rate.

``ScreenSource`` is the public way in. It grabs on a thread of its own, paced to the frame rate
on the monotonic clock (at the recording's frame slots once it is told where they are), and
hands out :class:`Frame` values (BGRA pixels and the instant they were grabbed). What happens
to them next (placing them on the audio clock, encoding) is ``capture.recording.video``'s job.

Finding windows by title is platform work: one private module per platform (``_x11``,
``_windows``, ``_macos``), chosen in :func:`_window_backend` and nowhere else.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from capture.errors import ScreenSourceError
from capture.screen._types import (
    Monitor,
    MonitorTarget,
    Region,
    RegionTarget,
    Target,
    Window,
    WindowBackend,
    WindowTarget,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "Frame",
    "Monitor",
    "MonitorTarget",
    "Region",
    "RegionTarget",
    "ScreenSource",
    "Target",
    "Window",
    "WindowTarget",
    "list_monitors",
    "list_windows",
    "match_window",
    "on_frame_grid",
]

log = logging.getLogger(__name__)


def _window_backend() -> WindowBackend:
    """The platform's window module: the one place that looks at the platform."""
    if sys.platform == "win32":
        from capture.screen import _windows as module
    elif sys.platform == "darwin":
        from capture.screen import _macos as module
    else:
        from capture.screen import _x11 as module
    backend: WindowBackend = module.open_backend()
    return backend


@dataclass(frozen=True, slots=True)
class Frame:
    """One grab: BGRA pixels (height × width × 4) and the monotonic time it was taken."""

    pixels: npt.NDArray[np.uint8]
    captured_at: float


# -------------------------------------------------------------------------------------------
# Looking around


def _open_mss(cursor: bool = False) -> Any:
    import mss
    import mss.exception

    try:
        return mss.MSS(with_cursor=cursor)
    except mss.exception.ScreenShotError as exc:
        raise ScreenSourceError(f"cannot read the screen: {exc}") from exc


def _monitors_from_mss(grabber: Any) -> tuple[Region, list[Monitor]]:
    monitors = grabber.monitors
    desktop = _region_of(monitors[0])
    found = [
        Monitor(i, _region_of(m), bool(m.get("is_primary", False)))
        for i, m in enumerate(monitors[1:], start=1)
    ]
    if found and not any(m.primary for m in found):
        found[0] = Monitor(1, found[0].region, True)
    return desktop, found


def _region_of(monitor: dict[str, int]) -> Region:
    return Region(monitor["left"], monitor["top"], monitor["width"], monitor["height"])


def _desktop_and_monitors() -> tuple[Region, list[Monitor]]:
    # The window backend also says plainly when there is no display to talk to.
    _window_backend().close()
    grabber = _open_mss()
    try:
        return _monitors_from_mss(grabber)
    finally:
        grabber.close()


def list_monitors() -> list[Monitor]:
    """The monitors, numbered as ``--monitor`` takes them; ScreenSourceError without a display."""
    return _desktop_and_monitors()[1]


def list_windows() -> list[Window]:
    """Visible top-level windows that have a title."""
    backend = _window_backend()
    try:
        return backend.list_windows()
    finally:
        backend.close()


def match_window(windows: list[Window], title: str) -> Window:
    """The window whose title contains ``title`` (case-insensitive); an exact match wins."""
    wanted = title.casefold().strip()
    if not wanted:
        raise ScreenSourceError("give part of a window's title", option="window")
    exact = [w for w in windows if w.title.casefold() == wanted]
    partial = [w for w in windows if wanted in w.title.casefold()]
    if exact or partial:
        return (exact or partial)[0]
    known = ", ".join(repr(w.title) for w in windows[:8]) or "none"
    raise ScreenSourceError(
        f"no visible window's title contains {title!r} (windows: {known}); open it, "
        "un-minimize it, or see 'loopcap devices'"
    )


def resolve_target(
    target: Target, desktop: Region, monitors: list[Monitor]
) -> tuple[Region, Window | None]:
    """The rectangle to record (even-sized) and the window to follow, if any."""
    if isinstance(target, MonitorTarget):
        if target.index is None:
            monitor = next(m for m in monitors if m.primary)
        else:
            if not 1 <= target.index <= len(monitors):
                raise ScreenSourceError(
                    f"there is no monitor {target.index}: this desktop has {len(monitors)} "
                    "(see 'loopcap devices')"
                )
            monitor = monitors[target.index - 1]
        return monitor.region.even(), None
    if isinstance(target, RegionTarget):
        if not desktop.contains(target.region):
            raise ScreenSourceError(
                f"region {target.region} is not on the screen (the desktop is {desktop}); "
                "give X,Y,WIDTH,HEIGHT inside it"
            )
        return target.region.even(), None
    window = match_window(list_windows(), target.title)
    return window.region.even(), window


# -------------------------------------------------------------------------------------------
# Grabbing


def on_frame_grid(tick: float, time_zero: float | None, fps: float) -> float:
    """The frame slot's instant (``time_zero + n / fps``) nearest to ``tick``; ``tick`` itself
    while ``time_zero`` is not known. Moves a tick by half a frame at most."""
    if time_zero is None:
        return tick
    return time_zero + round((tick - time_zero) * fps) / fps


class ScreenSource:
    """Grabs one monitor, region or window until closed; use as a context manager.

    A window is followed when it moves; the size is fixed at start (rounded down to even
    numbers for the encoder). While the window is closed, minimized or off the screen no frames
    come (the writer repeats the last one), and ``on_warning`` is told once.
    """

    def __init__(
        self,
        target: Target,
        *,
        fps: float = 30.0,
        cursor: bool = False,
        on_warning: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_queued: int = 8,
    ) -> None:
        if not 0 < fps <= 240:
            raise ScreenSourceError(f"frame rate {fps} is not between 0 and 240")
        self.target = target
        self.fps = fps
        self.cursor = cursor
        self._on_warning = on_warning
        self._clock = clock
        self._frames: queue.Queue[Frame] = queue.Queue(maxsize=max_queued)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False
        self._time_zero: Callable[[], float | None] | None = None
        self.region: Region | None = None
        self.window: Window | None = None
        self.desktop: Region | None = None
        self.frames_grabbed = 0
        self.frames_dropped = 0

    @property
    def size(self) -> tuple[int, int]:
        if self.region is None:
            raise RuntimeError("ScreenSource.size before open()")
        return self.region.width, self.region.height

    def describe(self) -> str:
        if self.window is not None:
            return f"window {self.window.title!r}"
        if isinstance(self.target, MonitorTarget):
            return f"monitor {self.target.index or 'primary'}"
        return f"region {self.region}"

    # -- life cycle ----------------------------------------------------------------------------

    def open(self) -> Region:
        """Find what to record (errors are raised here, before anything starts)."""
        if self.region is None:
            self.desktop, monitors = _desktop_and_monitors()
            self.region, self.window = resolve_target(self.target, self.desktop, monitors)
        return self.region

    def align_to(self, time_zero: Callable[[], float | None]) -> None:
        """Grab at ``time_zero() + n / fps`` (monotonic), the instants of the recording's frame
        slots; ``time_zero()`` may be None while it is not known yet, and may move a little."""
        self._time_zero = time_zero

    def start(self) -> None:
        self.open()
        if self._thread is None:
            self._thread = threading.Thread(target=self._grab_loop, daemon=True, name="screen")
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScreenSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, timeout: float = 0.1) -> Frame | None:
        try:
            return self._frames.get(timeout=timeout)
        except queue.Empty:
            return None

    # -- the grab thread -----------------------------------------------------------------------

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("%s", message)
            if self._on_warning is not None:
                self._on_warning(message)

    def _hand_over(self, frame: Frame) -> None:
        try:
            self._frames.put_nowait(frame)
        except queue.Full:  # the writer is behind: the newest frame matters most
            self.frames_dropped += 1
            with contextlib.suppress(queue.Empty):
                self._frames.get_nowait()
            self._frames.put_nowait(frame)

    def _grab_loop(self) -> None:
        import mss.exception

        backend = _window_backend() if self.window is not None else None
        grabber = _open_mss(self.cursor)
        period = 1.0 / self.fps
        next_tick = self._clock()
        try:
            while not self._stop.is_set():
                delay = next_tick - self._clock()
                if delay > 0 and self._stop.wait(delay):
                    break
                try:
                    frame = self._grab(grabber, backend)
                except mss.exception.ScreenShotError as exc:
                    self._warn_once(f"grabbing the screen failed ({exc}); repeating the last frame")
                    frame = None
                if frame is not None:
                    self.frames_grabbed += 1
                    self._hand_over(frame)
                next_tick = self._on_grid(next_tick + period)
                late = self._clock() - next_tick
                if late > 0:  # skip the ticks we missed; the writer repeats frames for them
                    next_tick += math.ceil(late / period) * period
        finally:
            grabber.close()
            if backend is not None:
                backend.close()

    def _on_grid(self, tick: float) -> float:
        zero = self._time_zero() if self._time_zero is not None else None
        return on_frame_grid(tick, zero, self.fps)

    def _grab(self, grabber: Any, backend: WindowBackend | None) -> Frame | None:
        import numpy as np

        region = self.region
        assert region is not None and self.desktop is not None
        if backend is not None and self.window is not None:
            where = backend.locate(self.window.id)
            if where is None:
                self._warn_once(
                    f"window {self.window.title!r} was closed or minimized; "
                    "recording goes on with its last frame"
                )
                return None
            region = region.moved_to(where.left, where.top)
        visible = region.intersection(self.desktop)
        if visible is None:
            self._warn_once(f"{self.describe()} is off the screen; recording its last frame")
            return None
        # The server takes the picture when it handles the request, which leaves right now;
        # the rest of the grab is the reply and copying the pixels out, so the grab's midpoint
        # would date the picture late by half of that (a grab usually takes 0.3 ms here, but
        # one that waits for the GIL or a busy core took 90 ms).
        captured_at = self._clock()
        shot = grabber.grab(
            {
                "left": visible.left,
                "top": visible.top,
                "width": visible.width,
                "height": visible.height,
            }
        )
        pixels = np.frombuffer(shot.raw, dtype=np.uint8).reshape(visible.height, visible.width, 4)
        if visible != region:  # partly off the screen: the rest is black
            canvas = np.zeros((region.height, region.width, 4), dtype=np.uint8)
            y, x = visible.top - region.top, visible.left - region.left
            canvas[y : y + visible.height, x : x + visible.width] = pixels
            pixels = canvas
        return Frame(pixels, captured_at)
