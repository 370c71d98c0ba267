"""Linux per-application capture: one app's streams on PulseAudio or PipeWire (pipewire-pulse).

Runs inside the capture worker process, like every other backend: a dying server must not take
loopcap with it.

How: for each sink input (playing stream) of the app, a record stream on its sink's monitor
with ``pa_stream_set_monitor_stream`` carries that stream's sound alone. This is what
pavucontrol's level meters do; nothing is moved, no volume changed, no module loaded, so the
user hears the app as before and a killed loopcap leaves nothing behind. pipewire-pulse
implements it too. Alongside, one record stream of the whole mix (the default sink's monitor)
is the clock and, on PipeWire, supplies the first milliseconds of each new stream (see
``_apps.py``). A new stream on that sink is recorded from the moment its event arrives, before
a round trip says whose it is; pauses (cork/uncork) are told by the server's change events.

Binding: ``pulsectl`` (maintained, ctypes over libpulse). It lists sink inputs with their
properties and delivers server events; its ctypes layer already declares the stream functions
it uses for per-stream peak meters (``stream_new_with_proplist``, ``stream_set_monitor_stream``,
``stream_connect_record``, ``stream_peek``/``stream_drop``), and those drive a real record
stream here on the same main loop as the events: one thread, no second connection, no parec
process per stream.
"""

from __future__ import annotations

import contextlib
import ctypes
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from capture.audio._apps import NAME_KEYS, AppFilter, AppInfo, StreamMixer, group_apps
from capture.audio._types import SourceInfo, StreamLost, pick_source, take_due
from capture.errors import AudioSourceError

if TYPE_CHECKING:
    from capture.audio._types import Frames

PA_SAMPLE_S16LE = 3  # libpulse's pa_sample_format_t; pulsectl names only the float format
# Our own record streams say they are a level meter, so mixers (pavucontrol) do not list them.
OWN_PROPERTIES = b"application.id=org.PulseAudio.pavucontrol\nmedia.role=production"
#: Each read callback brings about this much: small, so a new stream is placed precisely.
FRAGMENT_MS = 10
#: The same on PipeWire, where the loop wakes ~2.3 times per fragment (measured; PulseAudio
#: about once): at 10 ms, with the mix, the app and the other apps recorded, that was most of
#: per-app CPU; 20 ms cut it by a third (measured). Precision is not lost: a new stream's place
#: comes from the mix (searched +-150 ms around its arrival), not from when its data came.
PIPEWIRE_FRAGMENT_MS = 20
#: Another app's stream is only taken out of the mix, a second later: larger reads cost less.
OTHER_FRAGMENT_MS = 40
CLIENT_NAME = "loopcap"
#: A player that stopped (its stream removed or corked) is said to have stopped this long after
#: the mix position at the server's news of it: the mix may run a burst behind that news, and a
#: cue a little late only ends a note a little later, while an early one is ignored.
STOP_MARGIN_MS = 100
#: How long a removed stream's recorder is kept open: data already on its way still arrives.
ENDING_MS = 300
#: Closed recorders, kept so their ctypes callbacks are never freed under libpulse (a crash).
_CLOSED: list[_Recorder] = []


def _pulsectl() -> Any:
    try:
        import pulsectl
    except ImportError as exc:
        raise AudioSourceError(
            "recording one application needs the Python package pulsectl (pip install pulsectl)"
        ) from exc
    return pulsectl


def _server_errors() -> tuple[type[BaseException], ...]:
    """What pulsectl raises when the server is gone or refuses: all mean "try again later"."""
    pulsectl = _pulsectl()
    from pulsectl import _pulsectl as c

    return (pulsectl.PulseError, pulsectl.PulseDisconnected, c.pa.CallError)


def _connect() -> Any:
    pulsectl = _pulsectl()
    try:
        return pulsectl.Pulse(CLIENT_NAME)
    except pulsectl.PulseError as exc:
        raise StreamLost(f"cannot reach the audio server ({exc})") from exc


def _app_of(sink_input: Any) -> AppInfo:
    props = sink_input.proplist
    pid = props.get("application.process.id", "")
    return AppInfo(
        name=props.get("application.name", "") or sink_input.name or "",
        executable=props.get("application.process.binary", ""),
        pid=int(pid) if pid.isdigit() else None,
    )


def _is_ours(sink_input: Any) -> bool:
    return bool(sink_input.proplist.get("application.id") == "org.PulseAudio.pavucontrol")


def list_apps() -> list[AppInfo]:
    """The applications playing now (one entry per app, with its number of streams)."""
    pulse = _connect()
    try:
        return group_apps([_app_of(si) for si in pulse.sink_input_list() if not _is_ours(si)])
    except _server_errors() as exc:
        raise StreamLost(f"the audio server stopped answering ({exc})") from exc
    finally:
        pulse.close()


def names_of(sink_input: Any) -> tuple[str, ...]:
    return tuple(str(sink_input.proplist.get(key, "")) for key in NAME_KEYS)


class _Recorder:
    """One record stream on a monitor source (of one sink input, or of the whole sink)."""

    def __init__(
        self,
        pulse: Any,
        source_name: str,
        samplerate: int,
        channels: int,
        sink_input: int | None,
        sink: list[tuple[Frames, int]],
        mix_counter: list[int],
        fragment_ms: int = FRAGMENT_MS,
    ) -> None:
        from pulsectl import _pulsectl as c

        self._c = c
        self._channels = channels
        self._frame_bytes = 2 * channels
        self._sink = sink
        # Mix frames arrived so far, shared by all recorders: each chunk is stamped with it on
        # arrival, so a late-running loop still knows which chunks came together.
        self._mix_counter = mix_counter
        self._is_mix = sink_input is None
        self._partial = b""
        spec = c.PA_SAMPLE_SPEC(format=PA_SAMPLE_S16LE, rate=samplerate, channels=channels)
        props = c.pa.proplist_from_string(OWN_PROPERTIES)
        name = b"loopcap app stream" if sink_input is not None else b"loopcap mix"
        self._stream = c.pa.stream_new_with_proplist(pulse._ctx, name, c.byref(spec), None, props)
        c.pa.proplist_free(props)
        self._callback = c.PA_STREAM_REQUEST_CB_T(self._on_data)  # kept: libpulse calls it
        if sink_input is not None:
            c.pa.stream_set_monitor_stream(self._stream, sink_input)
        c.pa.stream_set_read_callback(self._stream, self._callback, None)
        fragment = samplerate * fragment_ms // 1000 * self._frame_bytes
        flags = c.PA_STREAM_DONT_MOVE | c.PA_STREAM_ADJUST_LATENCY
        try:
            c.pa.stream_connect_record(
                self._stream,
                source_name.encode(),
                c.PA_BUFFER_ATTR(fragsize=fragment, maxlength=2**32 - 1),
                flags,
            )
        except c.pa.CallError as exc:
            c.pa.stream_unref(self._stream)
            self._stream = None
            if sink_input is None:
                message = f"the audio server refused to record from {source_name} ({exc})"
            else:
                message = (
                    f"this sound server cannot record one application's stream ({exc}); "
                    "record all sound instead"
                )
            raise AudioSourceError(message) from exc

    def _on_data(self, stream: Any, nbytes: int, _userdata: Any) -> None:
        import numpy as np

        c = self._c
        data, size = ctypes.c_void_p(), ctypes.c_int(nbytes)
        try:
            c.pa.stream_peek(stream, data, ctypes.byref(size))
        except c.pa.CallError:
            return
        if size.value <= 0:
            return
        # A hole (no data pointer) is silence the server could not deliver.
        raw = ctypes.string_at(data, size.value) if data else bytes(size.value)
        c.pa.stream_drop(stream)
        raw = self._partial + raw
        whole = len(raw) - len(raw) % self._frame_bytes
        self._partial = raw[whole:]
        if whole:
            frames = np.frombuffer(raw[:whole], dtype="<i2").reshape(-1, self._channels).copy()
            if self._is_mix:
                self._mix_counter[0] += len(frames)
            self._sink.append((frames, self._mix_counter[0]))

    def close(self) -> None:
        if self._stream is None:
            return
        c = self._c
        # No more calls into Python for this stream, whatever libpulse still has queued.
        c.pa.stream_set_read_callback(self._stream, c.PA_STREAM_REQUEST_CB_T(), None)
        with contextlib.suppress(c.pa.CallError):  # the server removed it already
            c.pa.stream_disconnect(self._stream)
        c.pa.stream_unref(self._stream)
        self._stream = None
        _CLOSED.append(self)  # its ctypes callback must outlive any call already under way


class PulseAppStream:
    """The Stream the worker reads: one app's streams, mixed, on the whole mix's clock."""

    #: Every frame of the mix's clock is emitted (silence when the app is quiet): our own
    #: record stream of the mix keeps the sink from suspending, so the clock never stops.
    continuous = True

    def __init__(
        self,
        app: AppFilter,
        spec: str,
        samplerate: int,
        channels: int,
        block_frames: int,
    ) -> None:
        self.app = app
        self._samplerate = samplerate
        self._channels = channels
        self._pulse = _connect()
        self._mixer = StreamMixer(samplerate, channels, block_frames)
        self._mix_data: list[tuple[Frames, int]] = []
        self._mix_counter = [0]
        self._followed: dict[int, tuple[_Recorder, list[tuple[Frames, int]]]] = {}
        # Of those, the other apps' streams (PipeWire): known only to take them out of the mix.
        self._others: set[int] = set()
        # Removed streams whose recorders stay open a moment: index -> mix frames at removal.
        self._ending: dict[int, int] = {}
        # Output frames where the app's last playing stream stopped (see take_player_stops).
        self._player_stops: list[int] = []
        self._events: deque[Any] = deque()
        self._ready: deque[Frames] = deque()
        # New streams on the mix's sink are recorded from the moment their event arrives, before
        # we know whose they are (that takes a round trip): kept if they are the app's.
        self._speculative: dict[int, tuple[_Recorder, list[tuple[Frames, int]]]] = {}
        self._mix_source = ""
        self._mix_sink = -1
        self._corked: dict[int, bool] = {}
        self._on_pipewire = False
        self._fragment_ms = FRAGMENT_MS  # of our record streams (the app's and the mix)
        try:
            self._start(spec)
        except _server_errors() as exc:
            self.close()
            raise StreamLost(f"the audio server stopped answering ({exc})") from exc
        except BaseException:
            self.close()
            raise

    def _start(self, spec: str) -> None:
        pulse = self._pulse
        default_monitor = f"{pulse.server_info().default_sink_name}.monitor"
        monitors = [
            SourceInfo(s.name, s.description, s.name == default_monitor)
            for s in pulse.source_list()
            if s.monitor_of_sink != 0xFFFFFFFF  # PA_INVALID_INDEX: a microphone, not a monitor
        ]
        mix = pick_source(monitors, spec)
        self._on_pipewire = "pipewire" in str(pulse.server_info().server_name).casefold()
        self._mixer.fill_from_mix = self._on_pipewire
        if self._on_pipewire:
            self._fragment_ms = PIPEWIRE_FRAGMENT_MS
        self._mix_source = mix.id
        self._mix_sink = int(pulse.get_source_by_name(mix.id).monitor_of_sink)
        what = self.app.describe()
        self.source = SourceInfo(f"app:{what}", f"{what} (on {mix.name})", mix.is_default)
        self._mix = _Recorder(
            pulse,
            mix.id,
            self._samplerate,
            self._channels,
            None,
            self._mix_data,
            self._mix_counter,
            self._fragment_ms,
        )
        pulse.event_mask_set("sink_input")
        pulse.event_callback_set(self._on_event)
        # Streams already playing are followed from now; what they played before is the past.
        for sink_input in pulse.sink_input_list():
            self._follow(sink_input, lead_in=False)
        #: How many of the app's streams play now (0: nothing matches yet).
        self.matching_now = len(self._followed) - len(self._others)

    # -- server events -------------------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        self._events.append((event, self._mix_counter[0]))  # where the mix was at that moment
        known = event.index in self._speculative or event.index in self._followed
        if event.t == "new" and not known:
            # Attaching needs no answer from the server: do it now, decide later.
            data: list[tuple[Frames, int]] = []
            try:
                recorder = self._recorder(self._mix_source, int(event.index), data)
            except AudioSourceError:
                pass  # attached properly once we know the stream's sink
            else:
                self._speculative[int(event.index)] = (recorder, data)
        # Asking the server about the stream needs the loop: stop it, handle, resume.
        raise _pulsectl().PulseLoopStop

    def _recorder(
        self,
        source: str,
        index: int,
        data: list[tuple[Frames, int]],
        fragment_ms: int | None = None,
    ) -> _Recorder:
        return _Recorder(
            self._pulse,
            source,
            self._samplerate,
            self._channels,
            index,
            data,
            self._mix_counter,
            fragment_ms or self._fragment_ms,
        )

    def _drop_speculative(self, index: int) -> None:
        speculative = self._speculative.pop(index, None)
        if speculative is not None:
            speculative[0].close()

    def _handle_events(self) -> None:
        pulsectl = _pulsectl()
        while self._events:
            event, mix_at_event = self._events.popleft()
            index = event.index
            if event.t == "remove":
                self._drop_speculative(index)
                if index in self._followed:
                    self._ending.setdefault(index, mix_at_event)
                    self._note_if_stopped(index, mix_at_event)
                continue
            if event.t == "change" and index in self._followed:
                self._check_resumed(index, mix_at_event)
                continue
            if event.t not in ("new", "change") or index in self._followed:
                continue
            try:
                sink_input = self._pulse.sink_input_info(index)
            except pulsectl.PulseIndexError:
                self._drop_speculative(index)
                continue  # gone again already
            self._follow(sink_input, lead_in=event.t == "new", mix_now=mix_at_event)
            self._drop_speculative(index)  # not the app's, or adopted by _follow

    def _check_resumed(self, index: int, mix_at_event: int) -> None:
        """A paused (corked) stream that plays again is placed anew, not after its last data."""
        try:
            corked = bool(self._pulse.sink_input_info(index).corked)
        except _pulsectl().PulseIndexError:
            return
        was_corked = self._corked.get(index)
        self._corked[index] = corked
        if was_corked and not corked:
            self._move_data()  # what it played before the pause, where it belongs
            self._mixer.stream_resumed(index, mix_now=mix_at_event)
        elif corked and not was_corked:
            self._note_if_stopped(index, mix_at_event)

    def _note_if_stopped(self, index: int, mix_at_event: int) -> None:
        """The app's stream ``index`` stopped (removed or corked): if no other stream of the
        app plays, the player stopped; say where, on the output's clock."""
        if index in self._others:
            return
        playing = [
            other
            for other in self._followed
            if other not in self._others
            and other not in self._ending
            and not self._corked.get(other)
        ]
        if not playing:
            stopped = mix_at_event + self._samplerate * STOP_MARGIN_MS // 1000
            # Output frame n holds mix frame n - delay (the output starts a delay early).
            self._player_stops.append(stopped + self._mixer.delay_frames)

    def take_player_stops(self, before: int) -> list[int]:
        """The output frames (counted from this stream's first) before ``before`` where the
        followed app's player stopped: its last playing stream was removed or paused."""
        return take_due(self._player_stops, before)

    def _follow(self, sink_input: Any, *, lead_in: bool, mix_now: int | None = None) -> None:
        if _is_ours(sink_input):
            return
        index = int(sink_input.index)
        on_mix_sink = int(sink_input.sink) == self._mix_sink
        # On PipeWire another app's stream on the recorded sink is followed too: the part of
        # a new stream of the app that its recorder missed is taken from the mix, and what the
        # others play there must be taken out of it (PulseAudio misses nothing: not needed).
        other = not self.app.follows(*names_of(sink_input))
        if other and not (self._on_pipewire and on_mix_sink):
            return
        self._corked[index] = bool(sink_input.corked)
        appeared = self._mix_counter[0] if mix_now is None else mix_now
        if other:
            self._others.add(index)
        speculative = self._speculative.pop(index, None)
        if speculative is not None and on_mix_sink:
            # Recording since its event arrived. PulseAudio then misses nothing of it (measured:
            # 0 ms, 12 of 12), so no lead-in: the mix's would only bring other sound along.
            # pipewire-pulse links the recorder a quantum late (5-16 ms): the mix supplies it.
            lead_in = lead_in and self._on_pipewire
            self._mixer.stream_appeared(index, lead_in=lead_in, mix_now=appeared, other=other)
            self._followed[index] = speculative
            return
        self._mixer.stream_appeared(index, lead_in=lead_in, mix_now=appeared, other=other)
        if speculative is not None:
            speculative[0].close()
        monitor = self._pulse.sink_info(sink_input.sink).monitor_source_name
        data: list[tuple[Frames, int]] = []
        fragment = OTHER_FRAGMENT_MS if other else self._fragment_ms
        self._followed[index] = (self._recorder(monitor, index, data, fragment), data)

    def _unfollow(self, index: int, removed_at: int | None = None) -> None:
        self._ending.pop(index, None)
        if index not in self._followed:
            return
        self._move_data()  # what it played up to now, before it is gone
        recorder, _ = self._followed.pop(index)
        self._corked.pop(index, None)
        self._others.discard(index)
        recorder.close()
        self._mixer.stream_gone(index, mix_now=removed_at)

    def _close_ended(self) -> None:
        """Close the recorders of removed streams once their last data has had time to come."""
        wait = self._samplerate * ENDING_MS // 1000
        for index, removed_at in list(self._ending.items()):
            if self._mix_counter[0] - removed_at >= wait:
                self._unfollow(index, removed_at)

    # -- reading -----------------------------------------------------------------------------

    def _move_data(self) -> None:
        # The mix first: a stream's data is placed relative to the mix that arrived with it.
        for frames, _ in self._mix_data:
            self._mixer.on_mix(frames)
        self._mix_data.clear()
        for index, (_, data) in self._followed.items():
            for frames, mix_at_arrival in data:
                self._mixer.on_stream(index, frames, mix_at_arrival)
            data.clear()
        while (block := self._mixer.pop_block()) is not None:
            self._ready.append(block)

    def read(self) -> Frames:
        server_errors = _server_errors()
        silent_since = time.monotonic()
        while not self._ready:
            try:
                self._pulse.event_listen(timeout=self._fragment_ms / 1000)
                self._handle_events()
                self._close_ended()
            except server_errors as exc:
                raise StreamLost(f"the audio server stopped the stream ({exc})") from exc
            before = self._mixer.mix_position
            self._move_data()
            if self._mixer.mix_position > before:
                silent_since = time.monotonic()
            elif time.monotonic() - silent_since > 5:
                # A suspended or stuck sink: the reader fills the time with silence meanwhile.
                self._check_alive()
                silent_since = time.monotonic()
        return self._ready.popleft()

    def _check_alive(self) -> None:
        try:
            self._pulse.server_info()
        except _server_errors() as exc:
            raise StreamLost(f"the audio server stopped answering ({exc})") from exc

    @property
    def latency_frames(self) -> int:
        """How far the output's content runs behind its clock (the mixer's placing delay)."""
        return self._mixer.delay_frames

    @property
    def lead_ins(self) -> list[int]:
        return self._mixer.lead_ins

    def close(self) -> None:
        for recorder, _ in [*self._followed.values(), *self._speculative.values()]:
            recorder.close()
        self._followed.clear()
        self._speculative.clear()
        mix = getattr(self, "_mix", None)
        if mix is not None:
            mix.close()
        self._pulse.close()


class PulseApps:
    """The per-application side of the Linux backend."""

    name = "pulseaudio"

    def list_apps(self) -> list[AppInfo]:
        return list_apps()

    def open_app(
        self, app: AppFilter, spec: str, samplerate: int, channels: int, block_frames: int
    ) -> PulseAppStream:
        return PulseAppStream(app, spec, samplerate, channels, block_frames)
