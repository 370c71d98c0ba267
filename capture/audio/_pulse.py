"""Linux: PulseAudio, or PipeWire through pipewire-pulse.

Every sink's ``.monitor`` source is a loopback of what that sink plays.
"""

from __future__ import annotations

from capture.audio._soundcard import SoundcardLoopback


class PulseLoopback(SoundcardLoopback):
    name = "pulseaudio"
