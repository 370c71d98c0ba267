"""Windows on X11, through python-xlib.

Positions come from ``translate_coords`` to the root window: under a reparenting window manager
a client window's own geometry is relative to the manager's frame (``xdotool getwindowgeometry``
is off by the title bar there).
"""

from __future__ import annotations

import os
from typing import Any

from capture.desktop import display_server
from capture.errors import ScreenSourceError
from capture.screen._types import Region, Window


def _open_display() -> Any:
    from Xlib import display as xdisplay
    from Xlib import error as xerror

    name = os.environ.get("DISPLAY", "")
    if not name:
        hint = (
            " (this is a Wayland session: X11 capture is blocked there)"
            if display_server() == "wayland"
            else ""
        )
        raise ScreenSourceError(
            f"no X display: DISPLAY is not set{hint}; run loopcap inside a desktop session "
            "or record the sound only",
            option="audio_only",
        )
    try:
        return xdisplay.Display(name)
    except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
        raise ScreenSourceError(
            f"cannot open the X display {name!r} ({exc}); is the desktop running and "
            "DISPLAY right? Record the sound only otherwise",
            option="audio_only",
        ) from exc


class X11Windows:
    def __init__(self) -> None:
        self._display = _open_display()
        self._root = self._display.screen().root
        self._client_list = self._display.intern_atom("_NET_CLIENT_LIST")
        self._net_wm_name = self._display.intern_atom("_NET_WM_NAME")
        self._utf8 = self._display.intern_atom("UTF8_STRING")
        self._wm_state = self._display.intern_atom("_NET_WM_STATE")
        self._hidden = self._display.intern_atom("_NET_WM_STATE_HIDDEN")

    def _clients(self) -> list[Any]:
        from Xlib import X

        prop = self._root.get_full_property(self._client_list, X.AnyPropertyType)
        if prop is not None and len(prop.value):
            return [self._display.create_resource_object("window", int(i)) for i in prop.value]
        # No EWMH window manager: the root's children are the top-level windows.
        return list(self._root.query_tree().children)

    def _title(self, window: Any) -> str:
        prop = window.get_full_property(self._net_wm_name, self._utf8)
        if prop is not None and prop.value:
            value = prop.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        name = window.get_wm_name()
        if isinstance(name, bytes):
            return name.decode("latin-1")
        return str(name or "")

    def _region(self, window: Any) -> Region | None:
        from Xlib import X

        if window.get_attributes().map_state != X.IsViewable:
            return None
        state = window.get_full_property(self._wm_state, X.AnyPropertyType)
        if state is not None and self._hidden in state.value:
            return None
        geometry = window.get_geometry()
        origin = self._root.translate_coords(window, 0, 0)
        return Region(int(origin.x), int(origin.y), int(geometry.width), int(geometry.height))

    def list_windows(self) -> list[Window]:
        from Xlib import error as xerror

        try:
            return self._list_windows()
        except xerror.ConnectionClosedError as exc:  # the X server went away while we asked
            raise ScreenSourceError(
                f"the X display closed the connection ({exc}); is the desktop still running?",
                option="audio_only",
            ) from None

    def _list_windows(self) -> list[Window]:
        from Xlib import error as xerror

        found = []
        for window in self._clients():
            try:
                title = self._title(window)
                if not title:
                    continue
                region = self._region(window)
            except xerror.XError:  # closed while we looked
                continue
            if region is not None and region.width > 1 and region.height > 1:
                found.append(Window(int(window.id), title, region))
        return found

    def locate(self, window_id: int) -> Region | None:
        from Xlib import error as xerror

        window = self._display.create_resource_object("window", window_id)
        try:
            return self._region(window)
        except xerror.XError:
            return None

    def close(self) -> None:
        if self._display is not None:
            self._display.close()
            self._display = None


def open_backend() -> X11Windows:
    return X11Windows()
