"""Windows per-application capture: WASAPI process loopback (Windows 10 2004, build 19041+).

``ActivateAudioInterfaceAsync`` with ``AUDIOCLIENT_ACTIVATION_TYPE_PROCESS_LOOPBACK`` records one
process *and its children* (a browser's audio runs in a child process), or all but that tree.
The COM side comes from the maintained ``proc-tap`` package (import name ``proctap``): its
``ProcessAudioCapture(pid)`` hands out interleaved float32 PCM, 48 kHz stereo, as bytes. Here:
the version gate, which process a name means (by image name, from a process list given as data),
the conversion of proc-tap's blocks to the int16 frames the rest of loopcap reads, and a thin
``Stream`` over it. The process sends nothing while it is silent; ``LoopbackSource`` pads that
time with silence from the clock, as it does for endpoint loopback.

proc-tap offers the include mode only, so "all sound but this app" is refused with a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from capture.errors import AudioSourceError

if TYPE_CHECKING:
    from capture.audio._apps import AppFilter, AppInfo
    from capture.audio._types import Frames

#: Process loopback exists from Windows 10 version 2004 (build 19041).
FIRST_BUILD = 19041

#: What proc-tap delivers, whatever the device runs at: float32, 48 kHz, two channels.
PROC_TAP_RATE = 48000
PROC_TAP_CHANNELS = 2

#: How long one read waits for the process's next block before telling the reader "nothing".
READ_TIMEOUT_S = 0.2


@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    image: str  # the executable's file name, e.g. "WhatsApp.exe"
    parent: int = 0


def process_loopback_supported(build: int) -> bool:
    return build >= FIRST_BUILD


def require_process_loopback(build: int) -> None:
    if not process_loopback_supported(build):
        raise AudioSourceError(
            f"recording one application needs Windows 10 version 2004 (build {FIRST_BUILD}) "
            f"or later; this is build {build}. Without an app, loopcap records all sound"
        )


def image_stem(image: str) -> str:
    """``WhatsApp.exe`` → ``WhatsApp``: users name apps without the extension."""
    return image[:-4] if image.casefold().endswith(".exe") else image


def capture_roots(processes: list[Process], app: AppFilter) -> list[Process]:
    """The processes to hand to process loopback for ``app``: each matching process whose
    parent does not match too (the loopback includes a process's children already)."""
    matching = {p.pid for p in processes if app.names_app(p.image, image_stem(p.image))}
    return [p for p in processes if p.pid in matching and p.parent not in matching]


def capture_target(processes: list[Process], app: AppFilter) -> Process:
    """The one process tree proc-tap records for ``app`` (include mode, the tree of its root).

    Exclude mode needs ``PROCESS_LOOPBACK_MODE_EXCLUDE_TARGET_PROCESS_TREE``, which proc-tap
    does not offer. Several unrelated trees of one app (two copies started apart) would need one
    capture each, mixed; the first one listed is recorded.
    """
    if app.exclude:
        raise AudioSourceError(
            f"recording all sound but {app.name} is not available on Windows in this version "
            f"of loopcap; record {app.name} alone, or all sound"
        )
    roots = capture_roots(processes, app)
    if not roots:
        raise AudioSourceError(
            f"no running program matches '{app.name}'; start it first, and name it as its "
            "executable is called (e.g. WhatsApp for WhatsApp.exe)"
        )
    return roots[0]


def require_proc_tap_format(samplerate: int) -> None:
    if samplerate != PROC_TAP_RATE:
        raise AudioSourceError(
            f"recording one application on Windows runs at {PROC_TAP_RATE} Hz; "
            f"this recording asks for {samplerate} Hz"
        )


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


def float32_block_to_frames(data: bytes, channels: int, source_channels: int = 2) -> Frames:
    """proc-tap's interleaved float32 bytes → int16 (frames, ``channels``).

    A trailing partial sample or frame is dropped. Fewer channels: the average (mono) or the
    first ones; more: the first channel repeated into the rest (mono into stereo).
    """
    import numpy as np

    samples = np.frombuffer(data[: len(data) - len(data) % 4], dtype="<f4")
    frames = samples[: len(samples) - len(samples) % source_channels].reshape(-1, source_channels)
    if channels == 1 and source_channels > 1:
        shaped = frames.mean(axis=1, keepdims=True)
    elif channels <= source_channels:
        shaped = frames[:, :channels]
    else:
        extra = np.repeat(frames[:, -1:], channels - source_channels, axis=1)
        shaped = np.concatenate([frames, extra], axis=1)
    scaled = np.clip(np.nan_to_num(shaped) * 32767.0, -32768, 32767)
    result: Frames = np.rint(scaled).astype(np.int16)
    return result


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


class ProcTapStream:
    """The Stream the worker reads: one process tree's sound through proc-tap, no padding here
    (the reader fills a silent process's time from the clock)."""

    def __init__(self, capture: Any, target: Process, app: AppFilter, channels: int) -> None:
        from capture.audio._types import SourceInfo

        self._capture = capture
        self._channels = channels
        what = app.describe()
        self.source = SourceInfo(f"app:{what}", f"{what} ({target.image}, pid {target.pid})")
        #: proc-tap attaches to a process, not to its streams: 1 if it runs.
        self.matching_now = 1

    def read(self) -> Frames | None:
        try:
            data = self._capture.read(timeout=READ_TIMEOUT_S)
        except RuntimeError as exc:  # the capture stopped underneath us
            from capture.audio._types import StreamLost

            raise StreamLost(f"the application's capture stopped ({exc})") from exc
        if not data:
            return None
        return float32_block_to_frames(data, self._channels, PROC_TAP_CHANNELS)

    def close(self) -> None:
        self._capture.close()


class WasapiApps:
    name = "wasapi"

    def list_apps(self) -> list[AppInfo]:
        require_process_loopback(windows_build())
        raise AudioSourceError(
            "listing the applications playing sound is not available on Windows in this "
            "version of loopcap; name the program as its executable is called"
        )

    def open_app(
        self, app: AppFilter, spec: str, samplerate: int, channels: int, block_frames: int
    ) -> ProcTapStream:
        require_process_loopback(windows_build())
        require_proc_tap_format(samplerate)
        target = capture_target(running_processes(), app)
        proctap = import_proc_tap()
        capture = proctap.ProcessAudioCapture(target.pid)
        try:
            check_proc_tap_format(capture.get_format())
            capture.start()
        except AudioSourceError:
            capture.close()
            raise
        except Exception as exc:
            capture.close()
            raise AudioSourceError(
                f"could not record {target.image} (pid {target.pid}): {exc}"
            ) from exc
        return ProcTapStream(capture, target, app, channels)
