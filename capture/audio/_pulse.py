"""Linux: PulseAudio, or PipeWire through pipewire-pulse.

Every sink's ``.monitor`` source is a loopback of what that sink plays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from capture.audio._soundcard import SoundcardLoopback

if TYPE_CHECKING:
    from capture.audio._pulse_apps import PulseApps


class PulseLoopback(SoundcardLoopback):
    name = "pulseaudio"

    def app_capture(self) -> PulseApps:
        from capture.audio._pulse_apps import PulseApps

        return PulseApps()
