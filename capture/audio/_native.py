"""The one place that picks the audio backend for this platform."""

from __future__ import annotations

import sys

from capture.audio._soundcard import SoundcardLoopback


def native_backend(platform: str = sys.platform) -> SoundcardLoopback:
    if platform.startswith("win"):
        from capture.audio._wasapi import WasapiLoopback

        return WasapiLoopback()
    if platform == "darwin":
        from capture.audio._coreaudio import CoreAudioLoopback

        return CoreAudioLoopback()
    from capture.audio._pulse import PulseLoopback

    return PulseLoopback()
