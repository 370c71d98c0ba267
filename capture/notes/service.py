"""Always keeping the recent past: the replay ring, note detection, and saving what they hold.

A :class:`NoteService` is a block consumer of the Recorder. On the pump thread it appends each
block to the ring, feeds the note detector and the catch planner, and handles key presses that
were posted to it (the detector and planner are single-threaded by design). Saving never happens
on the pump thread: snapshots of the ring go to a saver thread that encodes them with ffmpeg.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from capture.errors import LoopcapError
from capture.events import Event, NoteArmed, NoteCatching, NoteFailed, NoteSaved, NoteTimedOut
from capture.ffmpeg import file_extension
from capture.recording.targets import file_name_from_template

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from capture.audio import AudioBlock
    from capture.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClipFormat:
    """How saved notes and replays are written."""

    folder: Path
    fmt: str
    name_template: str  # strftime pattern, applied to the clip's start time


def save_clip(
    frames: npt.NDArray[np.int16],
    *,
    samplerate: int,
    target: Path,
    fmt: str,
    settings: Settings,
    title: str,
    date: datetime,
) -> Path:
    """Encode int16 frames into ``target`` (temporary name, tags, rename); return the file."""
    import ffmpeg as ffmpeg_python

    from capture.ffmpeg import audio_format, open_pipe
    from capture.recording.atomic import write_atomically
    from capture.tags import Tags, write_tags

    output = settings.output
    spec = audio_format(
        fmt,
        mp3_quality=output.mp3_quality,
        aac_kbps=output.aac_bitrate_kbps,
        opus_kbps=output.opus_bitrate_kbps,
    )
    channels = frames.shape[1]

    def encode(temp: Path) -> None:
        shape: dict[str, int] = {}
        if spec.sample_rate is not None:
            shape["ar"] = spec.sample_rate
        if spec.channels is not None:
            shape["ac"] = spec.channels
        stream = ffmpeg_python.input("pipe:", f="s16le", ar=samplerate, ac=channels).output(
            str(temp),
            f=spec.muxer,
            acodec=spec.codec,
            map_metadata=-1,
            **dict(spec.encoder_options),
            **shape,
        )
        with open_pipe(stream, what=f"saving {target.name}") as pipe:
            pipe.write(frames.astype("<i2", copy=False).tobytes())
        write_tags(
            temp,
            Tags(title=title, date=date.isoformat(timespec="seconds")),
            ogg_vendor=spec.ogg_vendor,
        )

    return write_atomically(target, encode, keep_both=True)


class NoteService:
    """Ring + detector + catch planner, fed on the pump thread; saves on a thread of its own."""

    def __init__(
        self,
        settings: Settings,
        *,
        samplerate: int,
        channels: int,
        clips: ClipFormat,
        emit: Callable[[Event], None],
        frame_time: Callable[[int], datetime],
        save_every_note: bool = False,
    ) -> None:
        from capture.notes.detector import CatchPlanner, NoteDetector
        from capture.notes.ring import ReplayRing

        self.settings = settings
        self.samplerate = samplerate
        self.clips = clips
        self.save_every_note = save_every_note
        self.ring = ReplayRing.from_settings(settings.replay, samplerate, channels)
        # Listening starts at once; the VAD (about a second to load) joins when it is ready,
        # and until then notes are found by level alone.
        self.detector = NoteDetector(settings.notes, samplerate)
        self._vad_loader = threading.Thread(
            target=self._load_vad, args=(samplerate,), daemon=True, name="vad-loader"
        )
        self._vad_loader.start()
        self.planner = CatchPlanner(settings.notes, samplerate)
        self._emit = emit
        self._frame_time = frame_time
        self._presses: queue.SimpleQueue[float] = queue.SimpleQueue()
        self._jobs: queue.Queue[tuple[npt.NDArray[np.int16], int, str] | None] = queue.Queue()
        self._saver = threading.Thread(target=self._save_loop, daemon=True, name="note-saver")
        self._saver.start()
        self.saved: list[Path] = []

    def _load_vad(self, samplerate: int) -> None:
        from capture.vad import speech_detector

        notes = self.settings.notes
        # One reference assignment: the pump thread sees the old None or the whole detector.
        self.detector.speech = speech_detector(notes.vad, samplerate, notes.vad_threshold)

    # -- the pump thread -----------------------------------------------------------------------

    def on_block(self, block: AudioBlock) -> None:
        from capture.notes.detector import (
            CatchArmed,
            CatchReady,
            CatchTimedOut,
            CatchWaiting,
            NoteEnded,
        )

        self.ring.append(block.frames, block.start_frame)  # first: events name frames it holds
        events = self.detector.feed_block(block.frames, block.start_frame)
        for frame in block.player_stopped:
            # The followed app closed or paused its stream: a note that fell silent is over.
            events += self.detector.player_stopped(frame)
        now = block.end_frame
        catches = []
        while not self._presses.empty():
            self._presses.get()
            catches += self.planner.press(self.detector, now)
        catches += self.planner.feed(events, now)
        if self.save_every_note:
            for event in events:
                if isinstance(event, NoteEnded):
                    self._queue_save(event.note.start_frame, event.note.end_frame, "heard")
        for catch in catches:
            if isinstance(catch, CatchArmed):
                self._emit(NoteArmed(self.settings.notes.catch_timeout_s))
            elif isinstance(catch, CatchWaiting):
                self._emit(NoteCatching((now - catch.start_frame) / self.samplerate))
            elif isinstance(catch, CatchReady) and not self.save_every_note:
                self._queue_save(catch.note.start_frame, catch.note.end_frame, catch.reason)
            elif isinstance(catch, CatchTimedOut):
                self._emit(NoteTimedOut(self.settings.notes.catch_timeout_s))

    def finish(self) -> None:
        """Listening stopped: a note still sounding is complete as far as it went; save it."""
        from capture.events import CatchState
        from capture.notes.detector import NoteEnded

        for event in self.detector.finish():
            if isinstance(event, NoteEnded) and (
                self.save_every_note or self.planner.state is CatchState.CATCHING
            ):
                self._queue_save(event.note.start_frame, event.note.end_frame, "heard")
        self.planner.cancel()

    def _queue_save(self, start: int, end: int, reason: str) -> None:
        real_start, frames = self.ring.snapshot_from(start, end)
        if real_start > start:
            log.warning(
                "the note began before the replay ring's %.0f s; saved what it held",
                self.ring.seconds,
            )
        if len(frames):
            self._jobs.put((frames, real_start, reason))

    # -- any thread ----------------------------------------------------------------------------

    def catch_note(self) -> None:
        """The hotkey: handled on the pump thread with the next block (within ~40 ms)."""
        self._presses.put(time.monotonic())

    def save_last(self, seconds: float) -> tuple[Path, float]:
        """Save the last ``seconds`` of audio now (blocking); returns the file and its length,
        shorter than asked when the ring has not heard that much yet."""
        latest = self.ring.latest_frame
        if latest is None:
            raise LoopcapError("nothing has been heard yet; try again in a moment")
        start = max(0, latest - round(seconds * self.samplerate))
        real_start, frames = self.ring.snapshot_from(start, latest)
        return self._save(frames, real_start, "loopcap"), len(frames) / self.samplerate

    # -- the saver thread ----------------------------------------------------------------------

    def _save_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            frames, start, reason = job
            try:
                path = self._save(frames, start, "note")
            except LoopcapError as exc:
                self._emit(NoteFailed(str(exc)))
            else:
                self._emit(NoteSaved(path, len(frames) / self.samplerate, reason))
            finally:
                self._jobs.task_done()

    def _save(self, frames: npt.NDArray[np.int16], start_frame: int, kind: str) -> Path:
        started = self._frame_time(start_frame)
        template = (
            self.clips.name_template if kind == "note" else self.settings.output.name_template
        )
        extension = file_extension(self.clips.fmt)
        target = self.clips.folder / file_name_from_template(template, started, extension)
        title = ("Voice note " if kind == "note" else "loopcap ") + started.strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        path = save_clip(
            frames,
            samplerate=self.samplerate,
            target=target,
            fmt=self.clips.fmt,
            settings=self.settings,
            title=title,
            date=started,
        )
        self.saved.append(path)
        return path

    def close(self, timeout: float = 60) -> None:
        """Finish saving what is queued, then stop the saver."""
        self._jobs.put(None)
        self._saver.join(timeout)


def wall_clock_mapper(samplerate: int, monotonic_start: float) -> Callable[[int], datetime]:
    """Frame → local wall time, for file names and tags (sample 0 is ``monotonic_start``)."""
    offset = datetime.now() - timedelta(seconds=time.monotonic() - monotonic_start)

    def frame_time(frame: int) -> datetime:
        return offset + timedelta(seconds=frame / samplerate)

    return frame_time
