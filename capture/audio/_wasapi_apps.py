"""Windows per-application capture: WASAPI process loopback, through proc-tap.

``ActivateAudioInterfaceAsync`` with ``AUDIOCLIENT_ACTIVATION_TYPE_PROCESS_LOOPBACK`` records one
process *and its children* (a browser's audio runs in a child process). The COM side comes
from the maintained ``proc-tap`` package (import name ``proctap``): its
``ProcessAudioCapture(pid)`` hands out interleaved float32 PCM, 48 kHz stereo, as bytes, from a
queue its own thread fills (``read(timeout)``: a chunk, or None when nothing came).

Here: which processes a name means (by image name, from a process list given as data), one
capture per process tree of the app, mixed on the wall clock with ``TappedAppStream`` (an app
that is not running yet is waited for; copies started later are followed too), the
conversion of proc-tap's blocks, and the applications playing now for ``devices --apps``
(pycaw's audio sessions of the default speaker).

Two things proc-tap does that loopcap must not let through:
- Below build 20438 it does not fail: it records *all* sound instead (its native code checks
  the build and falls back to the whole endpoint; so does any failed activation). Microsoft
  documents process loopback from build 20348; loopcap gates at proc-tap's 20438, and checks
  after opening that the capture really is the process's (``is_process_specific``).
- It has the include mode only (``PROCESS_LOOPBACK_MODE_INCLUDE_TARGET_PROCESS_TREE`` is fixed
  in its native code): "all sound but this app" is refused with a message.

Why not the exclude mode by hand (comtypes): it means declaring the vtables of
``IAudioClient``, ``IAudioCaptureClient`` and ``IActivateAudioInterfaceAsyncOperation`` and
implementing an agile ``IActivateAudioInterfaceCompletionHandler`` in Python, called on a COM
worker thread. None of it can run where loopcap is developed and tested, and a mistake there
hangs or crashes the capture instead of failing with a message; the one PyPI package with an
exclude mode (process-audio-capture) writes WAV files and hands out no PCM. Until it can be
run on Windows, a clear refusal beats a capture nobody has heard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from capture.audio._tapped import (
    MAX_TAKE,
    LinearResampler,
    TapFailed,
    TappedAppStream,
    pcm_to_frames,
)
from capture.errors import AudioSourceError

if TYPE_CHECKING:
    from capture.audio._apps import AppFilter, AppInfo
    from capture.audio._types import Frames

log = logging.getLogger(__name__)

#: proc-tap records one process from Windows build 20438 on (Windows 11, Server 2022); below
#: that it silently records all sound, so loopcap does not use it there.
FIRST_BUILD = 20438

#: What proc-tap delivers, whatever the device runs at: float32, 48 kHz, two channels.
PROC_TAP_RATE = 48000
PROC_TAP_CHANNELS = 2

#: pycaw's AudioSessionState.Active: the session is playing now.
SESSION_ACTIVE = 1


@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    image: str  # the executable's file name, e.g. "WhatsApp.exe"
    parent: int = 0


@dataclass(frozen=True, slots=True)
class AudioSession:
    """One audio session of the default speaker, as pycaw reports it."""

    pid: int
    image: str  # "" when the process is gone or unreadable
    active: bool
    display_name: str = ""


def process_loopback_supported(build: int) -> bool:
    return build >= FIRST_BUILD


def require_process_loopback(build: int) -> None:
    if not process_loopback_supported(build):
        raise AudioSourceError(
            f"recording one application needs Windows 11 (build {FIRST_BUILD} or later); "
            f"this is build {build}. Without an app, loopcap records all sound"
        )


def image_stem(image: str) -> str:
    """``WhatsApp.exe`` → ``WhatsApp``: users name apps without the extension."""
    return image[:-4] if image.casefold().endswith(".exe") else image


def capture_roots(processes: list[Process], app: AppFilter) -> list[Process]:
    """The processes to hand to process loopback for ``app``: each matching process whose
    parent does not match too (the loopback includes a process's children already)."""
    matching = {p.pid for p in processes if app.names_app(p.image, image_stem(p.image))}
    return [p for p in processes if p.pid in matching and p.parent not in matching]


def refuse_exclude(app: AppFilter) -> None:
    if app.exclude:
        raise AudioSourceError(
            f"recording all sound but {app.name} is not available on Windows in this version "
            f"of loopcap; record {app.name} alone, or all sound"
        )


def tap_targets(processes: list[Process], app: AppFilter) -> dict[int, Process]:
    """What to tap for ``app`` now, by pid: one capture per process tree of the app (two
    copies started apart are two trees, each recorded and mixed)."""
    refuse_exclude(app)
    return {p.pid: p for p in capture_roots(processes, app)}


def apps_from_sessions(sessions: list[AudioSession]) -> list[AppInfo]:
    """The applications playing now, from the default speaker's audio sessions: one entry per
    process with its number of active sessions; the system-sounds session (pid 0) is left out."""
    from capture.audio._apps import AppInfo, group_apps

    playing = [
        AppInfo(
            name=session.display_name
            if session.display_name and not session.display_name.startswith("@")
            else image_stem(session.image),
            executable=session.image,
            pid=session.pid,
        )
        for session in sessions
        if session.active and session.pid and session.image
    ]
    return group_apps(playing)


def check_proc_tap_format(reported: dict[str, Any]) -> None:
    """proc-tap 0.4+ reports 48 kHz, 2 channels, float32; older releases gave 44.1 kHz int16."""
    rate = reported.get("sample_rate")
    channels = reported.get("channels")
    sample = str(reported.get("sample_format", "")).casefold()
    if rate != PROC_TAP_RATE or channels != PROC_TAP_CHANNELS or sample not in ("f32", "float32"):
        raise AudioSourceError(
            f"the installed proc-tap delivers {rate} Hz, {channels} channels, {sample or '?'} "
            f"samples; loopcap reads {PROC_TAP_RATE} Hz stereo float32 (proc-tap 0.4 or later): "
            "upgrade it with: pip install -U proc-tap"
        )


def check_process_specific(capture: Any, target: Process) -> None:
    """Refuse a capture that proc-tap opened on all sound instead of the process.

    proc-tap's ``ProcessAudioCapture`` keeps its native capture at ``_backend._native``, whose
    ``is_process_specific()`` says which it got (proc-tap 1.1 source); not public API, so
    when it is not there (another version) it cannot be checked, and that is logged.
    """
    native = getattr(getattr(capture, "_backend", None), "_native", None)
    specific = getattr(native, "is_process_specific", None)
    if not callable(specific):
        log.warning("cannot check that proc-tap records %s alone", target.image)
        return
    if not specific():
        why = getattr(native, "get_last_error", lambda: "")()
        raise AudioSourceError(
            f"Windows did not let loopcap record {target.image} (pid {target.pid}) alone"
            + (f" ({why})" if why else "")
            + "; record all sound instead"
        )


def float32_block_to_frames(data: bytes, channels: int, source_channels: int = 2) -> Frames:
    """proc-tap's interleaved float32 bytes → int16 (frames, ``channels``).

    A trailing partial sample or frame is dropped. Fewer channels: the average (mono) or the
    first ones; more: the last channel repeated into the rest (mono into stereo).
    """
    return pcm_to_frames(
        data, bits=32, is_float=True, source_channels=source_channels, channels=channels
    )


def windows_build() -> int:
    import platform

    # "10.0.19045" on Windows; anything else is build 0.
    parts = platform.version().split(".")
    return int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else 0


_MISSING = (
    "recording one application on Windows needs the Python package '{name}', which is not "
    "installed; install it with: pip install {name}"
)


def import_proc_tap() -> Any:
    try:
        import proctap  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise AudioSourceError(_MISSING.format(name="proc-tap")) from exc
    return proctap


def running_processes() -> list[Process]:
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise AudioSourceError(_MISSING.format(name="psutil")) from exc
    processes = []
    for proc in psutil.process_iter(["pid", "name", "ppid"]):
        info = proc.info
        processes.append(Process(int(info["pid"]), str(info["name"] or ""), int(info["ppid"] or 0)))
    return processes


def audio_sessions() -> list[AudioSession]:
    """The default speaker's audio sessions (pycaw: ``AudioUtilities.GetAllSessions()``, each
    with ``ProcessId``, ``Process`` (a psutil.Process or None) and ``State``)."""
    try:
        from pycaw.pycaw import AudioUtilities  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise AudioSourceError(_MISSING.format(name="pycaw")) from exc
    sessions = []
    for session in AudioUtilities.GetAllSessions():
        process = session.Process
        try:
            image = str(process.name()) if process is not None else ""
        except Exception:  # noqa: BLE001 - psutil: the process went away or is not ours to read
            image = ""
        sessions.append(
            AudioSession(
                pid=int(session.ProcessId),
                image=image,
                active=int(session.State) == SESSION_ACTIVE,
                display_name=str(session.DisplayName or ""),
            )
        )
    return sessions


class ProcTapTap:
    """One process tree's sound through proc-tap: what its thread queued, converted."""

    def __init__(self, capture: Any, target: Process, channels: int, samplerate: int) -> None:
        self._capture = capture
        self.target = target
        self._channels = channels
        self._resampler = (
            LinearResampler(PROC_TAP_RATE, samplerate) if samplerate != PROC_TAP_RATE else None
        )

    def take(self) -> list[Frames]:
        chunks: list[Frames] = []
        while len(chunks) < MAX_TAKE:
            try:
                data = self._capture.read(timeout=0)
            except RuntimeError as exc:  # its thread is gone: "Capture is not running"
                raise TapFailed(f"the capture of {self.target.image} stopped ({exc})") from exc
            if not data:
                return chunks
            chunks.append(
                pcm_to_frames(
                    data,
                    bits=32,
                    is_float=True,
                    source_channels=PROC_TAP_CHANNELS,
                    channels=self._channels,
                    resampler=self._resampler,
                )
            )
        return chunks

    def close(self) -> None:
        self._capture.close()


def open_proc_tap(proctap: Any, target: Process, channels: int, samplerate: int) -> ProcTapTap:
    """Start proc-tap on ``target``'s process tree, refusing anything but that tree's sound."""
    try:
        capture = proctap.ProcessAudioCapture(target.pid)
    except Exception as exc:  # the native extension raises what it likes
        raise AudioSourceError(
            f"could not record {target.image} (pid {target.pid}): {exc}"
        ) from exc
    try:
        check_proc_tap_format(capture.get_format())
        check_process_specific(capture, target)
        capture.start()
    except AudioSourceError:
        capture.close()
        raise
    except Exception as exc:
        capture.close()
        raise AudioSourceError(
            f"could not record {target.image} (pid {target.pid}): {exc}"
        ) from exc
    return ProcTapTap(capture, target, channels, samplerate)


class WasapiApps:
    name = "wasapi"

    def list_apps(self) -> list[AppInfo]:
        return apps_from_sessions(audio_sessions())

    def open_app(
        self, app: AppFilter, spec: str, samplerate: int, channels: int, block_frames: int
    ) -> TappedAppStream[int, Process]:
        from capture.audio._types import SourceInfo

        require_process_loopback(windows_build())
        refuse_exclude(app)
        proctap = import_proc_tap()
        what = app.describe()

        def find_targets() -> dict[int, Process]:
            return tap_targets(running_processes(), app)

        def open_tap(_pid: int, target: Process) -> ProcTapTap:
            return open_proc_tap(proctap, target, channels, samplerate)

        return TappedAppStream(
            app,
            SourceInfo(f"app:{what}", f"{what} (process loopback)"),
            samplerate,
            channels,
            block_frames,
            find_targets=find_targets,
            open_tap=open_tap,
        )
