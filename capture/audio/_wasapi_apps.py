"""Windows per-application capture: WASAPI process loopback (Windows 10 2004, build 19041+).

``ActivateAudioInterfaceAsync`` with ``AUDIOCLIENT_ACTIVATION_TYPE_PROCESS_LOOPBACK`` records one
process *and its children* (a browser's audio runs in a child process), or all but that tree.
Here: the version gate and which processes a name means, pure logic and unit-tested. The
capture itself (through a maintained wrapper such as ``proc-tap``) is not wired yet: ``--app``
on Windows stops with a message that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from capture.errors import AudioSourceError

if TYPE_CHECKING:
    from capture.audio._apps import AppFilter, AppInfo
    from capture.audio._types import Stream

#: Process loopback exists from Windows 10 version 2004 (build 19041).
FIRST_BUILD = 19041


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


def windows_build() -> int:
    import platform

    # "10.0.19045" on Windows; anything else is build 0.
    parts = platform.version().split(".")
    return int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else 0


class WasapiApps:
    name = "wasapi"

    def list_apps(self) -> list[AppInfo]:
        require_process_loopback(windows_build())
        raise AudioSourceError(_NOT_YET)

    def open_app(
        self, app: AppFilter, spec: str, samplerate: int, channels: int, block_frames: int
    ) -> Stream:
        require_process_loopback(windows_build())
        raise AudioSourceError(_NOT_YET)


_NOT_YET = (
    "recording one application is not available on Windows in this version of loopcap; "
    "record all sound (without an app) meanwhile"
)
