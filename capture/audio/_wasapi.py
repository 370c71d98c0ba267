"""Windows: WASAPI loopback of each speaker, through soundcard's Media Foundation backend.

WASAPI delivers no data while nothing plays; LoopbackSource fills that time with silence from
the clock (see ``_clock.py``), so nothing here has to pretend otherwise.
"""

from __future__ import annotations

from typing import Any

from capture.audio._soundcard import SoundcardLoopback


class WasapiLoopback(SoundcardLoopback):
    name = "wasapi"

    def app_capture(self) -> Any:
        from capture.audio._wasapi_apps import WasapiApps

        return WasapiApps()
