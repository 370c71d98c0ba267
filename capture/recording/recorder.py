"""The Recorder: the one controller every client drives (the CLI, the tray, the control socket),
and the one place for loopcap's state and rules.

It owns one LoopbackSource, the running recording (audio or screen), the note service (replay
ring, detector, catch planner) and the catch state. It checks what a start needs before anything
starts (the encoders of the output format, a writable folder), so every client fails at once, not
at stop. Clients only request (start, stop, catch, save) and render what they are told.

Threads:

- *caller threads* (the CLI's main thread, the tray's workers, control-socket handlers, hotkey
  callbacks) call the public methods. Those that change state take ``_lock`` briefly; none holds
  it while waiting for audio or ffmpeg.
- the source's *reader* thread (``LoopbackSource``) reads audio and reports problems
  (:meth:`_on_source_event`): it notes gaps in the session and emits ``SourceProblem``.
- *audio-pump* takes each block and hands it to the level meter, the running recording's session
  (disk writes) and the block consumers (the note service: ring, detector, planner).
- *note-saver* (the note service) encodes caught notes with ffmpeg.
- *screen-grab* and the video writer (``VideoCapture``) run during screen recordings.
- *recorder-events* delivers every event to the subscribers (:meth:`subscribe`), one at a time,
  in the order they were emitted, whichever thread emitted them. Subscribers run there and only
  there: a UI hands what it needs over to its own loop. A subscriber must not wait for a later
  event (it would wait for itself).

Methods that report an outcome (:meth:`stop_recording`, :meth:`save_last`, :meth:`close`) return
only after the events they emitted have been delivered.
"""

from __future__ import annotations

import errno
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from capture.errors import (
    AudioSourceError,
    DiskFullError,
    LoopcapError,
    OutputError,
    RecordingCutShort,
)
from capture.events import (
    CatchState,
    Event,
    LevelChanged,
    NoteArmed,
    NoteCatching,
    NoteFailed,
    NoteSaved,
    NoteTimedOut,
    RecordingFailed,
    RecordingKind,
    RecordingSaved,
    SourceProblem,
    State,
    StateChanged,
)
from capture.paths import sessions_dir
from capture.settings import Settings

if TYPE_CHECKING:
    from capture.audio import AppFilter, AudioBlock, LoopbackSource, SourceEvent
    from capture.audio._types import Backend, SourceInfo
    from capture.notes.service import ClipFormat, NoteService
    from capture.recording.session import RecordingSession
    from capture.recording.video import AudioClock, VideoCapture
    from capture.screen import Target

log = logging.getLogger(__name__)

# Level events are for meters: ten a second is plenty.
LEVEL_EVENT_INTERVAL_S = 0.1
AFTER_SPACE = "run it once there is space"


BlockConsumer = Callable[["AudioBlock"], None]


class _EventDispatcher:
    """Delivers events on one thread of its own, in the order they were emitted."""

    #: How long a flush waits for a subscriber that does not return.
    FLUSH_TIMEOUT_S = 30.0

    def __init__(self, subscribers: list[Callable[[Event], None]]) -> None:
        self._subscribers = subscribers
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Event | threading.Event | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def emit(self, event: Event) -> None:
        with self._lock:
            if self._thread is None:
                self._queue = queue.SimpleQueue()  # each thread drains a queue of its own
                self._thread = threading.Thread(
                    target=self._deliver, args=(self._queue,), daemon=True, name="recorder-events"
                )
                self._thread.start()
            self._queue.put(event)

    def _deliver(self, events: queue.SimpleQueue[Event | threading.Event | None]) -> None:
        while True:
            event = events.get()
            if event is None:
                return
            if isinstance(event, threading.Event):
                event.set()  # a flush marker: everything before it is delivered
                continue
            for callback in list(self._subscribers):
                try:
                    callback(event)
                except Exception:  # a broken subscriber must not stop the others
                    log.exception("event subscriber failed on %s", event)

    def flush(self) -> None:
        """Return once every event emitted so far is delivered (at once on the event thread)."""
        marker = threading.Event()
        with self._lock:
            if self._thread is None or self._thread is threading.current_thread():
                return
            self._queue.put(marker)
        if not marker.wait(self.FLUSH_TIMEOUT_S):
            log.warning("an event subscriber is taking more than %.0f s", self.FLUSH_TIMEOUT_S)

    def close(self) -> None:
        """Deliver what is queued, then end the thread (a later event starts a new one)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.FLUSH_TIMEOUT_S)


class _ActiveRecording:
    """A recording's place on the sample clock, as the pump writes it."""

    def __init__(self, session: RecordingSession, started_at: float, kind: RecordingKind) -> None:
        self.session = session
        self.started_at = started_at
        self.kind = kind
        self.stopping = False  # stop_recording is under way (it waits without the Recorder lock)
        self.finished = threading.Event()  # stop_recording is done with it
        self.next_frame: int | None = None  # where on the clock the next write continues
        self.frames_wanted: int | None = None  # the exact length, known once stopping
        self.written = 0
        self.done = threading.Event()
        self.lock = threading.Lock()  # the pump writes while the stopping thread may pad
        self.video: VideoCapture | None = None  # screen recordings: frames on this clock
        self.clock: AudioClock | None = None
        self.has_audio = True
        #: Why writing stopped early (a full disk, typically); the recording then ends.
        self.write_error: OSError | None = None
        #: What stopping gave, for a recording that ended by itself (see Recorder.stop_recording).
        self.outcome: Future[Path] = Future()
        self.source_latency = 0  # frames the source's content runs behind its clock

    def accept(self, block: AudioBlock) -> None:
        if self.clock is not None:
            self.clock.on_audio_block(block)
        with self.lock:
            if self.done.is_set() or self.write_error is not None:
                return
            if self.next_frame is None:
                # A source whose content runs behind its clock (per-app capture places new
                # streams before handing them out) has played what is due now that much later:
                # what came before is from before the recording started.
                self.next_frame = block.start_frame + self.source_latency
                if self.clock is not None:
                    self.clock.set_start(self.next_frame)
            skip = max(0, self.next_frame - block.start_frame)
            frames = block.frames[skip:]
            if self.frames_wanted is not None:
                frames = frames[: max(0, self.frames_wanted - self.written)]
            if len(frames):
                self.session.write_audio(frames)
                self.written += len(frames)
                self.next_frame = block.start_frame + skip + len(frames)
            self._check_done()

    def _check_done(self) -> None:
        if self.frames_wanted is not None and self.written >= self.frames_wanted:
            self.done.set()

    def stop_at(self, frames_wanted: int) -> None:
        with self.lock:
            self.frames_wanted = frames_wanted
            self._check_done()

    def pad_to_length(self, channels: int) -> None:
        """Make up with silence whatever the source did not deliver before stopping."""
        import numpy as np

        with self.lock:
            self.done.set()
            missing = (self.frames_wanted or 0) - self.written
            if missing > 0 and self.write_error is None:
                try:
                    self.session.write_audio(np.zeros((missing, channels), dtype=np.int16))
                except OSError as exc:
                    self.write_error = exc
                else:
                    self.written += missing


#: The catch state each event leaves behind.
_CATCH_AFTER: dict[type, CatchState] = {
    NoteArmed: CatchState.ARMED,
    NoteCatching: CatchState.CATCHING,
    NoteTimedOut: CatchState.IDLE,
    NoteSaved: CatchState.IDLE,
    NoteFailed: CatchState.IDLE,
}


class Recorder:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        backend: Backend | None = None,
        sessions_root: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or Settings()
        self._backend = backend
        self.sessions_root = sessions_root or sessions_dir()
        self._clock = clock
        self._subscribers: list[Callable[[Event], None]] = []
        self._events = _EventDispatcher(self._subscribers)
        self._consumers: list[BlockConsumer] = []
        self._lock = threading.RLock()
        self._source: LoopbackSource | None = None
        self._pump: threading.Thread | None = None
        self._closing = threading.Event()
        self._recording: _ActiveRecording | None = None
        self._ended_by_itself: _ActiveRecording | None = None  # its disk filled: see stop
        self._last_level_event = 0.0
        self._notes: NoteService | None = None
        self.source_failure: AudioSourceError | None = None
        self.state = State.IDLE
        self._catch = CatchState.IDLE
        self._catch_since = clock()

    # -- events --------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` with every event, on the recorder-events thread (see the thread map
        above); returns an unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def add_block_consumer(self, consumer: BlockConsumer) -> None:
        """Hand every audio block to ``consumer`` on the pump thread (keep it quick)."""
        self._consumers.append(consumer)

    def _emit(self, event: Event) -> None:
        """From any thread: update the state the event changes, then queue it for delivery."""
        catch = _CATCH_AFTER.get(type(event))
        if catch is not None and catch is not self._catch:
            self._catch, self._catch_since = catch, self._clock()
        self._events.emit(event)

    @property
    def catch_state(self) -> CatchState:
        """Whether a catch-note request is waiting for a note or catching one."""
        return self._catch

    @property
    def seconds_in_catch_state(self) -> float:
        """How long ago the catch state last changed."""
        return self._clock() - self._catch_since

    def _set_state(self, state: State) -> None:
        if state is not self.state:
            self.state = state
            self._emit(StateChanged(state))

    # -- listening -----------------------------------------------------------------------------

    @property
    def source_info(self) -> SourceInfo | None:
        return self._source.info if self._source is not None else None

    @property
    def samplerate(self) -> int:
        return self.settings.audio.samplerate

    def start_listening(self) -> SourceInfo:
        """Open the loopback source and start the pump (once; later calls return at once)."""
        from capture.audio import LoopbackSource

        with self._lock:
            if self._source is not None and self._source.info is not None:
                return self._source.info
            from capture.settings import app_filter

            audio = self.settings.audio
            source = LoopbackSource(
                audio.source,
                app=app_filter(audio),
                samplerate=audio.samplerate,
                channels=audio.channels,
                block_ms=audio.block_ms,
                gap_threshold_s=audio.gap_threshold_s,
                reconnect_timeout_s=audio.reconnect_timeout_s,
                backend=self._backend,
                on_event=self._on_source_event,
                clock=self._clock,
            )
            info = source.start()
            self._source = source
            self.source_failure = None
            self._closing.clear()
            self._pump = threading.Thread(target=self._pump_loop, daemon=True, name="audio-pump")
            self._pump.start()
            if self.state is State.IDLE:
                self._set_state(State.LISTENING)
            return info

    @property
    def app_streams_at_start(self) -> int | None:
        """With an app: how many of its streams played when listening began (0: none yet)."""
        return self._source.app_streams_at_start if self._source is not None else None

    @property
    def app(self) -> AppFilter | None:
        """The application followed (None: all sound)."""
        from capture.settings import app_filter

        return app_filter(self.settings.audio)

    def follow_app(self, app: AppFilter | None) -> None:
        """Record ``app`` from now on (None: all sound), also on a running source."""
        import dataclasses

        audio = dataclasses.replace(
            self.settings.audio,
            app=app.name if app is not None and not app.exclude else "",
            exclude_app=app.name if app is not None and app.exclude else "",
        )
        with self._lock:
            self.settings = dataclasses.replace(self.settings, audio=audio)
            if self._source is not None:
                self._source.follow_app(app)

    def _pump_loop(self) -> None:
        source = self._source
        assert source is not None
        while not self._closing.is_set():
            try:
                block = source.read(timeout=0.1)
            except AudioSourceError as exc:
                self.source_failure = exc
                self._emit(RecordingFailed(str(exc)))
                break
            if block is not None:
                self._dispatch(block)

    def _dispatch(self, block: AudioBlock) -> None:
        now = self._clock()
        if now - self._last_level_event >= LEVEL_EVENT_INTERVAL_S:
            self._last_level_event = now
            from capture.levels import peak_db

            self._emit(LevelChanged(peak_db(block.frames)))
        recording = self._recording
        if recording is not None and recording.write_error is None:
            try:
                recording.accept(block)
            except OSError as exc:  # a full disk: the recording ends, listening goes on
                self._end_after_write_error(recording, exc)
        for consumer in self._consumers:
            consumer(block)

    def _end_after_write_error(self, recording: _ActiveRecording, error: OSError) -> None:
        """Stop a recording whose session can no longer be written, from another thread (the
        pump must go on feeding the ring and the note detector)."""
        log.info("writing %s failed: %s", recording.session.audio_path, error)
        recording.write_error = error
        recording.done.set()

        def finish() -> None:
            with self._lock:
                if self._recording is not recording or recording.stopping:
                    return  # being stopped already, by whoever stopped it
                recording.stopping = True
                self._ended_by_itself = recording
                recording.stop_at(recording.written)
            try:
                recording.outcome.set_result(self._finish(recording, recording.written))
            except LoopcapError as exc:
                recording.outcome.set_exception(exc)

        threading.Thread(target=finish, daemon=True, name="recording-stopper").start()

    def _on_source_event(self, event: SourceEvent) -> None:
        # The reader thread: no Recorder lock here (the session guards its own manifest).
        recording = self._recording
        if recording is not None:
            recording.session.note_gap(event.at - recording.started_at, event.message)
        self._emit(SourceProblem(event.kind, event.message))

    # -- recording -----------------------------------------------------------------------------

    @property
    def recording_elapsed(self) -> float:
        recording = self._recording
        return self._clock() - recording.started_at if recording is not None else 0.0

    @property
    def recording_target(self) -> Path | None:
        recording = self._recording
        return Path(recording.session.manifest.target) if recording is not None else None

    @property
    def recording_kind(self) -> RecordingKind | None:
        """What the running recording captures (None when none runs)."""
        recording = self._recording
        return recording.kind if recording is not None else None

    def resolve_target(
        self,
        output: str | None = None,
        fmt: str | None = None,
        *,
        screen: bool = False,
        overwrite: bool = False,
    ) -> tuple[Path, str]:
        """The file a recording will be saved to, and its format, checked before it starts.

        ``output`` is a file or folder (None: the recordings folder, a new dated name); ``fmt``
        overrides the format the name's extension gives.
        """
        from capture.ffmpeg import AUDIO_FORMATS, VIDEO_FORMATS
        from capture.recording.targets import resolve_output
        from capture.settings import output_folder

        settings = self.settings
        return resolve_output(
            output,
            fmt,
            default_folder=output_folder(settings),
            default_format=(
                settings.screen.video_format if screen else settings.output.audio_format
            ),
            name_template=settings.output.name_template,
            formats=VIDEO_FORMATS if screen else AUDIO_FORMATS,
            overwrite=overwrite,
        )

    def start_recording(self, target: Path, fmt: str, *, overwrite: bool = False) -> None:
        """Start writing loopback audio to a crash-safe session that becomes ``target``."""
        from capture.ffmpeg import require_encoders_for
        from capture.recording.session import RecordingSession

        with self._lock:
            if self._recording is not None:
                raise LoopcapError("a recording is already running; stop it first")
            require_encoders_for(fmt)  # fail now, not after an hour of recording
            self.start_listening()
            session = RecordingSession.create(
                self.sessions_root,
                target=target,
                fmt=fmt,
                samplerate=self.settings.audio.samplerate,
                channels=self.settings.audio.channels,
                overwrite=overwrite,
            )
            recording = _ActiveRecording(session, self._clock(), RecordingKind.AUDIO)
            source = self._source
            recording.source_latency = source.latency_frames if source is not None else 0
            self._recording = recording
            self._set_state(State.RECORDING)

    def start_screen_recording(
        self,
        target: Path,
        screen: Target,
        *,
        fmt: str = "mp4",
        audio: bool = True,
        overwrite: bool = False,
    ) -> None:
        """Start recording the screen (monitor, region or window) and, unless ``audio`` is
        False, the loopback audio, whose sample clock the frames are placed on."""
        from capture.ffmpeg import require_encoders_for
        from capture.recording.session import RecordingSession
        from capture.recording.video import LIVE_VIDEO, AudioClock, VideoCapture, WallClock
        from capture.screen import ScreenSource

        with self._lock:
            if self._recording is not None:
                raise LoopcapError("a recording is already running; stop it first")
            require_encoders_for(fmt, audio=audio)  # fail now, not after an hour of recording
            options = self.settings.screen
            source = ScreenSource(
                screen,
                fps=options.fps,
                cursor=options.cursor,
                on_warning=lambda message: self._emit(SourceProblem("screen", message)),
                clock=self._clock,
            )
            source.open()  # no display, no such window: fail before anything starts
            if audio:
                self.start_listening()
            session = RecordingSession.create(
                self.sessions_root,
                target=target,
                fmt=fmt,
                samplerate=self.samplerate,
                channels=self.settings.audio.channels,
                overwrite=overwrite,
                video=LIVE_VIDEO,
                fps=options.fps,
                has_audio=audio,
            )
            started_at = self._clock()
            latency = self._source.latency_frames if audio and self._source is not None else 0
            clock = (
                AudioClock(self.samplerate, latency_s=latency / self.samplerate)
                if audio
                else WallClock(started_at)
            )
            video = VideoCapture(
                source,
                session.folder / LIVE_VIDEO,
                settings=options,
                clock=clock,
                on_start=session.note_video_start,
                monotonic=self._clock,
            )
            try:
                video.start()  # grabbing starts before the audio's first sample is known
            except BaseException:
                video.close()
                session.discard()
                raise
            recording = _ActiveRecording(session, started_at, RecordingKind.SCREEN)
            recording.video, recording.has_audio = video, audio
            if audio and self._source is not None:
                recording.source_latency = self._source.latency_frames
            recording.clock = clock if isinstance(clock, AudioClock) else None
            self._recording = recording
            self._set_state(State.RECORDING)

    def stop_recording(self, *, length_s: float | None = None) -> Path:
        """Stop at this instant (or at ``length_s`` into the recording), finalize, return the file.

        The recording is exactly as long as the time between start and stop: audio still on its
        way is waited for, and if it never comes (a lost source) silence makes up the rest.
        A recording that ended by itself (its disk filled up) is not running any more: the first
        stop after that gives its outcome, RecordingCutShort (saved) or OutputError (kept for
        recovery).
        """
        with self._lock:
            recording, ended = self._recording, self._ended_by_itself
            self._ended_by_itself = None
            if recording is not None and recording.stopping:
                if recording.write_error is None:
                    raise LoopcapError("no recording is running")
                ended = recording  # the disk filled; it is being saved as far as it got
            if recording is None or ended is recording:
                if ended is None:
                    raise LoopcapError("no recording is running")
            else:
                recording.stopping = True
                elapsed = self._clock() - recording.started_at
                if length_s is not None:
                    elapsed = min(elapsed, length_s)  # a set duration: exactly that long
                frames_wanted = round(elapsed * self.samplerate)
                recording.stop_at(frames_wanted)
                ended = None
        if ended is not None:
            return ended.outcome.result()
        assert recording is not None
        return self._finish(recording, frames_wanted)

    def _finish(self, recording: _ActiveRecording, frames_wanted: int) -> Path:
        """Wait for the last audio, close the writers, finalize (``stopping`` is set)."""
        try:
            # Without the lock: the pump and the reader keep working while the last audio comes.
            self._wait_for_the_end(recording, frames_wanted)
            if recording.write_error is not None:
                frames_wanted = min(frames_wanted, recording.written)  # as far as the disk took
            if recording.video is not None:
                recording.video.stop(frames_wanted / self.samplerate)
            session = recording.session
            # Audio that came before a late stop (a set duration reached while busy) is not kept.
            recording.written = min(recording.written, frames_wanted)
            session.mark_stopped(recording.written)
            with self._lock:
                self._recording = None
                listening = self._source is not None and self.source_failure is None
                self._set_state(State.LISTENING if listening else State.IDLE)
        finally:
            recording.finished.set()
        return self._finalize(recording)

    def _finalize(self, recording: _ActiveRecording) -> Path:
        """Turn a stopped recording into its file; say plainly what happened if it cannot."""
        session = recording.session
        seconds = recording.written / self.samplerate
        if recording.written == 0 and recording.video is None:
            session.discard()  # stopped before the first audio block: nothing to keep
            raise LoopcapError("the recording stopped before any audio arrived; nothing saved")
        cut_short = ""
        if recording.write_error is not None:
            cut_short = (
                f"{self._write_problem(recording.write_error)}; "
                f"the recording stopped after {seconds:.1f} s"
            )
        try:
            path = session.finalize()
        except LoopcapError as exc:
            session.close()
            if cut_short:
                message = f"{cut_short} and is kept for 'loopcap recover' ({AFTER_SPACE})"
            elif isinstance(exc, DiskFullError) or "No space left" in str(exc):
                message = (
                    f"no space left on the disk holding {Path(session.manifest.target).parent}; "
                    f"the recording is kept for 'loopcap recover' ({AFTER_SPACE})"
                )
            else:
                message = f"{exc}; the recording is kept for 'loopcap recover'"
            self._emit(RecordingFailed(message))
            self._events.flush()
            raise OutputError(message) from None
        self._emit(RecordingSaved(path, seconds))
        if cut_short:
            message = f"{cut_short} and what was recorded is saved as {path}"
            self._emit(RecordingFailed(message))
            self._events.flush()
            raise RecordingCutShort(message, path)
        self._events.flush()
        return path

    def _write_problem(self, error: OSError) -> str:
        """A full (or failing) disk under the sessions folder, as the user needs to hear it."""
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return (
                f"no space left on the disk holding {self.sessions_root} (recordings in progress)"
            )
        return f"cannot write to {self.sessions_root}: {error.strerror or error}"

    def _wait_for_the_end(self, recording: _ActiveRecording, frames_wanted: int) -> None:
        if recording.write_error is not None:
            return  # nothing more will be written
        if not recording.has_audio:
            recording.written = frames_wanted  # the timeline's length, without audio
            return
        # Audio lags the clock by a block or two; a gap is filled after gap_threshold.
        grace = self.settings.audio.gap_threshold_s + 1.0
        if self.source_failure is None and not recording.done.wait(grace):
            log.warning("audio stopped arriving before the end; padding with silence")
        recording.pad_to_length(self.settings.audio.channels)

    # -- the recent past: replay ring and voice notes -----------------------------------------

    def default_clip_format(self) -> ClipFormat:
        from capture.notes.service import ClipFormat
        from capture.settings import output_folder

        output = self.settings.output
        return ClipFormat(
            output_folder(self.settings), output.audio_format, output.note_name_template
        )

    def start_notes(
        self, clips: ClipFormat | None = None, *, save_every_note: bool = False
    ) -> NoteService:
        """Keep the recent past in the replay ring and watch for notes (once; then a no-op)."""
        from capture.ffmpeg import require_encoders_for
        from capture.notes.service import NoteService, wall_clock_mapper
        from capture.recording.targets import check_writable_folder

        with self._lock:
            if self._notes is not None:
                return self._notes
            clips = clips or self.default_clip_format()
            check_writable_folder(clips.folder, create=True)
            require_encoders_for(clips.fmt)  # a caught note must be savable
            self.start_listening()
            assert self._source is not None and self._source.aligner is not None
            service = NoteService(
                self.settings,
                samplerate=self.samplerate,
                channels=self.settings.audio.channels,
                clips=clips,
                emit=self._emit,
                frame_time=wall_clock_mapper(self.samplerate, self._source.aligner.start_time),
                save_every_note=save_every_note,
            )
            self.add_block_consumer(service.on_block)
            self._notes = service
            return service

    def catch_note(self) -> None:
        """Save the note playing now from its onset, or the one that just ended, or the next.

        Returns at once; NoteArmed / NoteCatching / NoteSaved / NoteTimedOut events follow.
        """
        self.start_notes().catch_note()

    def save_last(self, seconds: float) -> Path:
        """Save the last ``seconds`` of what was played (as far as the ring reaches)."""
        path, saved_seconds = self.start_notes().save_last(seconds)
        self._emit(RecordingSaved(path, saved_seconds, replay=True))
        self._events.flush()
        return path

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop listening. A running recording is kept on disk for 'loopcap recover'."""
        stopping = self._recording
        if stopping is not None and stopping.stopping:
            stopping.finished.wait(self.settings.audio.gap_threshold_s + 60)
        with self._lock:
            if self._recording is not None:
                if self._recording.video is not None:
                    self._recording.video.close()
                self._recording.session.close()
                self._recording = None
            self._closing.set()
            if self._pump is not None:
                self._pump.join(timeout=5)
                self._pump = None
            if self._notes is not None:
                # The pump is gone, so the detector may be driven from here.
                self._notes.finish()
                self._notes.close()
                self._consumers.remove(self._notes.on_block)
                self._notes = None
            if self._source is not None:
                self._source.close()
                self._source = None
            self._set_state(State.IDLE)
        self._events.close()  # every event delivered before close returns

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
