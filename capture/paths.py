"""Where loopcap keeps things: each folder once, with the environment variable that moves it.

``LOOPCAP_CONFIG_DIR``, ``LOOPCAP_STATE_DIR`` and ``LOOPCAP_RUNTIME_DIR`` override the platform's
folders (the tests use them); recordings go to the user's music folder unless the settings say
otherwise (:func:`capture.settings.output_folder`).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "loopcap"


def _folder(variable: str, kind: str) -> Path:
    """``$variable`` if set, else platformdirs' ``user_<kind>_dir`` for loopcap."""
    override = os.environ.get(variable)
    if override:
        return Path(override)
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False))


def config_dir() -> Path:
    return _folder("LOOPCAP_CONFIG_DIR", "config")


def settings_path() -> Path:
    return config_dir() / "settings.toml"


def state_dir() -> Path:
    """Where recording sessions and caches live while loopcap works."""
    return _folder("LOOPCAP_STATE_DIR", "state")


def sessions_dir() -> Path:
    return state_dir() / "sessions"


def runtime_dir() -> Path:
    """The running instance's lock, control socket and key."""
    return _folder("LOOPCAP_RUNTIME_DIR", "runtime")


def music_dir() -> Path:
    """The default place for recordings and notes: the user's music folder, under loopcap/."""
    import platformdirs

    return Path(platformdirs.user_music_dir()) / APP_NAME
