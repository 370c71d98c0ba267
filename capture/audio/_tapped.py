"""Per-application capture from taps that push an app's sound (Windows process loopback, macOS
Core Audio process taps), the part both platforms share; pure logic apart from the clock.

Unlike the Linux backend there is no whole mix to keep time by, and a tap sends what it has when
it has it: WASAPI process loopback sends nothing while the process is silent, and an app that
is not running yet has no tap at all. So ``TappedAppStream`` keeps its own clock (the monotonic
clock, one output frame per frame of wall time), looks for the app's processes every
``RESCAN_S`` (an app started later is followed from then on, one that quits is let go), opens
one tap per target the platform names, and places each tap's data on the clock where it
arrived (``StreamMixer`` with ``align=False``), summing the taps. Output runs ``DELAY_MS``
behind the clock so that data of the same moment from every tap is in before it is handed out;
silence fills the time no tap plays, so a recording's length is wall time.

A platform supplies two functions: ``find_targets()`` (what to tap now, keyed; a key's tap
stays open while the key is listed) and ``open_tap(key, target)`` (a ``Tap``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from capture.audio._apps import StreamMixer
from capture.errors import AudioSourceError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from capture.audio._apps import AppFilter
    from capture.audio._types import Frames, SourceInfo

    Floats = npt.NDArray[np.float32]

log = logging.getLogger(__name__)

#: How often the app's processes are looked for (a new one is tapped within this).
RESCAN_S = 0.5
#: How long the loop sleeps between looks at the taps (they queue what comes meanwhile).
POLL_S = 0.01
#: Output runs this far behind the clock: every tap's data of a moment is in by then.
DELAY_MS = 300
#: A tap's data that comes this much after its continuation was silent in between (WASAPI
#: sends no packets while a process is silent): it is placed where it arrived, not glued on.
RESYNC_MS = 120

#: The most chunks one ``take`` hands out: a tap that never runs dry cannot stall the clock.
MAX_TAKE = 256

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class TapFailed(Exception):
    """A tap stopped delivering for good (its process's capture ended or failed)."""


class Tap(Protocol):
    def take(self) -> list[Frames]:
        """What arrived since the last call, oldest first, as int16 (frames, channels) at the
        stream's rate; raises TapFailed when the tap is dead."""

    def close(self) -> None: ...


def stamp_burst(chunks: list[Frames], clock_now: int) -> list[tuple[Frames, int]]:
    """Each chunk with the clock frame at which it ended, for chunks taken together at
    ``clock_now``: they came one after another, so the last ends now and each earlier one
    where the next begins (a burst taken late is placed where it played, not spread)."""
    stamped = []
    end = clock_now
    for chunk in reversed(chunks):
        stamped.append((chunk, end))
        end -= len(chunk)
    stamped.reverse()
    return stamped


class TappedAppStream(Generic[K, T]):
    """The Stream the worker reads: the app's taps, mixed, on the wall clock."""

    #: Every frame of the clock is emitted (silence when no tap plays).
    continuous = True

    def __init__(
        self,
        app: AppFilter,
        source: SourceInfo,
        samplerate: int,
        channels: int,
        block_frames: int,
        *,
        find_targets: Callable[[], Mapping[K, T]],
        open_tap: Callable[[K, T], Tap],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rescan_s: float = RESCAN_S,
    ) -> None:
        self.app = app
        self.source = source
        self._samplerate = samplerate
        self._find_targets = find_targets
        self._open_tap = open_tap
        self._clock = clock
        self._sleep = sleep
        self._rescan_s = rescan_s
        self._mixer = StreamMixer(
            samplerate, channels, block_frames, align=False, delay_ms=DELAY_MS, resync_ms=RESYNC_MS
        )
        self._taps: dict[K, Tap] = {}
        #: Keys whose tap could not be opened or died: not tried again while they are listed.
        self._failed: set[K] = set()
        # The first look: errors here are the user's to see (no such package, refused).
        targets = find_targets()
        try:
            for key, target in targets.items():
                self._taps[key] = open_tap(key, target)
        except BaseException:
            self.close()
            raise
        #: How many of the app's targets were there at the start (0: nothing matches yet).
        self.matching_now = len(targets)
        self._start = clock()
        self._next_scan = self._start + rescan_s

    @property
    def latency_frames(self) -> int:
        """How far the output's content runs behind its clock."""
        return self._mixer.delay_frames

    @property
    def following(self) -> list[K]:
        return list(self._taps)

    def _rescan(self) -> None:
        try:
            targets = self._find_targets()
        except AudioSourceError as exc:
            log.warning("could not look for %s: %s", self.app.name, exc)
            return
        for key in [key for key in self._taps if key not in targets]:
            self._drop(key)
        self._failed &= set(targets)
        for key, target in targets.items():
            if key in self._taps or key in self._failed:
                continue
            try:
                self._taps[key] = self._open_tap(key, target)
            except AudioSourceError as exc:
                log.warning("%s", exc)
                self._failed.add(key)

    def _drop(self, key: K) -> None:
        tap = self._taps.pop(key)
        try:
            self._take(key, tap)  # what it played up to now
        finally:
            tap.close()
            self._mixer.stream_gone(key)

    def _take(self, key: K, tap: Tap) -> None:
        for chunk, ended in stamp_burst(tap.take(), self._mixer.mix_position):
            if len(chunk):
                self._mixer.on_stream(key, chunk, ended)

    def _step(self) -> None:
        now = self._clock()
        due = round((now - self._start) * self._samplerate)
        self._mixer.advance(due - self._mixer.mix_position)
        if now >= self._next_scan:
            self._next_scan = now + self._rescan_s
            self._rescan()
        for key, tap in list(self._taps.items()):
            try:
                self._take(key, tap)
            except TapFailed as exc:
                log.warning("stopped following %s: %s", self.app.name, exc)
                self._taps.pop(key)
                tap.close()
                self._mixer.stream_gone(key)
                self._failed.add(key)

    def read(self) -> Frames:
        while True:
            self._step()
            block = self._mixer.pop_block()
            if block is not None:
                return block
            self._sleep(POLL_S)

    def close(self) -> None:
        for tap in self._taps.values():
            tap.close()
        self._taps.clear()


# -- sample formats --------------------------------------------------------------------------


def pcm_to_float(data: bytes, *, bits: int, is_float: bool, source_channels: int) -> Floats:
    """Interleaved little-endian PCM (float32, or signed 16/24/32-bit) → float32 (frames,
    channels) in -1..1; a torn sample or frame at the end is dropped."""
    import numpy as np

    width = bits // 8
    if width not in (2, 3, 4) or (is_float and width != 4) or source_channels < 1:
        raise ValueError(f"unsupported PCM: {bits}-bit {'float' if is_float else 'integer'}")
    frame_bytes = width * source_channels
    raw = data[: len(data) - len(data) % frame_bytes]
    if is_float:
        samples = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    elif width == 3:
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        samples = (values / float(1 << 23)).astype(np.float32)
    else:
        dtype = "<i2" if width == 2 else "<i4"
        scale = float(1 << (bits - 1))
        samples = (np.frombuffer(raw, dtype=dtype) / scale).astype(np.float32)
    shaped: Floats = np.nan_to_num(samples).reshape(-1, source_channels)
    return shaped


def fit_channels(frames: Floats, channels: int) -> Floats:
    """Fewer channels: the average (mono) or the first ones; more: the last one repeated."""
    import numpy as np

    source_channels = frames.shape[1]
    if channels == source_channels:
        return frames
    if channels == 1:
        mono: Floats = frames.mean(axis=1, keepdims=True, dtype=np.float32)
        return mono
    if channels < source_channels:
        return frames[:, :channels]
    extra = np.repeat(frames[:, -1:], channels - source_channels, axis=1)
    wider: Floats = np.concatenate([frames, extra], axis=1)
    return wider


def float_to_int16(frames: Floats) -> Frames:
    import numpy as np

    scaled = np.clip(np.nan_to_num(frames) * 32767.0, -32768, 32767)
    result: Frames = np.rint(scaled).astype(np.int16)
    return result


class LinearResampler:
    """Streaming sample-rate conversion by linear interpolation, chunk by chunk, with no seam
    between chunks (a tap runs at its device's rate, e.g. 44.1 kHz; loopcap at 48 kHz)."""

    def __init__(self, source_rate: float, target_rate: float) -> None:
        if source_rate <= 0 or target_rate <= 0:
            raise ValueError("sample rates must be positive")
        #: Source frames per output frame.
        self.step = source_rate / target_rate
        self.passthrough = source_rate == target_rate
        self._position = 0.0  # where the next output frame falls, in frames of the next data
        self._previous: Floats | None = None  # the last source frame seen

    def process(self, frames: Floats) -> Floats:
        import numpy as np

        if self.passthrough or not len(frames):
            return frames
        data = frames if self._previous is None else np.concatenate([self._previous, frames])
        last = len(data) - 1
        count = int(np.floor((last - self._position) / self.step)) + 1
        count = max(count, 0)
        at = self._position + self.step * np.arange(count)
        left = np.minimum(np.floor(at).astype(np.int64), last)
        right = np.minimum(left + 1, last)
        weight = (at - left)[:, None].astype(np.float32)
        out: Floats = (data[left] * (1 - weight) + data[right] * weight).astype(np.float32)
        # The last frame is kept: the next chunk's data starts with it, at index 0.
        self._position = self._position + self.step * count - last
        self._previous = data[-1:]
        return out


def pcm_to_frames(
    data: bytes,
    *,
    bits: int,
    is_float: bool,
    source_channels: int,
    channels: int,
    resampler: LinearResampler | None = None,
) -> Frames:
    """A tap's PCM bytes → the int16 frames the rest of loopcap reads."""
    frames = fit_channels(
        pcm_to_float(data, bits=bits, is_float=is_float, source_channels=source_channels),
        channels,
    )
    if resampler is not None:
        frames = resampler.process(frames)
    return float_to_int16(frames)
