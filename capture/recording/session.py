"""The on-disk recording session: what survives a crash, and how it becomes the user's file.

While a recording runs it is a folder under the sessions directory::

    <sessions>/<id>/session.json   what is being recorded, where it goes, what happened
    <sessions>/<id>/audio.pcm      raw int16 interleaved frames, appended and flushed per block
    <sessions>/<id>/lock           held (flock) by the recording process while it lives

Raw PCM is the simplest form that survives ``kill -9``: every block written before the kill is
on disk and readable without any header. Stopping *finalizes*: one ffmpeg run encodes the audio
to a temporary name beside the target, tags are written, and the file is renamed into place.
A session whose lock is free was interrupted; ``loopcap recover`` finalizes it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from capture.errors import LoopcapError, OutputError
from capture.recording.atomic import output_error, write_atomically

if TYPE_CHECKING:
    from capture.audio._types import Frames

log = logging.getLogger(__name__)

MANIFEST = "session.json"
AUDIO = "audio.pcm"
LOCK = "lock"
BYTES_PER_SAMPLE = 2  # int16


@dataclass(slots=True)
class Manifest:
    target: str
    format: str
    samplerate: int
    channels: int
    started_at: str  # local wall time, ISO 8601
    pid: int
    kind: str = "audio"
    state: str = "recording"  # recording → stopped → (finalized: folder removed)
    frames: int | None = None  # the recording's exact length once stopped
    overwrite: bool = False
    gaps: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    version: int = 1
    # Screen recordings (kind "screen"): the live video file, its frame rate, where its first
    # frame sits on the audio timeline (applied at mux), and whether there is audio at all.
    video: str = ""
    fps: int = 0
    video_offset_s: float | None = None
    has_audio: bool = True


class _SessionLock:
    """An advisory lock held while the recording process lives; the OS drops it on any death."""

    def __init__(self, path: Path) -> None:
        from filelock import FileLock

        # Not thread-local: a recording may be started on one thread and stopped on another.
        self._lock = FileLock(path, timeout=0, thread_local=False)

    def try_acquire(self) -> bool:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            return False
        return True

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()


class RecordingSession:
    """One recording in progress (or interrupted), backed by its folder."""

    def __init__(self, folder: Path, manifest: Manifest, lock: _SessionLock | None) -> None:
        self.folder = folder
        self.manifest = manifest
        self._lock = lock
        self._audio: IO[bytes] | None = None
        self._write_lock = threading.Lock()
        # The audio pump (gaps) and the video thread (first frame) both update the manifest.
        self._manifest_lock = threading.Lock()

    # -- creating and writing ---------------------------------------------------------------

    @classmethod
    def create(
        cls,
        sessions_root: Path,
        *,
        target: Path,
        fmt: str,
        samplerate: int,
        channels: int,
        overwrite: bool = False,
        title: str = "",
        video: str = "",
        fps: int = 0,
        has_audio: bool = True,
    ) -> RecordingSession:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = sessions_root / f"{stamp}-{os.getpid()}-{secrets.token_hex(3)}"
        try:
            folder.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise OutputError(
                f"cannot create the session folder {folder}: {exc.strerror}; "
                "set LOOPCAP_STATE_DIR to a writable folder"
            ) from exc
        lock = _SessionLock(folder / LOCK)
        lock.try_acquire()
        manifest = Manifest(
            target=str(target),
            format=fmt,
            samplerate=samplerate,
            channels=channels,
            started_at=datetime.now().isoformat(timespec="seconds"),
            pid=os.getpid(),
            overwrite=overwrite,
            title=title,
            kind="screen" if video else "audio",
            video=video,
            fps=fps,
            has_audio=has_audio,
        )
        session = cls(folder, manifest, lock)
        try:
            session._save_manifest()
            session._audio = (folder / AUDIO).open("ab")
        except OSError as exc:  # a full disk, typically: nothing recorded yet, nothing to keep
            session.discard()
            raise output_error(folder / MANIFEST, exc) from None
        return session

    def write_audio(self, frames: Frames) -> None:
        with self._write_lock:
            if self._audio is None:
                raise LoopcapError("the recording session is already closed")
            self._audio.write(frames.astype("<i2", copy=False).tobytes())
            # Flushed to the OS at once: a kill -9 loses nothing that was written.
            self._audio.flush()

    def note_video_start(self, offset_s: float) -> None:
        """Where the video's first frame sits on the audio timeline (the mux applies it)."""
        self.manifest.video_offset_s = round(offset_s, 6)
        self._update_manifest()

    def note_gap(self, at_seconds: float, reason: str) -> None:
        self.manifest.gaps.append({"at_s": round(at_seconds, 3), "reason": reason})
        self._update_manifest()

    def mark_stopped(self, frames: int) -> None:
        self._close_audio()
        self.manifest.frames = frames
        self.manifest.state = "stopped"
        self._update_manifest()

    def _close_audio(self) -> None:
        with self._write_lock:
            audio, self._audio = self._audio, None
        if audio is not None:
            try:
                audio.close()  # flushes; the file is closed even when that fails
            except OSError as exc:
                log.info("the end of %s did not reach the disk: %s", self.audio_path, exc)

    def _update_manifest(self) -> None:
        """Save the manifest if the disk lets us: without it, recovery goes by the audio file."""
        try:
            self._save_manifest()
        except OSError as exc:
            log.info("cannot update %s: %s", self.folder / MANIFEST, exc)
            with contextlib.suppress(OSError):
                (self.folder / (MANIFEST + ".tmp")).unlink()

    def _save_manifest(self) -> None:
        with self._manifest_lock:
            temp = self.folder / (MANIFEST + ".tmp")
            temp.write_text(json.dumps(asdict(self.manifest), indent=2), encoding="utf-8")
            temp.replace(self.folder / MANIFEST)

    @property
    def audio_path(self) -> Path:
        return self.folder / AUDIO

    def recorded_frames(self) -> int:
        size = self.audio_path.stat().st_size if self.audio_path.exists() else 0
        return size // (BYTES_PER_SAMPLE * self.manifest.channels)

    # -- finalizing -------------------------------------------------------------------------

    def finalize(self, cancel: threading.Event | None = None) -> Path:
        """Encode to the target format under a temporary name, tag, rename; drop the folder."""
        from capture.ffmpeg import audio_format, encode_pcm_file
        from capture.tags import Tags, write_tags

        manifest = self.manifest
        if manifest.kind == "screen":
            return self._finalize_screen(cancel)
        frames = self.recorded_frames()
        if manifest.frames is not None:
            frames = min(frames, manifest.frames)
        if frames == 0:
            raise LoopcapError(f"session {self.folder} holds no audio; nothing to save")
        target = Path(manifest.target)
        fmt = audio_format(manifest.format)

        def encode(temp: Path) -> None:
            encode_pcm_file(
                self.audio_path,
                samplerate=manifest.samplerate,
                channels=manifest.channels,
                target=temp,
                fmt=fmt,
                frames=frames,
                cancel=cancel,
            )
            write_tags(
                temp,
                Tags(title=manifest.title or target.stem, date=manifest.started_at),
                ogg_vendor=fmt.ogg_vendor,
            )

        return self._publish(target, encode)

    def _publish(self, target: Path, produce: Callable[[Path], None]) -> Path:
        """Write the final file atomically (a recording is never lost to a name clash)."""
        final = write_atomically(target, produce, overwrite=self.manifest.overwrite, keep_both=True)
        self.discard()
        return final

    def _has_video(self) -> bool:
        if not self.manifest.video:
            return False
        video = self.folder / self.manifest.video
        return video.exists() and video.stat().st_size > 0

    def is_empty(self) -> bool:
        """Nothing was recorded before the process died (no audio frame, no video)."""
        return self.recorded_frames() == 0 and not self._has_video()

    def _finalize_screen(self, cancel: threading.Event | None) -> Path:
        """One mux: the live video copied, the audio encoded, temporary name, then rename."""
        from capture.ffmpeg import media_duration, mux
        from capture.tags import Tags, write_tags

        manifest = self.manifest
        video = self.folder / manifest.video
        if not self._has_video():
            if self.recorded_frames() == 0:
                raise LoopcapError(f"session {self.folder} holds no video; nothing to save")
            # Killed before the first video fragment reached the disk: keep the sound at least.
            log.warning("the video of %s did not survive; saving its sound", self.folder)
            manifest.kind, manifest.format = "audio", "m4a"
            manifest.target = str(Path(manifest.target).with_suffix(".m4a"))
            return self.finalize(cancel)
        frames = self.recorded_frames()
        if manifest.frames is not None:
            frames = min(frames, manifest.frames) if manifest.has_audio else manifest.frames
        if manifest.has_audio and frames > 0:
            duration = frames / manifest.samplerate
        elif manifest.frames:
            duration = manifest.frames / manifest.samplerate
        else:  # interrupted, without audio: as long as the video that survived
            duration = media_duration(video)
        target = Path(manifest.target)

        def produce(temp: Path) -> None:
            mux(
                video,
                temp,
                container=manifest.format,
                offset_s=manifest.video_offset_s or 0.0,
                duration_s=duration,
                audio=self.audio_path if manifest.has_audio and frames > 0 else None,
                samplerate=manifest.samplerate,
                channels=manifest.channels,
                cancel=cancel,
            )
            if manifest.format == "mp4":
                write_tags(
                    temp, Tags(title=manifest.title or target.stem, date=manifest.started_at)
                )

        return self._publish(target, produce)

    def discard(self) -> None:
        if self._lock is not None:
            self._lock.release()
        shutil.rmtree(self.folder, ignore_errors=True)

    def close(self) -> None:
        """Stop writing and let go of the folder (it stays on disk for recovery)."""
        self._close_audio()
        if self._lock is not None:
            self._lock.release()
            self._lock = None


# -----------------------------------------------------------------------------------------------
# Finding interrupted sessions


def _load_manifest(folder: Path) -> Manifest | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return Manifest(**data)
    except (OSError, ValueError, TypeError):
        return None


def interrupted_sessions(sessions_root: Path) -> list[RecordingSession]:
    """Sessions whose recording process is gone (their lock is free), oldest first.

    The returned sessions hold their lock, so two recoveries never finalize the same one.
    """
    if not sessions_root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in sessions_root.iterdir() if p.is_dir()):
        manifest = _load_manifest(folder)
        if manifest is None:
            continue
        lock = _SessionLock(folder / LOCK)
        if not lock.try_acquire():
            lock.release()
            continue  # still recording
        found.append(RecordingSession(folder, manifest, lock))
    return found


@dataclass(frozen=True, slots=True)
class Recovered:
    session: Path
    saved: Path | None
    error: str = ""
    empty: bool = False  # killed before any audio arrived: removed, nothing lost


def recover(sessions_root: Path) -> list[Recovered]:
    """Finalize every interrupted session found under ``sessions_root``."""
    results = []
    for session in interrupted_sessions(sessions_root):
        if session.is_empty():
            session.discard()  # killed before any audio arrived: nothing to save
            results.append(Recovered(session.folder, None, empty=True))
            continue
        try:
            saved = session.finalize()
        except LoopcapError as exc:
            session.close()
            results.append(Recovered(session.folder, None, str(exc)))
        else:
            results.append(Recovered(session.folder, saved))
    return results
