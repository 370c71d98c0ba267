"""The replay ring against a plain concatenation of everything appended."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.notes.ring import ReplayRing
from capture.settings import ReplaySettings

RATE = 1000  # small rates keep the arrays tiny; the ring only counts frames


def ramp(start: int, count: int, channels: int = 2) -> np.ndarray:
    """Frames whose value says their position, so misplaced audio is visible."""
    pos = np.arange(start, start + count, dtype=np.int64)
    column = (pos % 30000).astype(np.int16)
    return np.stack([column, -column][:channels], axis=1)


def test_empty_ring() -> None:
    ring = ReplayRing(2.0, RATE, 2)
    assert ring.latest_frame is None
    assert ring.oldest_frame is None
    assert ring.snapshot(0, 100).shape == (0, 2)
    assert ring.last(1.0).shape == (0, 2)


def test_from_settings_sizes_the_ring() -> None:
    ring = ReplayRing.from_settings(ReplaySettings(seconds=120), 48000, 2)
    assert ring.capacity_frames == 120 * 48000
    assert ring.nbytes == 120 * 48000 * 2 * 2
    assert ring.seconds == 120


@pytest.mark.parametrize("seconds", [0.0, -1.0])
def test_ring_without_room_is_an_error(seconds: float) -> None:
    with pytest.raises(ValueError, match="holds no audio"):
        ReplayRing(seconds, RATE, 2)


def test_wrong_block_shape_is_an_error() -> None:
    ring = ReplayRing(1.0, RATE, 2)
    with pytest.raises(ValueError, match="int16 blocks"):
        ring.append(np.zeros((10, 1), dtype=np.int16), 0)
    with pytest.raises(ValueError, match="int16 blocks"):
        ring.append(np.zeros((10, 2), dtype=np.float32), 0)


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 300),
    first=st.integers(-1000, 1000),
    sizes=st.lists(st.integers(0, 700), min_size=1, max_size=25),
    data=st.data(),
)
def test_ring_holds_the_end_of_the_stream(
    capacity: int, first: int, sizes: list[int], data: st.DataObject
) -> None:
    ring = ReplayRing(capacity / RATE, RATE, 2)
    position = first
    for size in sizes:
        ring.append(ramp(position, size), position)
        position += size
        assert ring.nbytes == capacity * 2 * 2
    reference = ramp(first, position - first)
    held = min(capacity, position - first)
    assert ring.latest_frame == position
    assert ring.oldest_frame == position - held
    np.testing.assert_array_equal(ring.snapshot(first - 5, position + 5), reference[-held:])
    # Any span comes back clipped to what is held, exactly as the reference has it.
    a = data.draw(st.integers(first - 50, position + 50))
    b = data.draw(st.integers(first - 50, position + 50))
    start, out = ring.snapshot_from(a, b)
    lo, hi = max(a, position - held), min(b, position)
    if hi > lo:
        assert start == lo
        np.testing.assert_array_equal(out, reference[lo - first : hi - first])
    else:
        assert len(out) == 0


def test_snapshot_is_a_copy() -> None:
    ring = ReplayRing(1.0, RATE, 2)
    ring.append(ramp(0, 500), 0)
    out = ring.snapshot(0, 100)
    ring.append(ramp(500, 1000), 500)
    np.testing.assert_array_equal(out, ramp(0, 100))


def test_block_larger_than_the_ring_keeps_its_end() -> None:
    ring = ReplayRing(0.1, RATE, 2)  # 100 frames
    ring.append(ramp(7, 350), 7)
    assert ring.oldest_frame == 257
    np.testing.assert_array_equal(ring.snapshot(0, 10**6), ramp(257, 100))


def test_gap_is_held_as_silence() -> None:
    ring = ReplayRing(1.0, RATE, 2)
    ring.append(ramp(1, 100), 1)
    ring.append(ramp(1, 100), 1)  # refill the rows so stale audio would show
    ring.append(ramp(150, 50), 150)
    out = ring.snapshot(0, 200)
    np.testing.assert_array_equal(out[:100], ramp(1, 100))
    np.testing.assert_array_equal(out[100:149], 0)
    np.testing.assert_array_equal(out[149:], ramp(150, 50))


def test_gap_longer_than_the_ring() -> None:
    ring = ReplayRing(0.1, RATE, 2)
    ring.append(ramp(0, 100), 0)
    ring.append(ramp(1000, 30), 1000)
    out = ring.snapshot(0, 2000)
    assert ring.oldest_frame == 930
    np.testing.assert_array_equal(out[:70], 0)
    np.testing.assert_array_equal(out[70:], ramp(1000, 30))


def test_overlapping_block_keeps_what_is_held() -> None:
    ring = ReplayRing(1.0, RATE, 2)
    ring.append(ramp(0, 100), 0)
    ring.append(np.full((50, 2), 7, dtype=np.int16), 80)  # 20 frames already held
    np.testing.assert_array_equal(ring.snapshot(0, 100), ramp(0, 100))
    np.testing.assert_array_equal(ring.snapshot(100, 130), 7)
    assert ring.latest_frame == 130


def test_last_seconds() -> None:
    ring = ReplayRing(2.0, RATE, 1)
    ring.append(ramp(0, 3000, channels=1), 0)
    np.testing.assert_array_equal(ring.last(0.5), ramp(2500, 500, channels=1))
    assert len(ring.last(10)) == 2000
    assert ring.held_seconds == 2.0


def test_clear_starts_a_new_clock() -> None:
    ring = ReplayRing(1.0, RATE, 2)
    ring.append(ramp(0, 100), 0)
    ring.clear()
    ring.append(ramp(5, 10), 5)
    assert ring.oldest_frame == 5
    np.testing.assert_array_equal(ring.snapshot(0, 100), ramp(5, 10))


def test_readers_never_see_torn_audio() -> None:
    """A reader racing the writer gets exactly the frames it is told it got."""
    ring = ReplayRing(0.2, RATE, 2)  # 200 frames, lapped every few blocks
    stop = threading.Event()
    errors: list[str] = []

    def read() -> None:
        while not stop.is_set():
            latest = ring.latest_frame
            if latest is None:
                continue
            start, out = ring.snapshot_from(latest - 150, latest + 100)
            if not np.array_equal(out, ramp(start, len(out))):
                errors.append(f"torn snapshot at {start}")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        position = 0
        for size in [37, 64, 113, 5] * 500:
            ring.append(ramp(position, size), position)
            position += size
    finally:
        stop.set()
        reader.join()
    assert errors == []
