"""``loopcap doctor``: what loopcap needs on this system, each check with the fix for a failure."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from capture.errors import LoopcapError


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True  # False: loopcap works without it, with less


def check_ffmpeg() -> list[Check]:
    from capture.ffmpeg import ENCODERS_OF_INTEREST, locate_ffmpeg, version_line

    try:
        info = locate_ffmpeg()
    except LoopcapError as exc:
        return [
            Check("ffmpeg", False, str(exc), "apt install ffmpeg, or pip install imageio-ffmpeg")
        ]
    checks = [Check("ffmpeg", True, version_line(info))]
    for encoder, purpose in ENCODERS_OF_INTEREST.items():
        checks.append(
            Check(
                f"encoder {encoder}",
                info.has_encoder(encoder),
                purpose,
                "install a full ffmpeg build, or set LOOPCAP_FFMPEG to one",
                required=encoder == "libmp3lame",
            )
        )
    return checks


def check_audio() -> list[Check]:
    from capture.audio import default_backend
    from capture.audio._isolated import IsolatedBackend
    from capture.audio._types import StreamLost

    backend = default_backend()
    try:
        sources = backend.list_sources()
    except StreamLost as exc:
        return [Check("audio server", False, str(exc), _audio_server_fix())]
    except LoopcapError as exc:
        return [Check("loopback sources", False, str(exc), _audio_server_fix())]
    name = backend.native_name if isinstance(backend, IsolatedBackend) else backend.name
    checks = [Check("audio server", True, f"{name or 'reachable'}")]
    if not sources:
        checks.append(Check("loopback sources", False, "none found", _audio_server_fix()))
        return checks
    default = next((s for s in sources if s.is_default), None)
    listing = ", ".join(s.id for s in sources)
    checks.append(Check("loopback sources", True, f"{len(sources)}: {listing}"))
    checks.append(
        Check(
            "default loopback",
            default is not None,
            default.name if default else "the default speaker has no loopback",
            "pick one as [audio] source in the settings ('loopcap devices' lists them)",
            required=False,
        )
    )
    return [*checks, check_app_capture(backend)]


def check_app_capture(backend: object) -> Check:
    """Whether one application's sound can be recorded here (--app, [audio] app)."""
    from capture.audio import list_apps

    try:
        if sys.platform.startswith("win"):
            # Listing works on any Windows; recording one program needs proc-tap's build.
            from capture.audio._wasapi_apps import require_process_loopback, windows_build

            require_process_loopback(windows_build())
        apps = list_apps(backend)  # type: ignore[arg-type]
    except LoopcapError as exc:
        return Check("per-app capture", False, str(exc), _app_capture_fix(), required=False)
    playing = ", ".join(app.name for app in apps) or "none playing now"
    return Check("per-app capture", True, f"works; applications: {playing}", required=False)


def _app_capture_fix() -> str:
    if sys.platform == "darwin":
        return (
            "without it loopcap records all sound; macOS 14.2+ with catap installed "
            "(pip install loopcap[apps]) records one application"
        )
    if sys.platform.startswith("win"):
        return (
            "without it loopcap records all sound; Windows 11 with proc-tap, psutil and pycaw "
            "installed (pip install loopcap[apps]) records one application"
        )
    return (
        "without it loopcap records all sound; PulseAudio or PipeWire (pipewire-pulse) "
        "with pulsectl installed records one application"
    )


def _audio_server_fix() -> str:
    if sys.platform == "darwin":
        from capture.audio._coreaudio import INSTALL_HINT

        return INSTALL_HINT
    if sys.platform.startswith("win"):
        return "check that a playback device is enabled in Sound settings"
    return (
        "start PulseAudio or PipeWire (pipewire-pulse), "
        "e.g. 'systemctl --user start pipewire-pulse'"
    )


def check_display() -> list[Check]:
    from capture.desktop import display_server, x11_extensions

    server = display_server()
    if server == "native":
        return [Check("display", True, "native desktop", required=False)]
    x11 = os.environ.get("DISPLAY", "")
    if server == "wayland":
        detail = "Wayland: screen capture and global hotkeys of X11 programs are blocked"
        if x11:
            detail += f" (XWayland on {x11} shows only X11 windows)"
        return [
            Check(
                "display server",
                False,
                detail,
                "log in to an X11 session for screen capture; bind 'loopcap ctl catch-note' "
                "to a shortcut in your desktop's keyboard settings instead of hotkeys",
                required=False,
            )
        ]
    if server == "none":
        return [
            Check(
                "display server",
                False,
                "no DISPLAY: audio works, screen capture, tray and hotkeys do not",
                "run loopcap inside your desktop session",
                required=False,
            )
        ]
    try:
        extensions = x11_extensions(x11)
    except ConnectionError as exc:
        return [
            Check("display server", False, f"X11 {x11}: {exc}", "check DISPLAY", required=False)
        ]
    if extensions is None:
        return [Check("display server", True, f"X11 on {x11}", required=False)]
    checks = [Check("display server", True, f"X11 on {x11}", required=False)]
    checks.append(
        Check(
            "X11 RECORD extension",
            "RECORD" in extensions,
            "global hotkeys",
            "enable the RECORD extension in the X server; use 'loopcap ctl' meanwhile",
            required=False,
        )
    )
    return checks


def check_tray_menu() -> list[Check]:
    """Without PyGObject pystray falls back to its xorg backend: an icon without a menu."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        import gi

        gi.require_version("Gtk", "3.0")  # checks the typelib is there, without loading GTK
    except (ImportError, ValueError) as exc:
        problem = str(exc)
    else:
        return [Check("tray menu", True, "PyGObject and GTK 3: the tray menu", required=False)]
    return [
        Check(
            "tray menu",
            False,
            f"{problem}: the tray icon has no menu (a click catches a note)",
            "apt install libgirepository1.0-dev libcairo2-dev pkg-config gcc python3-dev "
            "gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1, then pip install 'PyGObject<3.51'",
            required=False,
        )
    ]


def check_desktop() -> list[Check]:
    """Start at login and the application menu entry: installed, and still pointing at a
    loopcap that exists."""
    from capture import desktop

    checks = []
    entries = [("start at login", desktop.autostart_state, "loopcap autostart on")]
    if sys.platform.startswith("linux"):
        entries.append(("menu entry", desktop.menu_entry_state, "loopcap desktop install"))
    for name, read_state, turn_on in entries:
        try:
            state = read_state()
        except LoopcapError as exc:
            checks.append(Check(name, False, str(exc), required=False))
            continue
        if state.foreign:
            detail, ok, fix = f"{state.location} (not written by loopcap)", True, ""
        elif not state.installed:
            detail, ok, fix = "not installed", False, turn_on
        elif not state.enabled:
            detail, ok, fix = (
                f"switched off in the desktop's settings ({state.location})",
                False,
                (turn_on),
            )
        elif state.problem:
            detail, ok, fix = f"{state.location}: {state.problem}", False, turn_on
        else:
            detail, ok, fix = state.location, True, ""
        checks.append(Check(name, ok, detail, fix, required=False))
    return checks


def run_checks() -> list[Check]:
    return [
        *check_ffmpeg(),
        *check_audio(),
        *check_display(),
        *check_tray_menu(),
        *check_desktop(),
    ]
