"""The controller every front end drives: the CLI, the tray and the control socket.

A Recorder owns one LoopbackSource and a *pump* thread that takes its blocks and hands them to
whatever needs them: the level meter, a running recording's session file, and any other block
consumer (the replay ring and note detector). The source's own thread only reads; the pump does
the disk writes. Front ends learn what happens through events (:meth:`Recorder.subscribe`),
delivered on the pump thread: a UI must hand them over to its own thread.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from capture.errors import AudioSourceError, LoopcapError
from capture.events import (
    Event,
    LevelChanged,
    RecordingFailed,
    RecordingSaved,
    SourceProblem,
    State,
    StateChanged,
)
from capture.settings import Settings, sessions_dir

if TYPE_CHECKING:
    from capture.audio import AudioBlock, LoopbackSource, SourceEvent
    from capture.audio._types import Backend, SourceInfo
    from capture.notes.service import ClipFormat, NoteService
    from capture.recording.session import RecordingSession
    from capture.recording.video import AudioClock, VideoCapture
    from capture.screen import Target

log = logging.getLogger(__name__)

# Level events are for meters: ten a second is plenty.
LEVEL_EVENT_INTERVAL_S = 0.1
SILENCE_DB = -120.0


BlockConsumer = Callable[["AudioBlock"], None]


def peak_db(block: AudioBlock) -> float:
    if len(block.frames) == 0:
        return SILENCE_DB
    peak = int(abs(block.frames.astype("int32")).max())
    return 20 * math.log10(peak / 32768) if peak else SILENCE_DB


class _ActiveRecording:
    """A recording's place on the sample clock, as the pump writes it."""

    def __init__(self, session: RecordingSession, started_at: float) -> None:
        self.session = session
        self.started_at = started_at
        self.next_frame: int | None = None  # where on the clock the next write continues
        self.frames_wanted: int | None = None  # the exact length, known once stopping
        self.written = 0
        self.done = threading.Event()
        self.lock = threading.Lock()  # the pump writes while the stopping thread may pad
        self.video: VideoCapture | None = None  # screen recordings: frames on this clock
        self.clock: AudioClock | None = None
        self.has_audio = True

    def accept(self, block: AudioBlock) -> None:
        if self.clock is not None:
            self.clock.on_audio_block(block)
        with self.lock:
            if self.done.is_set():
                return
            if self.next_frame is None:
                self.next_frame = block.start_frame
                if self.clock is not None:
                    self.clock.set_start(block.start_frame)
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
            if missing > 0:
                self.session.write_audio(np.zeros((missing, channels), dtype=np.int16))
                self.written += missing


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
        self._consumers: list[BlockConsumer] = []
        self._lock = threading.RLock()
        self._source: LoopbackSource | None = None
        self._pump: threading.Thread | None = None
        self._closing = threading.Event()
        self._recording: _ActiveRecording | None = None
        self._last_level_event = 0.0
        self._notes: NoteService | None = None
        self.source_failure: AudioSourceError | None = None
        self.state = State.IDLE

    # -- events --------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` with every event (on the pump thread); returns an unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def add_block_consumer(self, consumer: BlockConsumer) -> None:
        """Hand every audio block to ``consumer`` on the pump thread (keep it quick)."""
        self._consumers.append(consumer)

    def _emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # a broken subscriber must not stop the recording
                log.exception("event subscriber failed on %s", event)

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
            audio = self.settings.audio
            source = LoopbackSource(
                audio.source,
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
            self._emit(LevelChanged(peak_db(block)))
        recording = self._recording
        if recording is not None:
            recording.accept(block)
        for consumer in self._consumers:
            consumer(block)

    def _on_source_event(self, event: SourceEvent) -> None:
        recording = self._recording
        if recording is not None:
            with self._lock:
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

    def start_recording(self, target: Path, fmt: str, *, overwrite: bool = False) -> None:
        """Start writing loopback audio to a crash-safe session that becomes ``target``."""
        from capture.recording.session import RecordingSession

        with self._lock:
            if self._recording is not None:
                raise LoopcapError("a recording is already running; stop it first")
            self.start_listening()
            session = RecordingSession.create(
                self.sessions_root,
                target=target,
                fmt=fmt,
                samplerate=self.settings.audio.samplerate,
                channels=self.settings.audio.channels,
                overwrite=overwrite,
            )
            self._recording = _ActiveRecording(session, self._clock())
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
        from capture.recording.session import RecordingSession
        from capture.recording.video import LIVE_VIDEO, AudioClock, VideoCapture, WallClock
        from capture.screen import ScreenSource

        with self._lock:
            if self._recording is not None:
                raise LoopcapError("a recording is already running; stop it first")
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
            clock = AudioClock(self.samplerate) if audio else WallClock(started_at)
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
            recording = _ActiveRecording(session, started_at)
            recording.video, recording.has_audio = video, audio
            recording.clock = clock if isinstance(clock, AudioClock) else None
            self._recording = recording
            self._set_state(State.RECORDING)

    def stop_recording(self, *, length_s: float | None = None) -> Path:
        """Stop at this instant (or at ``length_s`` into the recording), finalize, return the file.

        The recording is exactly as long as the time between start and stop: audio still on its
        way is waited for, and if it never comes (a lost source) silence makes up the rest.
        """
        with self._lock:
            recording = self._recording
            if recording is None:
                raise LoopcapError("no recording is running")
            elapsed = self._clock() - recording.started_at
            if length_s is not None:
                elapsed = min(elapsed, length_s)  # --duration: exactly that long, not a tick more
            frames_wanted = round(elapsed * self.samplerate)
            recording.stop_at(frames_wanted)
            # Audio lags the clock by a block or two; a gap is filled after gap_threshold.
            grace = self.settings.audio.gap_threshold_s + 1.0
            if not recording.has_audio:
                recording.written = frames_wanted  # the timeline's length, without audio
            elif self.source_failure is None and not recording.done.wait(grace):
                log.warning("audio stopped arriving before the end; padding with silence")
            if recording.has_audio:
                recording.pad_to_length(self.settings.audio.channels)
            self._recording = None
            session = recording.session
            if recording.video is not None:
                recording.video.stop(frames_wanted / self.samplerate)
            session.mark_stopped(recording.written)
            listening = self._source is not None and self.source_failure is None
            self._set_state(State.LISTENING if listening else State.IDLE)
        try:
            path = session.finalize()
        except LoopcapError as exc:
            session.close()
            self._emit(RecordingFailed(f"{exc}; the recording is kept for 'loopcap recover'"))
            raise
        seconds = recording.written / self.samplerate
        self._emit(RecordingSaved(path, seconds))
        return path

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
        from capture.notes.service import NoteService, wall_clock_mapper
        from capture.recording.targets import check_writable_folder

        with self._lock:
            if self._notes is not None:
                return self._notes
            clips = clips or self.default_clip_format()
            check_writable_folder(clips.folder, create=True)
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

        Returns at once; NoteArmed / NoteStarted / NoteSaved / NoteTimedOut events follow.
        """
        self.start_notes().catch_note()

    def save_last(self, seconds: float) -> Path:
        """Save the last ``seconds`` of what was played (as far as the ring reaches)."""
        path = self.start_notes().save_last(seconds)
        self._emit(RecordingSaved(path, seconds))
        return path

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop listening. A running recording is kept on disk for 'loopcap recover'."""
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

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
