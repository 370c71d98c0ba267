"""Loopback capture through the ``soundcard`` package, shared by the per-platform backends.

Runs inside loopcap's capture worker process (see ``_worker.py``), never in the main process:
after an audio-server failure the next soundcard call can abort the whole interpreter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from capture.audio._types import SourceInfo, StreamLost, pick_source
from capture.errors import AudioSourceError

if TYPE_CHECKING:
    from capture.audio._apps import AppFilter, AppInfo
    from capture.audio._types import Frames, Stream

# How often a stream that follows the default speaker checks whether the default changed.
DEFAULT_CHECK_INTERVAL_S = 2.0
# Reads are paced to the block: soundcard wakes up for every small chunk the server sends while
# record() waits, so asking just before a block is due costs less (measured on a PulseAudio
# null sink: 1.9 % of a core unpaced, 1.2 % paced). The server buffers meanwhile; nothing is lost.
PACING_MARGIN_S = 0.02


def import_soundcard() -> Any:
    """soundcard connects to the audio server at import; turn its bare errors into one we name."""
    try:
        import soundcard
    except (AssertionError, RuntimeError, IndexError, OSError) as exc:
        # soundcard asserts (no message) when no server answers; IndexError when argv is empty.
        reason = f" ({exc})" if str(exc) else ""
        raise StreamLost(f"cannot reach the audio server{reason}") from exc
    return soundcard


def to_int16(block: Any) -> Frames:
    import numpy as np

    scaled = np.rint(np.asarray(block, dtype=np.float32) * 32768.0)
    frames: Frames = np.clip(scaled, -32768, 32767).astype(np.int16)
    return frames


class SoundcardLoopback:
    """Lists and opens loopback microphones; subclasses choose which microphones count."""

    name = "soundcard"

    def loopback_microphones(self, sc: Any) -> list[Any]:
        return [m for m in sc.all_microphones(include_loopback=True) if m.isloopback]

    def default_source_id(self, sc: Any, microphones: list[Any]) -> str | None:
        """The loopback of the default speaker."""
        try:
            speaker = sc.default_speaker()
        except (RuntimeError, IndexError):
            return None
        for mic in microphones:
            if mic.id in (speaker.id, f"{speaker.id}.monitor"):
                return str(mic.id)
        for mic in microphones:
            if speaker.name and speaker.name in mic.name:
                return str(mic.id)
        return None

    def list_sources(self) -> list[SourceInfo]:
        sc = import_soundcard()
        microphones = self.loopback_microphones(sc)
        default = self.default_source_id(sc, microphones)
        return [SourceInfo(str(m.id), str(m.name), m.id == default) for m in microphones]

    def app_capture(self) -> Any:
        """This platform's per-application capture: ``list_apps()`` and ``open_app(...)``."""
        raise AudioSourceError("recording one application is not possible on this system")

    def list_apps(self) -> list[AppInfo]:
        apps: list[AppInfo] = self.app_capture().list_apps()
        return apps

    def open(
        self,
        spec: str,
        samplerate: int,
        channels: int,
        block_frames: int,
        app: AppFilter | None = None,
    ) -> Stream:
        if app is not None:
            stream: Stream = self.app_capture().open_app(
                app, spec, samplerate, channels, block_frames
            )
            return stream
        sc = import_soundcard()
        source = pick_source(self.list_sources(), spec)
        follow: Callable[[], str | None] | None = None
        if not spec:

            def follow() -> str | None:
                return self.default_source_id(sc, self.loopback_microphones(sc))

        return _Stream(sc, source, samplerate, channels, block_frames, follow)


class _Stream:
    def __init__(
        self,
        sc: Any,
        source: SourceInfo,
        samplerate: int,
        channels: int,
        block_frames: int,
        follow_default: Callable[[], str | None] | None,
    ) -> None:
        self._sc = sc
        self.source = source
        self._samplerate = samplerate
        self._channels = channels
        self._block_frames = block_frames
        self._follow_default = follow_default
        self._next_check = time.monotonic() + DEFAULT_CHECK_INTERVAL_S
        self._block_s = block_frames / samplerate
        self._last_read: float | None = None
        self._recorder: Any = None
        self._open(source.id)

    def _open(self, source_id: str) -> None:
        mic = self._sc.get_microphone(source_id, include_loopback=True)
        recorder = mic.recorder(
            samplerate=self._samplerate, channels=self._channels, blocksize=self._block_frames
        )
        recorder.__enter__()
        self._recorder = recorder
        self.source = SourceInfo(str(mic.id), str(mic.name), self.source.is_default)

    def read(self) -> Frames:
        if self._last_read is not None:
            wait = self._block_s - (time.monotonic() - self._last_read) - PACING_MARGIN_S
            if wait > 0:
                time.sleep(wait)
        try:
            block = self._recorder.record(numframes=self._block_frames)
        except RuntimeError as exc:
            raise StreamLost(f"the audio server stopped the stream ({exc})") from exc
        self._last_read = time.monotonic()
        if self._follow_default is not None and time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + DEFAULT_CHECK_INTERVAL_S
            self._switch_if_default_moved()
        return to_int16(block)

    def _switch_if_default_moved(self) -> None:
        # Players move to a new default speaker; the old one's loopback then goes silent.
        assert self._follow_default is not None
        new_id = self._follow_default()
        if new_id and new_id != self.source.id:
            self._recorder.__exit__(None, None, None)
            self._open(new_id)

    def close(self) -> None:
        if self._recorder is not None:
            recorder, self._recorder = self._recorder, None
            recorder.__exit__(None, None, None)
