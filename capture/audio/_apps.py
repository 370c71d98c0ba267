"""Per-application capture, the parts every platform shares: which app, and mixing its streams.

Pure logic, no audio server: ``AppFilter`` says whether a playing stream belongs to the app the
user named (or, inverted, to everything but it); ``AppInfo`` is one app playing now; and
``StreamMixer`` turns the streams of an app, which come and go, into one block stream on the
clock of the whole mix.

Why the whole mix runs alongside: a stream of one app can only be recorded once the server has
told us it exists. Attached at that moment, nothing of it is missed on PulseAudio, but
pipewire-pulse links the recorder a quantum late (5-16 ms measured), and the mix of everything
has those. So the mixer keeps the last two seconds of the mix, finds exactly where a new
stream's first recorded sample sits in it (cross-correlation, near where its arrival says), and
may take the part before that, back to when the stream appeared, from the mix. The mix is also
the clock: one output frame per mix frame, silence when no stream of the app plays, so a
recording's length is wall time. Output runs a second behind the mix, so that a stream whose
data comes late (PipeWire) is placed before its place is handed out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Frames = npt.NDArray[np.int16]
    Wide = npt.NDArray[np.int32]  # summed streams, before clipping back to int16
    Signal = npt.NDArray[np.float64]

#: Where an app is named in a stream's properties (PulseAudio / PipeWire's pulse server).
NAME_KEYS = ("application.name", "application.process.binary")


@dataclass(frozen=True, slots=True)
class AppFilter:
    """The app whose sound is recorded (``exclude``: all sound but that app's)."""

    name: str
    exclude: bool = False

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("an app filter needs a name")

    def names_app(self, *names: str) -> bool:
        """Whether any of ``names`` (an app's name, its executable) contains ours, any case."""
        wanted = self.name.strip().casefold()
        return any(wanted in name.casefold() for name in names if name)

    def follows(self, *names: str) -> bool:
        """Whether a stream of the app with these names is recorded."""
        return self.names_app(*names) != self.exclude

    def describe(self) -> str:
        return f"all sound but {self.name}" if self.exclude else self.name

    def as_args(self) -> list[str]:
        return ["--exclude-app" if self.exclude else "--app", self.name]

    @classmethod
    def from_args(cls, args: list[str]) -> AppFilter | None:
        if len(args) == 2 and args[0] in ("--app", "--exclude-app"):
            return cls(args[1], exclude=args[0] == "--exclude-app")
        return None


@dataclass(frozen=True, slots=True)
class AppInfo:
    """An application playing sound now, as ``loopcap devices --apps`` shows it."""

    name: str
    executable: str = ""
    pid: int | None = None
    streams: int = 1

    def merged(self, other: AppInfo) -> AppInfo:
        return AppInfo(self.name, self.executable, self.pid, self.streams + other.streams)


def group_apps(streams: list[AppInfo]) -> list[AppInfo]:
    """One entry per app (same name, executable and pid), counting its streams; by name."""
    apps: dict[tuple[str, str, int | None], AppInfo] = {}
    for stream in streams:
        key = (stream.name, stream.executable, stream.pid)
        apps[key] = apps[key].merged(stream) if key in apps else stream
    return sorted(apps.values(), key=lambda app: (app.name.casefold(), app.pid or 0))


# -- mixing ------------------------------------------------------------------------------------


class Timeline:
    """Frames on the mix's clock (absolute frame numbers), int32 so that streams can be summed.

    A buffer that grows by doubling and forgets from the front by moving an index: it is fed
    every 10-20 ms, so copying it each time would cost more than everything else here.
    """

    def __init__(self, channels: int) -> None:
        import numpy as np

        self.channels = channels
        self.start = 0  # the frame number of the first frame kept
        self._buf = np.zeros((4096, channels), dtype=np.int32)
        self._lo = 0  # the kept frames are _buf[_lo:_hi]
        self._hi = 0

    @property
    def end(self) -> int:
        return self.start + self._hi - self._lo

    @property
    def data(self) -> Wide:
        return self._buf[self._lo : self._hi]

    def _grow_to(self, end: int) -> None:
        import numpy as np

        need = end - self.start
        if need <= self._hi - self._lo:
            return
        if self._lo + need > len(self._buf):
            kept = self._hi - self._lo
            if need > len(self._buf):
                bigger = np.zeros((max(2 * len(self._buf), need), self.channels), dtype=np.int32)
                bigger[:kept] = self._buf[self._lo : self._hi]
                self._buf = bigger
            else:
                self._buf[:kept] = self._buf[self._lo : self._hi]
            self._lo, self._hi = 0, kept
        self._buf[self._hi : self._lo + need] = 0
        self._hi = self._lo + need

    def _span(self, at: int, count: int) -> tuple[int, int] | None:
        """The part of ``count`` frames at ``at`` not yet forgotten: (skip, buffer index)."""
        skip = max(0, self.start - at)
        if skip >= count:
            return None
        self._grow_to(at + count)
        return skip, self._lo + at + skip - self.start

    def add(self, at: int, frames: Frames | Wide) -> None:
        """Mix ``frames`` in at frame ``at``; what falls before the start is gone already."""
        span = self._span(at, len(frames))
        if span is not None:
            skip, i = span
            self._buf[i : i + len(frames) - skip] += frames[skip:]

    def put(self, at: int, frames: Wide) -> None:
        """Replace what is at ``at`` with ``frames`` (int32 values kept as they are)."""
        span = self._span(at, len(frames))
        if span is not None:
            skip, i = span
            self._buf[i : i + len(frames) - skip] = frames[skip:]

    def get(self, start: int, end: int) -> Wide:
        """Frames ``start``..``end`` (zeros where nothing is known), as int32."""
        import numpy as np

        out = np.zeros((max(0, end - start), self.channels), dtype=np.int32)
        lo, hi = max(start, self.start), min(end, self.end)
        if hi > lo:
            base = self._lo - self.start
            out[lo - start : hi - start] = self._buf[base + lo : base + hi]
        return out

    def drop_before(self, frame: int) -> None:
        if frame > self.start:
            self._lo = min(self._hi, self._lo + frame - self.start)
            if self._lo == self._hi:
                self._lo = self._hi = 0
            self.start = frame


@dataclass
class _Segment:
    """A stretch of one stream's audio, placed on the mix's clock once it is aligned."""

    appeared_mix_frame: int  # the mix position when the stream appeared (lead-in reaches back)
    arrival_mix_frame: int = -1  # where its first data sits by arrival time (± a fragment)
    lead_in: bool = True  # whether the start may be missing and is taken from the mix
    resumed: bool = False  # continues a stream after a pause: unplaceable means continue it
    other: bool = False  # another app's stream: known only to be taken out of the mix
    gone_mix_frame: int | None = None  # the mix position when the server removed it
    chunks: list[Frames] = field(default_factory=list)
    received: int = 0
    offset: int | None = None  # the mix frame of its first recorded frame, once aligned
    # Placed since its place was last checked (``fill_from_mix``): (mix frame, frames); the
    # first ``CHECK_MS`` of them are checked once the mix holds their surroundings.
    recent: list[tuple[int, Frames]] = field(default_factory=list)
    recent_frames: int = 0


#: How much of a new stream is compared with the mix to place it (100 ms).
ALIGN_MS = 100
#: How far from the arrival-time estimate the true place is looked for (on PipeWire a stream's
#: data and the mix's arrive up to ~100 ms apart).
SEARCH_MS = 150
#: The most of the mix taken in front of a new stream. Attached at its event, a stream misses
#: nothing on PulseAudio and 5-16 ms on PipeWire (its first quantum, more under load). The
#: other apps' streams are taken out of that mix (``stream_appeared(other=True)``), so a
#: lead-in longer than what was missed only adds silence.
MAX_LEAD_IN_MS = 50
#: How far before the mix position at a stream's appearance its lead-in may start: the mix
#: arrives a fragment behind real time, but a busy loop may take the news of a stream late.
LEAD_IN_MARGIN_MS = 10
#: What is taken from the mix after a removed stream's last recorded frame: from there to
#: the removal, plus ``TAIL_MARGIN_MS`` (the mix may lag the news), at least ``MAX_TAIL_MS``,
#: at most ``MAX_UNHEARD_MS``. On a loaded machine pipewire-pulse's per-stream recorder was
#: seen to stop up to 250 ms before its stream ended, and once to get nothing of a 0.5 s
#: stream; past the stream's end the mix minus the other apps is silence.
MAX_TAIL_MS = 150
TAIL_MARGIN_MS = 100
MAX_UNHEARD_MS = 3000
#: Output runs this far behind the mix, so a new stream is placed before its place is written
#: (PipeWire sent a new stream's first data 300 ms after its event). The Recorder knows: a
#: recording takes its audio this much later (``latency_frames``).
DELAY_MS = 1000
#: The mix kept for lead-ins and alignment.
HISTORY_MS = 2000
#: A stream whose data comes this much later than its continuation is placed again. Pauses
#: are told by the server (``stream_resumed``); this only catches one that was not (PipeWire
#: delivers a stream's data in bursts up to ~150 ms apart from the mix's, so not less).
RESYNC_MS = 1000
#: How much of a placed stream's data is checked against the mix at a time when recorders
#: may lose frames (PipeWire, loaded: 256 or 512 frames, a graph cycle, now and then; every
#: later frame is then off by that much), and how far from its place it is looked for.
CHECK_MS = 100
CHECK_SEARCH_MS = 40
#: A check waits for the other streams' data, but no longer than until the output is this close
#: (a paused stream's data never comes).
CHECK_WAIT_MARGIN_MS = 200
#: A chunk of a stream fits the mix where the error left is at most this part of its energy
#: (the mix is the streams' sum, rounded: it differs by a unit or two).
MISFIT = 0.01
#: A match is trusted when its correlation stands this far above the others' spread (a
#: stream's own samples inside a louder mix correlate only 0.2-0.7, but alone in the window).
MIN_PROMINENCE = 8.0
#: A match this close to perfect is the stream itself even where nothing stands out: a periodic
#: sound (a beep) fits every period equally well, so its spread of scores is as high as its peak.
PERIODIC_MATCH = 0.9
#: Places within this of the best score count as equally good for a periodic sound (a place
#: whose window reaches 1 % of its length into what came before scores ~0.005 less).
PERIODIC_SLACK = 0.002


class StreamMixer:
    """The streams of one app, mixed and placed on the whole mix's clock.

    Feed it the mix (``on_mix``) and each followed stream (``on_stream``); take output blocks
    with ``pop_block``. Single-threaded: the server's callbacks and the reader share one loop.

    ``align=False`` is for platforms with no whole mix to compare with (Windows process
    loopback, macOS process taps): the caller moves the clock with ``advance`` and each
    stream's data is placed where its arrival says; a stream whose data comes more than
    ``resync_ms`` after its continuation (paused, silent) is placed anew.
    """

    def __init__(
        self,
        samplerate: int,
        channels: int,
        block_frames: int,
        *,
        align: bool = True,
        delay_ms: int = DELAY_MS,
        resync_ms: int = RESYNC_MS,
    ) -> None:
        self.samplerate = samplerate
        self.channels = channels
        self.block_frames = block_frames
        self.align = align
        self.mix = Timeline(channels)
        self.out = Timeline(channels)
        #: Other apps' streams, placed like the app's: what is not the app in the mix.
        self.others = Timeline(channels)
        #: Take what a followed stream's recorder missed (its first and last milliseconds)
        #: from the mix, other apps' streams taken out (on PipeWire).
        self.fill_from_mix = False
        # Stretches of output [start, end) to be taken from the mix minus the other apps,
        # once the output reaches them: the other apps' data for them has arrived by then.
        # With True, only where the other apps' sound is known there (see ``_unknown``).
        self._fills: list[tuple[int, int, bool]] = []
        # Stretches where another app played but its recorder missed it (its first and last
        # milliseconds, lost frames): the mix minus the other apps still holds that app there,
        # so only a new stream's lead-in is filled there (its first 50 ms must be in the file,
        # and this happens only when two apps start at the same instant).
        self._unknown: list[tuple[int, int]] = []
        self.mix_position = 0  # mix frames received so far
        self.delay_frames = self._ms(delay_ms)
        self.resync_frames = self._ms(resync_ms)
        # The output starts ``delay_frames`` of silence early: its first block goes out with
        # the mix's first, and from then on one output frame per mix frame. Otherwise the
        # reader would see a first block late by the delay, take it for a gap, fill it with
        # silence, and then get the delayed audio too: a file longer than wall time.
        self.out_position = -self.delay_frames  # the mix frame of the next output frame
        self._segments: dict[object, _Segment] = {}
        self._gone: list[_Segment] = []  # ended before they could be placed
        self.align_frames = self._ms(ALIGN_MS)
        #: Per stream, how much of its start was taken from the mix (for the benchmark).
        self.lead_ins: list[int] = []

    def _ms(self, ms: float) -> int:
        return round(self.samplerate * ms / 1000)

    # -- input -------------------------------------------------------------------------------

    def on_mix(self, frames: Frames) -> None:
        self.mix.add(self.mix_position, frames)
        self.mix_position += len(frames)
        kept_from = self.mix_position - self._ms(HISTORY_MS)
        self.mix.drop_before(kept_from)
        self.others.drop_before(kept_from)

    def advance(self, frames: int) -> None:
        """The clock moves on by ``frames`` with no mix to keep (``align=False``)."""
        self.mix_position += max(0, frames)

    def stream_appeared(
        self,
        key: object,
        *,
        lead_in: bool = True,
        mix_now: int | None = None,
        other: bool = False,
    ) -> None:
        """A stream of the app exists now (``lead_in``: it may have started playing already);
        ``mix_now``: the mix frames arrived at that moment (default: all fed so far);
        ``other``: a stream of another app, followed only to be taken out of the mix."""
        now = self.mix_position if mix_now is None else mix_now
        lead_in = lead_in and not other
        known = self._segments.get(key)
        if known is not None and known.offset is None:
            # Its data came before the news of it: keep the data, reach back to now.
            known.appeared_mix_frame, known.lead_in = min(now, known.appeared_mix_frame), lead_in
            known.other = other
        else:
            self._segments[key] = _Segment(now, lead_in=lead_in, other=other)

    def _timeline(self, segment: _Segment) -> Timeline:
        return self.others if segment.other else self.out

    def on_stream(self, key: object, frames: Frames, mix_at_arrival: int | None = None) -> None:
        """Frames of a followed stream; ``mix_at_arrival``: how many mix frames had arrived when
        they did (default: all fed so far), which places them when nothing else can."""
        arrival = self.mix_position if mix_at_arrival is None else mix_at_arrival
        segment = self._segments.get(key)
        if segment is None:
            segment = self._segments[key] = _Segment(self.mix_position, lead_in=False)
        if segment.offset is not None:
            expected = segment.offset + segment.received
            arrived = arrival - len(frames)
            if arrived - expected > self.resync_frames:
                # Paused (corked), or only late (PipeWire delivers in bursts): place it again,
                # looking from where it would continue to where its arrival says.
                segment = self._segments[key] = _Segment(
                    expected, lead_in=False, resumed=True, other=segment.other
                )
            else:
                self._timeline(segment).add(expected, frames)
                segment.received += len(frames)
                if self.fill_from_mix:
                    segment.recent.append((expected, frames))
                    segment.recent_frames += len(frames)
                return
        if not segment.chunks:
            # It arrived with the mix of the same moment, so it ends about where the mix ends.
            segment.arrival_mix_frame = arrival - len(frames)
        segment.chunks.append(frames)
        segment.received += len(frames)
        if not self.align or (segment.received >= self.align_frames and self._mix_covers(segment)):
            self._align(segment)

    def _mix_covers(self, segment: _Segment) -> bool:
        """Whether the mix has arrived far enough to hold every place the stream may start."""
        reach = segment.arrival_mix_frame + self.align_frames + self._ms(SEARCH_MS)
        return self.mix_position >= reach

    def stream_resumed(self, key: object, *, mix_now: int | None = None) -> None:
        """A followed stream plays again after a pause (uncorked): place what comes anew."""
        segment = self._segments.get(key)
        if segment is None or segment.offset is None:
            return
        now = self.mix_position if mix_now is None else mix_now
        continuation = segment.offset + segment.received
        self._segments[key] = _Segment(
            min(now, continuation), lead_in=False, resumed=True, other=segment.other
        )

    def stream_gone(self, key: object, *, mix_now: int | None = None) -> None:
        """The server removed the stream (``mix_now``: the mix frames arrived when it said so),
        and everything its recorder had is fed."""
        segment = self._segments.pop(key, None)
        if segment is None:
            return
        segment.gone_mix_frame = self.mix_position if mix_now is None else mix_now
        if segment.offset is None and segment.chunks:
            self._gone.append(segment)  # placed once the mix has caught up with it
        else:
            self._fill_tail(segment)

    def _fill_tail(self, segment: _Segment) -> None:
        """What a removed stream played after its recorder's last frame is in the mix: the
        app's is taken from there; another app's is not known, so no fill may use that part."""
        gone = segment.gone_mix_frame
        if not self.fill_from_mix or gone is None:
            return
        # It stopped playing before the server said it was gone, but the mix may lag that news.
        end = gone + self._ms(TAIL_MARGIN_MS)
        if segment.offset is None:
            # Its recorder got nothing at all (seen on a loaded PipeWire): all from the mix.
            start = max(
                segment.appeared_mix_frame - self._ms(LEAD_IN_MARGIN_MS),
                end - self._ms(MAX_UNHEARD_MS),
            )
        else:
            start = segment.offset + segment.received
            end = min(max(end, start + self._ms(MAX_TAIL_MS)), start + self._ms(MAX_UNHEARD_MS))
        start = max(start, self.out_position)
        if end > start:
            self._missed(segment, start, end)

    def _missed(self, segment: _Segment, start: int, end: int, *, known_only: bool = True) -> None:
        """The recorder of ``segment`` missed ``start``..``end`` while it played (with
        ``known_only``, the app's is filled only where the other apps' sound is known)."""
        if segment.other:
            self._unknown.append((start, end))
        else:
            self._fills.append((start, end, known_only))

    # -- output ------------------------------------------------------------------------------

    def pop_block(self) -> Frames | None:
        """The next output block once the mix is far enough ahead, else None."""
        import numpy as np

        end = self.out_position + self.block_frames
        if self.mix_position - end < self.delay_frames:
            return None
        for segment in [*self._segments.values(), *self._gone]:
            # A stream too short to be compared in full is placed with what it has, in time.
            waited = self._mix_covers(segment)
            due = segment.arrival_mix_frame - self._ms(MAX_LEAD_IN_MS + SEARCH_MS) < end
            if segment.offset is None and segment.chunks and (waited or due):
                self._align(segment)
        self._gone = [segment for segment in self._gone if segment.offset is None]
        if self.fill_from_mix:
            for segment in self._segments.values():
                self._check_place(segment)
        self._fill_due(end)
        block = np.clip(self.out.get(self.out_position, end), -32768, 32767).astype(np.int16)
        self.out_position = end
        self.out.drop_before(end)
        return block

    def _check_place(self, segment: _Segment) -> None:
        """Check each ``CHECK_MS`` a placed stream's data against the mix, once the mix holds
        its surroundings: where the recorder lost frames, what follows is moved to its place."""
        check, search = self._ms(CHECK_MS), self._ms(CHECK_SEARCH_MS)
        while segment.offset is not None and segment.recent_frames >= check:
            count = checked = 0
            while count < check:
                count += len(segment.recent[checked][1])
                checked += 1
            start = segment.recent[0][0]
            if self.mix_position < start + count + search:
                return
            # The other streams' data for it may come later than the mix (another app's is read
            # in larger fragments): checked without it, a fitting chunk would not fit. So wait
            # for it, unless the output comes near.
            near = start - search - self._ms(CHECK_WAIT_MARGIN_MS) <= self.out_position
            if not near and not self._others_reach(segment, start + count + search):
                return
            window, segment.recent = segment.recent[:checked], segment.recent[checked:]
            segment.recent_frames -= count
            if start - search < max(self.mix.start, self.out_position):
                continue
            if not self._fits_in_place(window):
                self._repair(segment, window, search)

    def _others_reach(self, segment: _Segment, frame: int) -> bool:
        """Whether every other placed stream's data has come up to ``frame``."""
        return all(
            other.offset + other.received >= frame
            for other in self._segments.values()
            if other is not segment and other.offset is not None
        )

    def _fits_in_place(self, window: list[tuple[int, Frames]]) -> bool:
        """Whether every chunk of ``window`` (placed back to back) fits the mix where it is,
        as ``_repair`` would find it: the usual case, told with a few array operations."""
        import numpy as np

        start = window[0][0]
        lengths = np.array([len(frames) for _, frames in window])
        starts = start + np.concatenate([[0], np.cumsum(lengths)[:-1]])
        if any(at != expected for (at, _), expected in zip(window, starts, strict=True)):
            return False  # not back to back: let the chunk by chunk check decide
        end = start + int(lengths.sum())
        # Where a chunk fits, the mix minus everything placed there is only the rounding.
        left = self._app_in_mix(start, end) - self.out.get(start, end)
        left_flat = left.ravel().astype(np.float64)
        frames = np.concatenate([frames for _, frames in window]).ravel().astype(np.float64)
        offsets = (starts - start) * self.channels
        chunk_error = np.add.reduceat(left_flat * left_flat, offsets)
        chunk_energy = np.add.reduceat(frames * frames, offsets)
        return bool(np.all((chunk_error <= MISFIT * chunk_energy) | (chunk_energy == 0)))

    def _repair(self, segment: _Segment, window: list[tuple[int, Frames]], search: int) -> None:
        """Each chunk of ``window`` that does not fit the mix where it is placed, but fits it
        (nearly exactly) a little elsewhere, is moved there, and what follows it with it."""
        import numpy as np

        start = window[0][0]
        end = window[-1][0] + len(window[-1][1])
        lo, hi = start - search, end + search
        # The mix without everything placed but these frames: ideally these frames alone.
        alone = self._app_in_mix(lo, hi) - self.out.get(lo, hi)
        for at, frames in window:
            alone[at - lo : at - lo + len(frames)] += frames
        flat = alone.astype(np.float64).sum(axis=1)

        def misfit(at: int, frames: Frames) -> float:
            there = alone[at - lo : at - lo + len(frames)]
            energy = float(np.square(frames.astype(np.float64)).sum())
            if len(there) < len(frames) or energy == 0:
                return 0.0 if energy == 0 else float("inf")
            return float(np.square((there - frames).astype(np.float64)).sum()) / energy

        timeline = self._timeline(segment)
        moved = 0
        for at, frames in window:
            if misfit(at + moved, frames) <= MISFIT:
                if moved:
                    timeline.add(at, -frames.astype(np.int32))
                    timeline.add(at + moved, frames)
                continue
            scores = match_scores(flat, frames.astype(np.float64).sum(axis=1))
            if not np.isfinite(scores).all():
                continue
            there = lo + int(np.argmax(scores))
            if misfit(there, frames) <= MISFIT:
                # Lost frames before it (or, moved back, frames it repeats): it and what
                # follows belong there.
                timeline.add(at, -frames.astype(np.int32))
                timeline.add(there, frames)
                if there > at + moved:
                    # The frames the recorder lost. A loaded server loses the same graph cycle
                    # in every recorder at once, so the other apps' are likely missing there
                    # too: filled anyway (a few ms of them rather than a hole in the note).
                    self._missed(segment, at + moved, there, known_only=False)
                moved = there - at
        if moved:
            for at, frames in segment.recent:
                timeline.add(at, -frames.astype(np.int32))
                timeline.add(at + moved, frames)
            segment.recent = [(at + moved, frames) for at, frames in segment.recent]
            segment.offset = (segment.offset or 0) + moved

    def _app_in_mix(self, start: int, end: int) -> Wide:
        """The mix with the other apps' streams taken out: the app's sound, also what its own
        recorders missed (and the other apps' sound their recorders missed)."""
        return self.mix.get(start, end) - self.others.get(start, end)

    def _fill_due(self, end: int) -> None:
        """Fill the stretches that start before ``end`` (all of each: the mix and the other
        apps' data run a whole output delay ahead, so they hold it)."""
        due = [fill for fill in self._fills if fill[0] < end]
        if not due:
            return
        self._fills = [fill for fill in self._fills if fill[0] >= end]
        self._unknown = [(lo, hi) for lo, hi in self._unknown if hi > self.out_position]
        for first, stop, known_only in due:
            start = max(first, self.out_position)
            parts = self._known_parts(start, stop) if known_only else [(start, stop)]
            for lo, hi in parts:
                # Whatever else of the app plays there is in the mix too: the mix replaces it.
                self.out.put(lo, self._app_in_mix(lo, hi))

    def _known_parts(self, start: int, stop: int) -> list[tuple[int, int]]:
        """The parts of ``start``..``stop`` where every other app's sound is known."""
        parts = [(start, stop)]
        for lo, hi in self._unknown:
            parts = [
                piece
                for a, b in parts
                for piece in ((a, min(b, lo)), (max(a, hi), b))
                if piece[1] > piece[0]
            ]
        return parts

    # -- placing a new stream ------------------------------------------------------------------

    def _align(self, segment: _Segment) -> None:
        import numpy as np

        chunks = segment.chunks
        data = np.concatenate(chunks)
        segment.chunks = []
        if not self.align:  # nothing to compare with: where it arrived is where it is
            segment.offset = segment.arrival_mix_frame
            self.out.add(segment.offset, data)
            return
        earliest = segment.appeared_mix_frame - self._ms(LEAD_IN_MARGIN_MS)
        # Unplaceable (silent, or drowned in the mix): a resumed stream goes on where it was;
        # a new one where its arrival says (on PipeWire that can be off, but it is all there is).
        fallback = segment.appeared_mix_frame if segment.resumed else segment.arrival_mix_frame
        offset = self._find_in_mix(
            data, segment.arrival_mix_frame, earliest, fallback, other=segment.other
        )
        segment.offset = offset
        if segment.other and self.fill_from_mix:
            # Before its first recorded frame it may have played already: not known.
            head = max(segment.appeared_mix_frame - self._ms(LEAD_IN_MARGIN_MS), self.mix.start)
            if head < offset:
                self._unknown.append((head, offset))
        if segment.lead_in:
            # The mix arrives a fragment behind real time, so the stream's first sound lands at
            # or after where the mix was when it appeared.
            lead_start = max(
                segment.appeared_mix_frame - self._ms(LEAD_IN_MARGIN_MS), self.mix.start
            )
            lead_start = max(lead_start, offset - self._ms(MAX_LEAD_IN_MS), self.out_position)
            if lead_start < offset:
                self._fills.append((lead_start, offset, False))
                self.lead_ins.append(offset - lead_start)
        self._timeline(segment).add(offset, data)
        if self.fill_from_mix:
            # Its first chunks are checked too: the recorder may have lost frames among them.
            at = offset
            for chunk in chunks:
                segment.recent.append((at, chunk))
                at += len(chunk)
            segment.recent_frames += len(data)
        self._fill_tail(segment)  # when it was removed before it could be placed

    def _find_in_mix(
        self, data: Frames, estimate: int, earliest: int, fallback: int, *, other: bool = False
    ) -> int:
        """Where ``data`` starts in the mix: the best match near ``estimate`` (and not before
        ``earliest``, when the stream appeared), else ``fallback``. The streams already placed
        (of the app for another app's stream, and the other way round) are taken out of the
        mix first: what is left is mostly the stream itself, so it is found exactly."""
        import numpy as np

        probe = data[: self.align_frames].astype(np.float64).sum(axis=1)
        if not probe.any():
            return fallback
        search = self._ms(SEARCH_MS)
        # A backlog can arrive long after it played (PipeWire, 260 ms seen): look back to the
        # stream's appearance too.
        lo = max(self.mix.start, min(estimate - search, earliest))
        hi = min(self.mix.end, estimate + search + len(probe))
        if hi - lo < len(probe):
            return fallback
        placed = self.out if other else self.others
        mix = (self.mix.get(lo, hi) - placed.get(lo, hi)).astype(np.float64).sum(axis=1)
        scores = match_scores(mix, probe)
        best = int(np.argmax(scores))
        if prominence_of(scores, best) >= MIN_PROMINENCE:
            return lo + best
        if scores[best] >= PERIODIC_MATCH:
            # A periodic sound (a beep, a held note) fits as well one period later, and the
            # next: no place stands out, yet the match is near-perfect. Its first such place is
            # where it started (the recorder may have missed its first ms, so its end may come
            # that much early); its arrival time can be ~100 ms off on PipeWire.
            return lo + int(np.flatnonzero(scores >= scores[best] - PERIODIC_SLACK)[0])
        return fallback


def best_match(haystack: Signal, needle: Signal) -> tuple[int, float]:
    """The offset in ``haystack`` where ``needle`` fits best, and how far that match stands
    out: its normalized correlation over the spread (standard deviation) of all the others.

    Normalized cross-correlation (by FFT); both are mono float arrays, haystack the longer.
    """
    import numpy as np

    scores = match_scores(haystack, needle)
    best = int(np.argmax(scores))
    return best, prominence_of(scores, best)


def match_scores(haystack: Signal, needle: Signal) -> Signal:
    """The normalized correlation of ``needle`` with ``haystack`` at each offset (by FFT)."""
    import numpy as np

    n, m = len(needle), len(haystack)
    size = 1 << (n + m - 1).bit_length()
    dots = np.fft.irfft(np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size)), size)
    dots = dots[: m - n + 1]
    energy = np.concatenate([[0.0], np.cumsum(haystack * haystack)])
    window = np.sqrt(np.maximum(energy[n:] - energy[: m - n + 1], 1e-9))
    scores: Signal = dots / (window * np.sqrt(float((needle * needle).sum())))
    return scores


def prominence_of(scores: Signal, at: int) -> float:
    """How far the score at ``at`` stands above the spread (standard deviation) of all."""
    import numpy as np

    spread = float(np.std(scores)) if len(scores) > 1 else 0.0
    return float(scores[at]) / spread if spread > 0 else float("inf")
