"""Linux: PulseAudio, or PipeWire through pipewire-pulse. Every sink's ``.monitor`` is a loopback."""

from __future__ import annotations

from capture.audio._soundcard import SoundcardLoopback


class PulseLoopback(SoundcardLoopback):
    name = "pulseaudio"
