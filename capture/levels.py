"""Sound levels in dBFS, the one place they are computed: the note detector's RMS windows, the
Recorder's peak meter, and how a meter fills."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

#: The level of digital silence (every sample 0); any other window reads at least QUIETEST_DB.
SILENCE_DB = -120.0
#: The lowest level a window that is not digital silence reads: a player's silence between
#: notes (exact zeros) is told from the quietest room tone by level alone.
QUIETEST_DB = -119.0
# Full-scale int16: a square wave at ±32768 reads 0 dBFS.
FULL_SCALE = 32768.0
_SILENCE_POWER = FULL_SCALE**2 * 10 ** (SILENCE_DB / 10)
#: A meter shows this range; quieter reads as empty.
METER_FLOOR_DB = -60.0


def levels_db(frames: npt.NDArray[np.int16], window_frames: int) -> npt.NDArray[np.float64]:
    """RMS level in dBFS of each whole window of ``window_frames`` frames (all channels).

    ``frames`` is int16 shaped (frames, channels) or (frames,); a trailing partial window is
    not measured. Digital silence reads :data:`SILENCE_DB`, anything else at least
    :data:`QUIETEST_DB`.
    """
    channels = 1 if frames.ndim == 1 else frames.shape[1]
    return power_to_db(window_power(frames, window_frames), window_frames * channels)


def window_power(frames: npt.NDArray[np.int16], window_frames: int) -> npt.NDArray[np.float64]:
    """Sum of squares of each whole window (in float: squares of int16 overflow int16)."""
    count = len(frames) // window_frames
    samples = frames[: count * window_frames].reshape(count, -1).astype(np.float32)
    power: npt.NDArray[np.float64] = np.einsum("ij,ij->i", samples, samples).astype(np.float64)
    return power


def power_to_db(power: npt.NDArray[np.float64], samples: int) -> npt.NDArray[np.float64]:
    """Mean power over ``samples`` samples as dBFS: :data:`SILENCE_DB` for digital silence
    (a sum of squares of integers is 0 exactly when every sample is), else at least
    :data:`QUIETEST_DB`."""
    mean = np.maximum(power / samples, _SILENCE_POWER)
    db = np.maximum(10.0 * np.log10(mean / FULL_SCALE**2), QUIETEST_DB)
    out: npt.NDArray[np.float64] = np.where(power > 0, db, SILENCE_DB)
    return out


def peak_db(frames: npt.NDArray[np.int16]) -> float:
    """The highest sample's level in dBFS (what a peak meter shows)."""
    if len(frames) == 0:
        return SILENCE_DB
    peak = int(np.abs(frames.astype(np.int32)).max())
    return 20 * math.log10(peak / FULL_SCALE) if peak else SILENCE_DB


def meter_fraction(level_db: float) -> float:
    """How full a meter is at ``level_db``: 0 at :data:`METER_FLOOR_DB` or below, 1 at 0 dBFS."""
    return max(0.0, min(1.0, (level_db - METER_FLOOR_DB) / -METER_FLOOR_DB))
