"""Keeping a recording's timeline equal to wall time: where to insert silence.

Backends do not always deliver audio: WASAPI sends nothing while nothing plays (SoundCard issue
#137), and an audio server that dies and comes back leaves a hole. The aligner watches block
arrivals on the monotonic clock and says how many frames of silence to insert so that a
recording's length always matches the time that passed. It is pure logic: times are passed in.

It only fills *gaps* (no data for longer than ``gap_threshold``), keeping whatever steady lag
the stream had before the gap, so the slow drift between a sound card's clock and the system
clock never turns into inserted silence, and real audio is never dropped.
"""

from __future__ import annotations


class ClockAligner:
    def __init__(self, samplerate: int, start_time: float, gap_threshold: float = 0.5) -> None:
        self.samplerate = samplerate
        self.start_time = start_time
        self.gap_threshold = gap_threshold
        #: Frames handed out so far, real and silent.
        self.position = 0
        #: How far the stream ran behind the clock, in frames, before the latest gap.
        self._lag = 0
        self._last_event = start_time
        #: Total silence inserted, in frames.
        self.padded_frames = 0

    def expected_frames(self, now: float) -> int:
        """Frames that wall time says should exist at ``now``."""
        return max(0, round((now - self.start_time) * self.samplerate))

    def on_block(self, now: float, frames: int, *, may_have_gap: bool = True) -> int:
        """A block of ``frames`` arrived at ``now``: the silence to insert before it.

        ``may_have_gap=False``: the source delivers every frame (late at worst), so a long wait
        was a stall of ours and what arrives now is the backlog, not audio after a gap.
        """
        pad = 0
        if may_have_gap and now - self._last_event > self.gap_threshold:
            # This block ends at ``now``: place it there, behind by the lag seen before the gap.
            pad = max(0, self.expected_frames(now) - self._lag - (self.position + frames))
        self.position += pad + frames
        self.padded_frames += pad
        self._lag = self.expected_frames(now) - self.position
        self._last_event = now
        return pad

    def on_idle(self, now: float) -> int:
        """Nothing arrived up to ``now``: the silence to insert to keep up with the clock."""
        if now - self._last_event <= self.gap_threshold:
            return 0
        pad = max(0, self.expected_frames(now) - self._lag - self.position)
        self.position += pad
        self.padded_frames += pad
        self._last_event = now
        return pad
