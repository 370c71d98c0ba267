"""Measuring A/V sync honestly: what a scene really showed and played, and what a file holds.

A scene that "flashes and beeps at the same instant" is only as good as its own sync, so the
:class:`Observer` watches the truth on one clock: a screen pixel polled with ``mss`` about every
millisecond, and the speaker's monitor read with ``parec`` in 5 ms chunks (samples placed on
the monotonic clock by their count from the least-delayed chunk's arrival). :func:`file_events`
finds the same flashes and beeps in a recording. The recording's error is the difference of the
two skews; :func:`assert_in_sync` says how much of it one frame's sampling explains.
"""

from __future__ import annotations

import os
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
    #: The sound server's environment (PULSE_SERVER, ...); empty: this process's.
    env: dict[str, str] = field(default_factory=dict)
    flashes: list[float] = field(default_factory=list)
    beeps: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _ready: threading.Barrier = field(default_factory=lambda: threading.Barrier(3))
    _parec: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Observer:
        for target in (self._watch_screen, self._listen):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._ready.wait(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._parec is not None:  # also when no sound ever came to end its read
            self._parec.kill()
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
        # parec rather than soundcard in this process: soundcard talks to the one server it met
        # at import, and a test may observe another (the PipeWire rig).
        parec = self._parec = subprocess.Popen(
            ["parec", f"--device={self.monitor}", "--raw", "--format=float32le",
             f"--rate={RATE}", "--channels=1", f"--latency-msec={BLOCK * 1000 // RATE}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **self.env},
        )  # fmt: skip
        assert parec.stdout is not None
        fd = parec.stdout.fileno()
        onsets: list[int] = []  # sample indices
        read = 0
        pending = b""
        origin = float("inf")  # monotonic time of sample 0: the least-delayed chunk says it
        try:
            chunk = os.read(fd, BLOCK * 4)  # the server is recording: the scene may start
            self._ready.wait(timeout=10)
            while chunk and not self._stop.is_set():
                arrived = time.monotonic()
                pending += chunk
                whole = len(pending) - len(pending) % 4
                data = np.frombuffer(pending[:whole], dtype="<f4")
                pending = pending[whole:]
                for index in np.flatnonzero(np.abs(data) > BEEP_THRESHOLD):
                    if not onsets or read + index - onsets[-1] > 0.3 * RATE:
                        onsets.append(read + int(index))  # one beep, not one per loud sample
                read += len(data)
                origin = min(origin, arrived - read / RATE)
                # Each chunk's own arrival would add its delivery delay (0-10 ms) to its beep.
                self.beeps[:] = [origin + onset / RATE for onset in onsets]
                chunk = os.read(fd, BLOCK * 4)
        finally:
            parec.kill()
            parec.wait()
            parec.stdout.close()

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


#: A/V sync of a recording: beep - flash in the file is the scene's within this.
SYNC_BOUND_S = 0.040
#: What the audio clock, a grab woken late and the observer may add to a frame's own error
#: (measured beyond it: at most 4 ms in 160 flashes on PulseAudio, 8 ms in 39 on PipeWire,
#: whose sound comes in quanta; up to 32 ms when grabs were not on the frame slots).
CLOCK_TOLERANCE_S = 0.010


def sync_errors(observer: Observer, path: Path, fps: float) -> list[float]:
    """(beep - flash in the file) - (beep - flash on the screen and speaker), per flash."""
    true_skews = observer.skews()
    assert true_skews, (observer.flashes, observer.beeps)
    start = video_start(path)
    flashes, beeps = file_events(path, fps=fps, start_s=start)
    recorded_skews = pair_skews(flashes, beeps)
    assert len(recorded_skews) == len(true_skews), (flashes, beeps, observer.skews())
    print("scene skews (ms):", [round(s * 1000) for s in true_skews])
    print("file skews (ms): ", [round(s * 1000) for s in recorded_skews])
    return [r - t for r, t in zip(recorded_skews, true_skews, strict=True)]


def assert_in_sync(errors: list[float], fps: float) -> None:
    """Each flash within ``SYNC_BOUND_S`` of its beep, and off by no more than sampling allows.

    A frame samples the screen at its slot's instant, so a flash shows from the first slot at
    or after it: late by 0 to one frame (33 ms at 30 fps). The recorded skew (beep - flash) is
    then smaller than the scene's by that much, never larger; beyond it only the clock's own
    error may show.
    """
    frame_s = 1 / fps
    beyond_sampling = [max(0.0, error, -frame_s - error) for error in errors]
    print("error (ms):", [round(e * 1000, 1) for e in errors])
    print("beyond a frame (ms):", [round(b * 1000, 1) for b in beyond_sampling])
    assert max(abs(error) for error in errors) <= SYNC_BOUND_S, errors
    assert max(beyond_sampling) <= CLOCK_TOLERANCE_S, errors


def video_start(path: Path) -> float:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=start_time", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return float(probe) if probe not in ("", "N/A") else 0.0
