"""Is there somewhere to show a tray icon? Asked before loading pystray, which cannot tell.

pystray shows nothing, and says nothing, when no tray host runs. On X11 a host owns the
``_NET_SYSTEM_TRAY_S<screen>`` selection (XEmbed: trayer, stalonetray, most panels); desktops that
only speak StatusNotifierItem run ``org.kde.StatusNotifierWatcher`` on the session bus, which
pystray's appindicator backend uses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

SNI_WATCHER = "org.kde.StatusNotifierWatcher"


def why_no_tray(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> str:
    """Empty if an icon can be shown here, else what is missing, for the user."""
    from capture.desktop import display_server

    server = display_server(environ, platform)
    if server == "native":
        return ""
    if server == "none":
        return "no display (DISPLAY is not set), so no tray icon"
    if environ.get("DISPLAY") and xembed_host(environ["DISPLAY"]):
        return ""
    if environ.get("DBUS_SESSION_BUS_ADDRESS") and _sni_watcher():
        return ""
    return (
        "no system tray host is running (no XEmbed tray and no StatusNotifier watcher), "
        "so no tray icon"
    )


def xembed_host(display: str) -> bool:
    try:
        from Xlib import X
        from Xlib import display as xdisplay
        from Xlib.error import DisplayError
    except ImportError:
        return True  # cannot ask: let pystray try
    try:
        conn = xdisplay.Display(display)
    except DisplayError:
        return False
    try:
        atom = conn.intern_atom(f"_NET_SYSTEM_TRAY_S{conn.get_default_screen()}")
        owner = conn.get_selection_owner(atom)
        return bool(getattr(owner, "id", owner) != X.NONE)
    finally:
        conn.close()


def _sni_watcher() -> bool:
    try:
        from gi.repository import Gio, GLib
    except ImportError:
        return False
    try:
        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        reply = bus.call_sync(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
            GLib.Variant("(s)", (SNI_WATCHER,)),
            GLib.VariantType("(b)"),
            Gio.DBusCallFlags.NONE,
            1000,
            None,
        )
    except GLib.Error:
        return False
    return bool(reply.unpack()[0])
