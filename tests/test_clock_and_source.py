"""The clock aligner (pure) and LoopbackSource with injected backends that misbehave."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.audio import AudioBlock, LoopbackSource, SourceEvent
from capture.audio._clock import ClockAligner
from capture.audio._types import SourceInfo, StreamLost, pick_source
from capture.errors import AudioSourceError

RATE = 48000
BLOCK = 1920  # 40 ms


def test_steady_stream_is_never_padded() -> None:
    aligner = ClockAligner(RATE, start_time=0.0)
    for i in range(1, 1000):
        assert aligner.on_block(i * BLOCK / RATE + 0.03, BLOCK) == 0
        assert aligner.on_idle(i * BLOCK / RATE + 0.05) == 0
    assert aligner.padded_frames == 0


def test_withheld_blocks_are_filled_up_to_wall_time() -> None:
    # WASAPI: 1 s of blocks, then nothing for 3 s (idle ticks), then blocks again.
    aligner = ClockAligner(RATE, start_time=0.0, gap_threshold=0.5)
    t = 0.0
    for _ in range(25):
        t += BLOCK / RATE
        aligner.on_block(t, BLOCK)
    while t < 4.0:
        t += 0.1
        aligner.on_idle(t)
    for _ in range(25):
        t += BLOCK / RATE
        aligner.on_block(t, BLOCK)
    assert abs(aligner.position - round(t * RATE)) <= BLOCK
    assert aligner.padded_frames == pytest.approx(3.0 * RATE, abs=BLOCK + 0.1 * RATE)


def test_gap_without_idle_ticks_is_filled_at_the_next_block() -> None:
    aligner = ClockAligner(RATE, start_time=0.0)
    aligner.on_block(BLOCK / RATE, BLOCK)
    pad = aligner.on_block(5.0, BLOCK)
    assert aligner.position == pytest.approx(5.0 * RATE, abs=2)
    assert pad == pytest.approx(5.0 * RATE - 2 * BLOCK, abs=2)


@settings(max_examples=60, deadline=None)
@given(
    drift_ppm=st.floats(min_value=-300, max_value=300),
    latency=st.floats(min_value=0.0, max_value=0.3),
)
def test_clock_drift_never_turns_into_silence(drift_ppm: float, latency: float) -> None:
    """A sound card slightly fast or slow against the system clock is not a gap."""
    aligner = ClockAligner(RATE, start_time=0.0)
    period = BLOCK / RATE * (1 + drift_ppm * 1e-6)
    for i in range(1, 20_000):  # ~13 minutes
        aligner.on_block(i * period + latency, BLOCK)
    assert aligner.padded_frames == 0


@settings(max_examples=60, deadline=None)
@given(gap=st.floats(min_value=0.6, max_value=60), before=st.integers(min_value=1, max_value=200))
def test_after_a_gap_the_stream_is_back_on_the_clock(gap: float, before: int) -> None:
    aligner = ClockAligner(RATE, start_time=0.0)
    t = 0.0
    for _ in range(before):
        t += BLOCK / RATE
        aligner.on_block(t + 0.02, BLOCK)
    lag = round((t + 0.02) * RATE) - aligner.position
    t += gap
    aligner.on_block(t + 0.02, BLOCK)
    assert round((t + 0.02) * RATE) - aligner.position == pytest.approx(lag, abs=1)


# -----------------------------------------------------------------------------------------------
# LoopbackSource with injected backends (real threads and time, a few seconds)


class WithholdingStream:
    """Delivers paced blocks, except during [silent_from, silent_to) after opening: then nothing."""

    def __init__(self, silent_from: float, silent_to: float) -> None:
        self.opened = time.monotonic()
        self.silent = (silent_from, silent_to)
        self.source = SourceInfo("fake", "Fake speaker", True)
        self.sent = 0

    def read(self) -> np.ndarray | None:
        time.sleep(BLOCK / RATE)
        now = time.monotonic() - self.opened
        if self.silent[0] <= now < self.silent[1]:
            return None
        self.sent += 1
        return np.full((BLOCK, 2), 1000, dtype=np.int16)

    def close(self) -> None:
        pass


class FakeBackend:
    name = "fake"

    def __init__(self, streams: list[object]) -> None:
        self.streams = streams
        self.opens = 0

    def list_sources(self) -> list[SourceInfo]:
        return [SourceInfo("fake", "Fake speaker", True)]

    def open(self, spec: str, samplerate: int, channels: int, block_frames: int) -> object:
        self.opens += 1
        item = self.streams.pop(0) if len(self.streams) > 1 else self.streams[0]
        if isinstance(item, Exception):
            raise item
        if callable(item):
            return item()
        return item


def drain(source: LoopbackSource, seconds: float) -> list[AudioBlock]:
    blocks = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        block = source.read(timeout=0.05)
        if block is not None:
            blocks.append(block)
    return blocks


def test_source_pads_silence_while_backend_sends_nothing() -> None:
    backend = FakeBackend([lambda: WithholdingStream(0.5, 2.0)])
    source = LoopbackSource(backend=backend, gap_threshold_s=0.3)  # type: ignore[arg-type]
    source.start()
    blocks = drain(source, 3.0)
    source.close()
    total = sum(len(b.frames) for b in blocks)
    silent = sum(len(b.frames) for b in blocks if b.silent_fill)
    starts = [b.start_frame for b in blocks]
    ends = [b.end_frame for b in blocks]
    assert starts[1:] == ends[:-1], "blocks must be contiguous on the clock"
    assert total / RATE == pytest.approx(3.0, abs=0.2)
    assert silent / RATE == pytest.approx(1.5, abs=0.35)


class DyingStream(WithholdingStream):
    def __init__(self, dies_after: float) -> None:
        super().__init__(1e9, 1e9)
        self.dies_after = dies_after

    def read(self) -> np.ndarray | None:
        if time.monotonic() - self.opened > self.dies_after:
            raise StreamLost("server went away")
        return super().read()


def test_source_reconnects_and_fills_the_outage() -> None:
    outage = [StreamLost("no server")] * 4  # ~0.25+0.5+1.0 s of failed reopen attempts
    backend = FakeBackend([lambda: DyingStream(1.0), *outage, lambda: WithholdingStream(9, 9)])
    events: list[SourceEvent] = []
    source = LoopbackSource(backend=backend, on_event=events.append, gap_threshold_s=0.3)  # type: ignore[arg-type]
    source.start()
    blocks = drain(source, 5.0)
    source.close()
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["lost", "reconnected"]
    total = sum(len(b.frames) for b in blocks)
    assert total / RATE == pytest.approx(5.0, abs=0.25)
    real_after = [b for b in blocks if not b.silent_fill and b.start_frame > 3.0 * RATE]
    assert real_after, "audio after the reconnect must be recorded"


def test_source_gives_up_after_the_reconnect_timeout_with_a_clear_error() -> None:
    backend = FakeBackend([lambda: DyingStream(0.3), StreamLost("no server")])
    source = LoopbackSource(backend=backend, reconnect_timeout_s=1.0, gap_threshold_s=0.3)  # type: ignore[arg-type]
    source.start()
    with pytest.raises(AudioSourceError, match="unreachable for 1 s"):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            source.read(timeout=0.05)
    source.close()


def test_unknown_source_fails_at_start() -> None:
    backend = FakeBackend([AudioSourceError("no loopback source matches 'nope'")])
    with pytest.raises(AudioSourceError, match="nope"):
        LoopbackSource("nope", backend=backend).start()  # type: ignore[arg-type]


def test_pick_source_by_id_or_unique_name_part() -> None:
    sources = [
        SourceInfo("alsa_output.pci.monitor", "Monitor of Built-in Audio", False),
        SourceInfo("bluez_sink.monitor", "Monitor of Headphones", True),
    ]
    assert pick_source(sources, "").id == "bluez_sink.monitor"
    assert pick_source(sources, "alsa_output.pci.monitor").is_default is False
    assert pick_source(sources, "headphones").id == "bluez_sink.monitor"
    with pytest.raises(AudioSourceError, match="several"):
        pick_source(sources, "monitor of")
    with pytest.raises(AudioSourceError, match="available: alsa_output"):
        pick_source(sources, "hdmi")


def test_closing_twice_is_harmless() -> None:
    source = LoopbackSource(backend=FakeBackend([lambda: WithholdingStream(9, 9)]))  # type: ignore[arg-type]
    source.start()
    source.close()
    source.close()
    assert not any(t.name == "loopback-reader" for t in threading.enumerate())
