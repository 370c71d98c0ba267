"""The tray icon: a thin client of :class:`capture.service.instance.LoopcapService`.

pystray's ``Icon.run()`` owns the main thread; the service's events arrive on the Recorder's
event thread and are turned into pystray calls (``icon.icon``, ``icon.title``, ``update_menu()``,
``notify()``), which every backend marshals to its own loop. What the icon shows (recording or
not, of which kind, the catch state) is read from the Recorder, never kept here. Menu actions
never block the tray's loop: anything that encodes or may fail runs on a worker and reports back
as a notification.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capture import desktop
from capture.desktop.notify import Notice, Notifier, where_label
from capture.errors import LoopcapError
from capture.events import (
    CatchState,
    Event,
    NoteArmed,
    NoteCatching,
    NoteFailed,
    NoteSaved,
    NoteTimedOut,
    RecordingFailed,
    RecordingKind,
    RecordingSaved,
    SourceProblem,
    State,
    StateChanged,
)
from capture.processes import STOP_SIGNALS
from tray.icons import load_images

if TYPE_CHECKING:
    from PIL.Image import Image

    from capture.service.instance import LoopcapService, SavedFile

log = logging.getLogger(__name__)

TICK_S = 1.0
# How often the "Listen to" menu asks which applications play (a worker process each time).
APPS_REFRESH_S = 20.0


def hotkey_label(binding: str) -> str:
    """pynput's ``<ctrl>+<alt>+n`` as people write it: ``Ctrl+Alt+N``."""
    parts = [part.strip("<>") for part in binding.split("+")]
    return "+".join(part.upper() if len(part) == 1 else part.capitalize() for part in parts)


def duration_label(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def recent_label(kind: str, saved_at: datetime, seconds: float) -> str:
    """A Recent menu entry as people scan it: ``note 14:02, 0:37``."""
    return f"{kind} {saved_at:%H:%M}, {duration_label(seconds)}"


def icon_class() -> type[Any]:
    """pystray's Icon for the backend it picked (PYSTRAY_BACKEND overrides), fixed where needed."""
    import pystray

    cls: type[Any] = pystray.Icon
    if cls.__module__ == "pystray._xorg":
        return _clickable_xorg_icon(cls)
    return cls


def backend_name(cls: type[Any]) -> str:
    """pystray's name of the backend an Icon class comes from (``appindicator``, ``xorg``...)."""
    for base in cls.__mro__:
        if base.__module__.startswith("pystray._") and base.__module__ != "pystray._base":
            return base.__module__.removeprefix("pystray._")
    return cls.__module__


def _clickable_xorg_icon(base: type[Any]) -> type[Any]:
    import Xlib.X

    class ClickableXorgIcon(base):  # type: ignore[misc]
        """pystray 0.19.5's xorg icon window never asks for ButtonPress events (pystray issue
        #151), so its left-click handler never runs; this asks for them, so that a click on the
        icon still does the main action (catch note) on the one backend that has no menu."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # pystray hands stop() to its main loop as a message on the icon's own X connection,
            # and waits on one reply queue shared by every cross-thread call. Under load, a stop
            # was seen returning while the loop never ran it: the window stayed and the tray never
            # quit. Destroying the window on a connection of our own needs no reply; the loop
            # sees its DestroyNotify and ends.
            window_id = self._window.id
            self._stop = lambda: _destroy_window(window_id)

        def _create_window(self) -> Any:
            window = super()._create_window()
            window.change_attributes(
                event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask
            )
            return window

        def _run(self) -> None:
            # pystray 0.19.5 starts the setup callback (which shows the icon) before it records
            # its main-loop thread; when setup wins that race, showing fails with
            # AttributeError: '_thread' and the icon never docks. Record the thread first.
            self._thread = threading.current_thread()
            threading.Thread(target=self._dock_until_embedded, daemon=True).start()
            super()._run()

        def _dock_until_embedded(self) -> None:
            # A dock request sent while the tray host is busy can also be dropped without a word
            # (seen with trayer: the icon stayed a 1x1 window on the root). Ask again, on a
            # connection of our own: pystray's cross-thread calls share one reply queue.
            for delay in (0.5, 1.0, 2.0, 4.0):
                time.sleep(delay)
                if not self._running or _request_dock(self._window.id):
                    return

    return ClickableXorgIcon


def _destroy_window(window_id: int) -> None:
    """Destroy a window (the xorg icon's) through a new X connection; gone already is fine."""
    import Xlib.display
    import Xlib.error

    display = Xlib.display.Display()
    gone = Xlib.error.CatchError(Xlib.error.BadWindow)
    try:
        display.create_resource_object("window", window_id).destroy(onerror=gone)
        display.sync()  # the error, if any, arrives by now
    finally:
        display.close()
    if gone.get_error() is not None:
        log.debug("the icon's window %#x was gone already", window_id)


def _request_dock(window_id: int) -> bool:
    """True if the window is embedded already; otherwise send the tray host a dock request."""
    import Xlib.display
    import Xlib.protocol.event
    import Xlib.X

    display = Xlib.display.Display()
    try:
        window = display.create_resource_object("window", window_id)
        tree = window.query_tree()
        if tree.parent.id != tree.root.id:
            return True
        screen = display.get_default_screen()
        manager = display.get_selection_owner(display.intern_atom(f"_NET_SYSTEM_TRAY_S{screen}"))
        if manager == Xlib.X.NONE:
            return False
        log.info("the tray host has not taken the icon yet; asking again")
        request_dock = 0  # SYSTEM_TRAY_REQUEST_DOCK in the system tray protocol
        message = Xlib.protocol.event.ClientMessage(
            window=manager,
            client_type=display.intern_atom("_NET_SYSTEM_TRAY_OPCODE"),
            data=(32, (Xlib.X.CurrentTime, request_dock, window_id, 0, 0)),
        )
        manager.send_event(message, event_mask=Xlib.X.NoEventMask)
        display.flush()
        return False
    finally:
        display.close()


class TrayApp:
    """The icon, its menu and notifications for one running service."""

    def __init__(
        self,
        service: LoopcapService,
        *,
        icon_cls: type[Any] | None = None,
        images: dict[str, Image] | None = None,
        on_saved: Callable[[Path], None] | None = None,
        opener: Callable[[Path], None] = desktop.open_path,
        revealer: Callable[[Path], None] = desktop.reveal_path,
        notifier: Notifier | None = None,
    ) -> None:
        import pystray

        self.service = service
        self._images = images or load_images()
        self._on_saved = on_saved
        self._open = opener
        self._reveal = revealer
        self._notifier = notifier or Notifier(
            opener=opener,
            revealer=revealer,
            on_action_error=lambda message: self._tell(message, "loopcap", urgent=True),
            on_unshown=self._say_on_stderr,
        )
        self._starts_at_login = self._read_autostart()
        self._stopping = threading.Event()
        self._image_key = "idle"
        self.apps_playing: list[str] = []  # for "Listen to", refreshed in the background
        self._apps_checked_at = float("-inf")
        self._apps_refreshing = threading.Lock()
        cls = icon_cls or icon_class()
        self.backend = backend_name(cls)
        self.icon: Any = cls(
            "loopcap",
            self._images["idle"],
            "loopcap",
            menu=pystray.Menu(*self._menu_items(pystray.MenuItem, pystray.Menu)),
        )
        self.has_menu = bool(getattr(cls, "HAS_MENU", False))

    # -- the menu ------------------------------------------------------------------------------

    def _menu_items(self, item: Any, menu: Any) -> Iterator[Any]:
        keys = self.service.settings.hotkeys
        catch = "Catch note"
        if keys.enabled:
            catch += f"  ({hotkey_label(keys.catch_note)})"
        # Catch note is the default: the gtk backend's left click and the xorg fallback run it.
        yield item(catch, self._action(self.service.catch_note, "catch note"), default=True)
        yield item("Save last 30 s", self._action(lambda: self._save_last(30), "save"))
        yield item("Save last 2 min", self._action(lambda: self._save_last(120), "save"))
        yield item("Listen to", menu(self._listen_to_items))
        yield menu.SEPARATOR
        yield item(
            lambda _: (
                "Stop audio recording" if self._recording_audio() else "Start audio recording"
            ),
            self._action(self._toggle_audio, "recording"),
            enabled=lambda _: not self._recording_screen(),
        )
        yield item(
            lambda _: (
                "Stop screen recording" if self._recording_screen() else "Start screen recording"
            ),
            self._action(self._toggle_screen, "screen recording"),
            enabled=lambda _: self._recording_screen() or not self.service.recording,
        )
        yield menu.SEPARATOR
        yield item("Recent recordings", menu(self._recent_items))
        yield item("Open recordings folder", self._action(self._open_folder, "open folder"))
        yield item("Settings", self._action(self._open_settings, "settings"))
        yield item(
            "Start at login",
            self._action(self._toggle_autostart, "start at login"),
            checked=lambda _: self._starts_at_login,
        )
        yield menu.SEPARATOR
        yield item("Quit", lambda icon, _item: self.quit())

    def _listen_to_items(self) -> Iterator[Any]:
        """ "All sound", then the apps playing now and the one in the settings; one is ticked."""
        import pystray

        def listen_to(name: str, *, exclude: bool = False) -> Callable[[Any, Any], None]:
            return self._action(
                functools.partial(self.service.listen_to, name, exclude=exclude), "listen to"
            )

        followed = self.service.recorder.app
        yield pystray.MenuItem(
            "All sound", listen_to("all"), checked=lambda _: self._follows(None), radio=True
        )
        if followed is not None and followed.exclude:
            yield pystray.MenuItem(
                f"All but {followed.name}",
                listen_to(followed.name, exclude=True),
                checked=lambda _: self._follows(followed),
                radio=True,
            )
        for name in self.listen_choices():
            yield pystray.MenuItem(
                name,
                listen_to(name),
                checked=functools.partial(lambda name, _item: self._follows(name), name),
                radio=True,
            )

    def listen_choices(self) -> list[str]:
        """The apps the menu offers: the one followed (even when silent), then those playing."""
        names = list(self.apps_playing)
        app = self.service.recorder.app
        if app is not None and not app.exclude:
            names = [app.name, *(n for n in names if n.casefold() != app.name.casefold())]
        return names

    def _follows(self, what: object) -> bool:
        app = self.service.recorder.app
        if what is None or app is None:
            return what is None and app is None
        if isinstance(what, str):
            return not app.exclude and app.name.casefold() == what.casefold()
        return app == what

    def refresh_apps(self) -> None:
        """Ask which applications play now (blocking; a worker process); update the menu."""
        from capture.audio import list_apps

        if not self._apps_refreshing.acquire(blocking=False):
            return
        try:
            self._apps_checked_at = time.monotonic()
            try:
                names = sorted({app.name for app in list_apps() if app.name}, key=str.casefold)
            except LoopcapError:
                names = []
            if names != self.apps_playing:
                self.apps_playing = names
                self._refresh(menu=True)
        finally:
            self._apps_refreshing.release()

    def _refresh_apps_now_and_then(self) -> None:
        if time.monotonic() - self._apps_checked_at >= APPS_REFRESH_S:
            self._apps_checked_at = time.monotonic()
            threading.Thread(target=self.refresh_apps, daemon=True, name="tray apps").start()

    def _recent_items(self) -> Iterator[Any]:
        import pystray

        recent = list(self.service.recent)
        if not recent:
            yield pystray.MenuItem("(nothing saved yet)", None, enabled=False)
        for saved in recent:
            yield pystray.MenuItem(
                recent_label(saved.kind, saved.saved_at, saved.seconds),
                pystray.Menu(*self._file_items(saved)),
            )

    def _file_items(self, saved: SavedFile) -> Iterator[Any]:
        import pystray

        path = saved.path
        yield pystray.MenuItem(path.name, None, enabled=False)
        yield pystray.MenuItem("Open", self._action(functools.partial(self._open, path), "open"))
        yield pystray.MenuItem(
            "Show in folder", self._action(functools.partial(self._reveal, path), "show in folder")
        )

    def _action(self, work: Callable[[], object], what: str) -> Callable[[Any, Any], None]:
        """A menu callback that runs ``work`` on a worker: the tray's loop never waits."""

        def run() -> None:
            try:
                work()
            except LoopcapError as exc:
                self._tell(f"{what.capitalize()}: {exc}", title="loopcap")
            self._refresh(menu=True)

        def callback(_icon: Any, _item: Any) -> None:
            threading.Thread(target=run, daemon=True, name=f"tray {what}").start()

        return callback

    def _save_last(self, seconds: float) -> None:
        self.service.save_last(seconds)  # the NoteSaved event announces the file

    def _recording_audio(self) -> bool:
        return self.service.recorder.recording_kind is RecordingKind.AUDIO

    def _recording_screen(self) -> bool:
        return self.service.recorder.recording_kind is RecordingKind.SCREEN

    def _toggle_audio(self) -> None:
        if self.service.recording:
            self.service.stop_recording()
        else:
            self.service.start_recording()
        self._refresh(menu=True)

    def _toggle_screen(self) -> None:
        if self._recording_screen():
            self.service.stop_recording()
        else:
            self.service.start_recording(screen=True)
        self._refresh(menu=True)

    def _open_folder(self) -> None:
        from capture.settings import output_folder

        folder = output_folder(self.service.settings)
        folder.mkdir(parents=True, exist_ok=True)
        self._open(folder)

    def _toggle_autostart(self) -> None:
        if self._read_autostart():
            desktop.disable_autostart()
        else:
            state = desktop.enable_autostart()
            if state.problem:
                self._tell(state.problem, "loopcap: start at login", urgent=True)
        self._starts_at_login = self._read_autostart()

    @staticmethod
    def _read_autostart() -> bool:
        try:
            state = desktop.autostart_state()
        except LoopcapError as exc:
            log.warning("%s", exc)
            return False
        return state.installed and state.enabled and not state.foreign

    def _open_settings(self) -> None:
        from capture.settings import write_default_settings

        self._open(write_default_settings())

    # -- state → icon, tooltip, menu -----------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        """On the Recorder's event thread."""
        if isinstance(event, NoteSaved | RecordingSaved):
            kind = "Note" if isinstance(event, NoteSaved) else "Recording"
            if isinstance(event, RecordingSaved) and event.replay:
                kind = f"The last {duration_label(event.seconds)}"
            path = event.path
            self._tell(
                f"{path.name} ({duration_label(event.seconds)})\nin {where_label(path.parent)}",
                f"{kind} saved",
                file=path,
            )
            if self._on_saved is not None:
                self._on_saved(event.path)
            self._refresh(menu=True)
        elif isinstance(event, NoteFailed | RecordingFailed):
            self._tell(event.message, "loopcap: saving failed", urgent=True)
            self._refresh(menu=True)
        elif isinstance(event, SourceProblem) and event.kind == "gave-up":
            self._tell(event.message, "loopcap: no sound to listen to", urgent=True)
            self._refresh(menu=True)
        elif isinstance(event, NoteTimedOut):
            self._tell(f"No note played within {event.timeout_s:.0f} s", "loopcap")
            self._refresh()
        elif isinstance(event, NoteArmed | NoteCatching | StateChanged):
            self._refresh(menu=isinstance(event, StateChanged))

    def _tell(
        self, message: str, title: str, *, file: Path | None = None, urgent: bool = False
    ) -> None:
        """A desktop notification (with Open / Show in folder for a file), else a stderr line."""
        self._notifier.send(Notice(title, message, file=file, urgent=urgent))

    @staticmethod
    def _say_on_stderr(notice: Notice) -> None:
        line = notice.message.replace("\n", " ")
        print(f"loopcap: {notice.title}: {line}", file=sys.stderr, flush=True)

    def _current(self) -> tuple[str, str]:
        """The image key and the tooltip for the service's state now."""
        service, recorder = self.service, self.service.recorder
        kind = recorder.recording_kind
        if kind is not None:
            what = "screen and audio" if kind is RecordingKind.SCREEN else "audio"
            elapsed = duration_label(recorder.recording_elapsed)
            return "recording", f"loopcap: recording {what} {elapsed}"
        catch = recorder.catch_state
        waited = duration_label(recorder.seconds_in_catch_state)
        if catch is CatchState.ARMED:
            return "listening", f"loopcap: waiting for a note ({waited})"
        if catch is CatchState.CATCHING:
            return "listening", f"loopcap: catching a note ({waited})"
        if recorder.state is State.IDLE:
            return "idle", "loopcap: not listening (no audio source)"
        ring = duration_label(service.settings.replay.seconds)
        following = service.following
        if following != "all sound":
            return "idle", f"loopcap: listening to {following}, keeping the last {ring}"
        return "idle", f"loopcap: listening, keeping the last {ring}"

    def _refresh(self, *, menu: bool = False) -> None:
        key, title = self._current()
        if key != self._image_key:
            self._image_key = key
            self.icon.icon = self._images[key]
        if title != self.icon.title:
            self.icon.title = title
        if menu and self.has_menu:
            self.icon.update_menu()

    # -- running -------------------------------------------------------------------------------

    def run(self, on_ready: Callable[[TrayApp], None] | None = None) -> None:
        """Show the icon and handle it until Quit or a stop signal; owns the calling thread."""
        unsubscribe = self.service.subscribe(self._on_event)

        def on_signal(_signum: int, _frame: object) -> None:
            # Not from the handler itself: it interrupts the main thread, which may be the very
            # loop that icon.stop() waits on (the xorg backend).
            threading.Thread(target=self.quit, daemon=True, name="quit").start()

        previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}

        def setup(icon: Any) -> None:
            self._catch_signals_in_glib()
            icon.visible = True
            self._refresh()
            if on_ready is not None:
                on_ready(self)
            while not self._stopping.wait(TICK_S):
                # The tooltip's elapsed time; start at login may be changed from outside.
                autostart = self._read_autostart()
                changed = autostart != self._starts_at_login
                self._starts_at_login = autostart
                self._refresh(menu=changed)
                self._refresh_apps_now_and_then()

        try:
            self.icon.run(setup=setup)
        finally:
            self._stopping.set()
            unsubscribe()
            self._notifier.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _catch_signals_in_glib(self) -> None:
        """The GTK backends reset SIGINT to the default (kill) and run a C loop: let GLib catch
        the stop signals, so that the service stops cleanly and a recording is finalized."""
        if self.backend not in ("appindicator", "gtk"):
            return
        from gi.repository import GLib

        def quit_from_signal() -> bool:
            self.quit()
            return False

        for sig in STOP_SIGNALS:
            GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, quit_from_signal)

    def quit(self) -> None:
        self._stopping.set()
        with contextlib.suppress(Exception):  # stopping twice, or before the loop runs
            self.icon.stop()
