"""The replay ring: the last N seconds of audio, always in memory, bounded by design.

Audio is addressed by its position on the recording's sample clock (``start_frame`` of each
block), never by wall time, so a snapshot names exactly the samples a note occupies. The ring is
one preallocated int16 array; frame ``p`` lives at row ``p % capacity``. Appending costs the
size of the block, whatever the ring's length; memory never grows after construction.

Threads: one writer (the thread fanning out capture blocks) calls :meth:`ReplayRing.append`;
any thread may read. Writers hold the lock for one block copy; readers hold it only to read
positions and copy out without it, then drop whatever the writer overwrote meanwhile.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

from capture.settings import ReplaySettings

AudioArray = npt.NDArray[np.int16]


class ReplayRing:
    """The most recent ``capacity_frames`` frames of an int16 (frames, channels) stream."""

    def __init__(self, seconds: float, samplerate: int, channels: int) -> None:
        if samplerate <= 0 or channels <= 0:
            raise ValueError(
                f"replay ring needs a positive rate and channel count, "
                f"not {samplerate} Hz x {channels}"
            )
        capacity = round(seconds * samplerate)
        if capacity <= 0:
            raise ValueError(f"replay ring of {seconds} s holds no audio; give it a length > 0")
        self.samplerate = samplerate
        self.channels = channels
        self.capacity_frames = capacity
        # Zeroed pages are committed by the OS as the ring first fills; after that, never more.
        self._ring: AudioArray = np.zeros((capacity, channels), dtype=np.int16)
        self._lock = threading.Lock()
        self._latest: int | None = None  # one past the newest frame held
        self._held = 0  # frames held, at most capacity

    @classmethod
    def from_settings(cls, settings: ReplaySettings, samplerate: int, channels: int) -> ReplayRing:
        return cls(settings.seconds, samplerate, channels)

    @property
    def seconds(self) -> float:
        return self.capacity_frames / self.samplerate

    @property
    def nbytes(self) -> int:
        """Memory the ring's audio takes; fixed at construction."""
        return self._ring.nbytes

    @property
    def latest_frame(self) -> int | None:
        """One past the newest frame held (where the next block starts); None while empty."""
        with self._lock:
            return self._latest

    @property
    def oldest_frame(self) -> int | None:
        """The oldest frame still held; None while empty."""
        with self._lock:
            return None if self._latest is None else self._latest - self._held

    @property
    def held_seconds(self) -> float:
        with self._lock:
            return self._held / self.samplerate

    def clear(self) -> None:
        """Forget all audio (a new recording with its own clock starts)."""
        with self._lock:
            self._latest = None
            self._held = 0

    def append(self, frames: npt.NDArray[np.int16], start_frame: int) -> None:
        """Add a block of audio that begins at ``start_frame`` on the sample clock.

        Blocks are expected to be contiguous. A block that starts later than the newest frame
        leaves a gap, held as silence; frames at or before the newest one already held are
        ignored (the clock never runs backwards). A block longer than the ring keeps its end.
        """
        if frames.dtype != np.int16 or frames.ndim != 2 or frames.shape[1] != self.channels:
            raise ValueError(
                f"replay ring takes int16 blocks shaped (frames, {self.channels}), "
                f"not {frames.dtype} {frames.shape}"
            )
        with self._lock:
            latest = start_frame if self._latest is None else self._latest
            if start_frame < latest:
                frames = frames[latest - start_frame :]
                start_frame = latest
            gap = start_frame - latest
            if gap:
                self._write_silence(latest, min(gap, self.capacity_frames))
            end = start_frame + len(frames)
            if len(frames) > self.capacity_frames:
                frames = frames[-self.capacity_frames :]
            self._write(end - len(frames), frames)
            self._held = min(self._held + (end - latest), self.capacity_frames)
            self._latest = end

    def snapshot(self, start_frame: int, end_frame: int) -> AudioArray:
        """A copy of the frames in [start_frame, end_frame), clipped to what the ring holds."""
        return self.snapshot_from(start_frame, end_frame)[1]

    def snapshot_from(self, start_frame: int, end_frame: int) -> tuple[int, AudioArray]:
        """Like :meth:`snapshot`, with the sample position the returned audio starts at."""
        with self._lock:
            if self._latest is None:
                return start_frame, np.zeros((0, self.channels), dtype=np.int16)
            start = max(start_frame, self._latest - self._held)
            end = min(end_frame, self._latest)
        if end <= start:
            return max(start_frame, start), np.zeros((0, self.channels), dtype=np.int16)
        out = self._read(start, end)
        # The writer may have lapped the oldest frames while we copied: those rows are not ours.
        with self._lock:
            oldest_now = (self._latest - self._held) if self._latest is not None else end
        if oldest_now > start:
            cut = min(oldest_now, end) - start
            out = out[cut:]
            start += cut
        return start, out

    def last(self, seconds: float) -> AudioArray:
        """A copy of the most recent ``seconds`` of audio (less if the ring holds less)."""
        latest = self.latest_frame
        if latest is None:
            return np.zeros((0, self.channels), dtype=np.int16)
        return self.snapshot(latest - round(seconds * self.samplerate), latest)

    # -- private: rows of the array for a span of frames, which may wrap once

    def _rows(self, start: int, end: int) -> tuple[slice, slice]:
        first = start % self.capacity_frames
        count = end - start
        if first + count <= self.capacity_frames:
            return slice(first, first + count), slice(0, 0)
        return slice(first, self.capacity_frames), slice(0, first + count - self.capacity_frames)

    def _write(self, start: int, frames: AudioArray) -> None:
        head, tail = self._rows(start, start + len(frames))
        split = head.stop - head.start
        self._ring[head] = frames[:split]
        self._ring[tail] = frames[split:]

    def _write_silence(self, start: int, count: int) -> None:
        head, tail = self._rows(start, start + count)
        self._ring[head] = 0
        self._ring[tail] = 0

    def _read(self, start: int, end: int) -> AudioArray:
        head, tail = self._rows(start, end)
        if tail.stop == 0:
            return self._ring[head].copy()
        return np.concatenate((self._ring[head], self._ring[tail]))
