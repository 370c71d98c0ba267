"""macOS: CoreAudio has no loopback; record a loopback device the user installed."""

from __future__ import annotations

from typing import Any

from capture.audio._soundcard import SoundcardLoopback
from capture.errors import AudioSourceError

#: Name fragments of virtual devices that route the system's output back in.
KNOWN_LOOPBACK_DEVICES = ("BlackHole", "Loopback Audio", "Soundflower")

INSTALL_HINT = (
    "macOS has no built-in loopback: install BlackHole ('brew install blackhole-2ch'), then in "
    "Audio MIDI Setup create a Multi-Output Device with your speakers and BlackHole and make it "
    "the output"
)


def is_loopback_device(name: str) -> bool:
    return any(known.casefold() in name.casefold() for known in KNOWN_LOOPBACK_DEVICES)


class CoreAudioLoopback(SoundcardLoopback):
    name = "coreaudio"

    def app_capture(self) -> Any:
        from capture.audio._coreaudio_apps import CoreAudioApps

        return CoreAudioApps()

    def loopback_microphones(self, sc: Any) -> list[Any]:
        found = [m for m in sc.all_microphones() if is_loopback_device(str(m.name))]
        if not found:
            raise AudioSourceError(INSTALL_HINT)
        return found

    def default_source_id(self, sc: Any, microphones: list[Any]) -> str | None:
        return str(microphones[0].id) if microphones else None
