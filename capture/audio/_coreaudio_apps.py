"""macOS per-application capture: Core Audio process taps (macOS 14.2+).

``AudioHardwareCreateProcessTap`` taps one process's output (or all but some), read through a
private aggregate device; the app needs ``NSAudioCaptureUsageDescription``, and without the
user's permission the tap delivers silence. Here: the version gate and which running app a name
means (its name or bundle id), pure logic and unit-tested. The capture itself (through a
maintained wrapper such as ``catap``) is not wired yet: ``--app`` on macOS stops with a message
that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from capture.errors import AudioSourceError

if TYPE_CHECKING:
    from capture.audio._apps import AppFilter, AppInfo
    from capture.audio._types import Stream

FIRST_VERSION = (14, 2)


@dataclass(frozen=True, slots=True)
class RunningApp:
    pid: int
    name: str  # "WhatsApp"
    bundle_id: str = ""  # "net.whatsapp.WhatsApp"


def parse_version(text: str) -> tuple[int, ...]:
    """``"14.2.1"`` → ``(14, 2, 1)``; anything unreadable is version 0."""
    parts = []
    for piece in text.strip().split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts) or (0,)


def process_taps_supported(version: tuple[int, ...]) -> bool:
    return version >= FIRST_VERSION


def require_process_taps(version: tuple[int, ...]) -> None:
    if not process_taps_supported(version):
        shown = ".".join(str(v) for v in version)
        raise AudioSourceError(
            f"recording one application needs macOS 14.2 or later; this is macOS {shown}. "
            "Without an app, loopcap records all sound through a loopback device"
        )


def matching_apps(apps: list[RunningApp], app: AppFilter) -> list[RunningApp]:
    """The running apps ``app`` follows: matched by name or bundle id, any case."""
    return [a for a in apps if app.follows(a.name, a.bundle_id)]


def macos_version() -> tuple[int, ...]:
    import platform

    return parse_version(platform.mac_ver()[0])


class CoreAudioApps:
    name = "coreaudio"

    def list_apps(self) -> list[AppInfo]:
        require_process_taps(macos_version())
        raise AudioSourceError(_NOT_YET)

    def open_app(
        self, app: AppFilter, spec: str, samplerate: int, channels: int, block_frames: int
    ) -> Stream:
        require_process_taps(macos_version())
        raise AudioSourceError(_NOT_YET)


_NOT_YET = (
    "recording one application is not available on macOS in this version of loopcap; "
    "record all sound (without an app) meanwhile"
)
