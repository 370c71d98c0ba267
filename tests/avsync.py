"""Measuring A/V sync honestly: what a scene really showed and played, and what a file holds.

A scene that "flashes and beeps at the same instant" is only as good as its own sync, so the
:class:`Observer` watches the truth on one clock: a screen pixel polled with ``mss`` about every
millisecond, and the speaker's monitor read with ``soundcard`` in 5 ms blocks (each sample placed
on the monotonic clock by its block's arrival). :func:`file_events` finds the same flashes and
beeps in a recording. The recording's error is the difference of the two skews.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

RATE = 48000
BLOCK = 240  # 5 ms
BEEP_THRESHOLD = 0.1


@dataclass
class Observer:
    display: str
    x: int
    y: int
    monitor: str = "virt.monitor"
    flashes: list[float] = field(default_factory=list)
    beeps: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _ready: threading.Barrier = field(default_factory=lambda: threading.Barrier(3))

    def __enter__(self) -> Observer:
        for target in (self._watch_screen, self._listen):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._ready.wait(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _watch_screen(self) -> None:
        import mss

        with mss.MSS(display=self.display) as grabber:
            area = {"left": self.x, "top": self.y, "width": 1, "height": 1}
            self._ready.wait(timeout=10)
            lit = False
            while not self._stop.is_set():
                before = time.monotonic()
                green = grabber.grab(area).raw[1]
                now = (before + time.monotonic()) / 2
                if green > 200 and not lit:
                    self.flashes.append(now)
                lit = green > 200
                time.sleep(0.0005)

    def _listen(self) -> None:
        import soundcard

        mic = soundcard.get_microphone(self.monitor, include_loopback=True)
        with mic.recorder(samplerate=RATE, channels=1, blocksize=BLOCK) as recorder:
            self._ready.wait(timeout=10)
            sounding_until = 0.0
            while not self._stop.is_set():
                data = recorder.record(numframes=BLOCK)[:, 0]
                arrived = time.monotonic()
                loud = np.flatnonzero(np.abs(data) > BEEP_THRESHOLD)
                if len(loud):
                    onset = arrived - (len(data) - loud[0]) / RATE
                    if onset > sounding_until:
                        self.beeps.append(onset)
                    sounding_until = arrived + 0.3  # one beep, not one per block

    def skews(self) -> list[float]:
        """beep − flash for each flash, in seconds (the scene's own sync)."""
        return pair_skews(self.flashes, self.beeps)


def pair_skews(flashes: list[float], beeps: list[float], window: float = 0.4) -> list[float]:
    skews = []
    for flash in flashes:
        near = [b for b in beeps if abs(b - flash) < window]
        if near:
            skews.append(min(near, key=lambda b: abs(b - flash)) - flash)
    return skews


def file_events(path: Path, *, fps: float, start_s: float) -> tuple[list[float], list[float]]:
    """Flash instants (first white frame) and beep onsets in a recording, on its timeline."""
    video = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-vf", "scale=32:24",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    frames: npt.NDArray[np.uint8] = np.frombuffer(video, dtype=np.uint8).reshape(-1, 24 * 32)
    bright = frames.mean(axis=1) > 200
    flashes = [start_s + i / fps for i in range(1, len(bright)) if bright[i] and not bright[i - 1]]
    audio = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-f", "f32le", "-ac", "1",
         "-ar", str(RATE), "-"],
        capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    samples = np.abs(np.frombuffer(audio, dtype=np.float32))
    beeps: list[float] = []
    for index in np.flatnonzero(samples > BEEP_THRESHOLD):
        at = index / RATE
        if not beeps or at - beeps[-1] > 0.3:
            beeps.append(float(at))
    return flashes, beeps
