"""Windows: WASAPI loopback of each speaker, through soundcard's Media Foundation backend.

WASAPI delivers no data while nothing plays; LoopbackSource fills that time with silence from
the clock (see ``_clock.py``), so nothing here has to pretend otherwise.
"""

from __future__ import annotations

from capture.audio._soundcard import SoundcardLoopback


class WasapiLoopback(SoundcardLoopback):
    name = "wasapi"
