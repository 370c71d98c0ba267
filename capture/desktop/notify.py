"""Desktop notifications that lead to the file: "Open" and "Show in folder" buttons.

Built on desktop-notifier (maintained, pure Python; D-Bus on Linux through dbus-fast, without
PyGObject; native centres on macOS and Windows), because pystray's ``notify()`` has no actions
and exists only on its GTK backends.

Threads: one daemon thread ("notifications") runs an asyncio loop that owns the D-Bus connection
and receives the server's action signals. :meth:`Notifier.send` may be called from any thread
and returns at once (the Recorder's event thread must not wait on a notification server); a
notice the server did not take within ``SEND_TIMEOUT_S`` goes to ``on_unshown``, on the loop
thread. A button's action runs on a short-lived thread of its own, so a slow file manager never
holds up the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from capture.desktop import open_path, reveal_path
from capture.errors import LoopcapError

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 5.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Notice:
    title: str
    message: str
    #: A file the notice is about: offered with "Open" and "Show in folder" where the
    #: notification server supports actions.
    file: Path | None = None
    #: Needs the user (a failure): stays until dismissed where the server allows.
    urgent: bool = False


class Notifier:
    """Sends :class:`Notice` values to the desktop's notification server."""

    def __init__(
        self,
        app_name: str = "loopcap",
        *,
        opener: Callable[[Path], None] = open_path,
        revealer: Callable[[Path], None] = reveal_path,
        on_action_error: Callable[[str], None] | None = None,
        on_unshown: Callable[[Notice], None] | None = None,
    ) -> None:
        self._app_name = app_name
        self._opener = opener
        self._revealer = revealer
        self._on_action_error = on_action_error
        self._on_unshown = on_unshown
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._notifier: Any = None
        self._actions: bool | None = None
        self._lock = threading.Lock()

    # -- the loop thread -----------------------------------------------------------------------

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, daemon=True, name="notifications"
                )
                self._thread.start()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(asyncio.wait_for(coroutine, SEND_TIMEOUT_S), loop)

    async def _backend(self) -> Any:
        if self._notifier is None:
            from desktop_notifier import DesktopNotifier, Icon

            icon = resources.files("capture.desktop") / "icons" / "loopcap-64.png"
            self._notifier = DesktopNotifier(
                app_name=self._app_name, app_icon=Icon(path=Path(str(icon)))
            )
        return self._notifier

    async def _supports_actions(self) -> bool:
        if self._actions is None:
            from desktop_notifier import Capability

            notifier = await self._backend()
            self._actions = Capability.BUTTONS in await notifier.get_capabilities()
        return self._actions

    async def _send(self, notice: Notice) -> None:
        from desktop_notifier import Button, Urgency

        notifier = await self._backend()
        buttons: list[Button] = []
        if notice.file is not None and await self._supports_actions():
            file = notice.file
            buttons = [
                Button("Open", on_pressed=lambda: self._act(self._opener, file)),
                Button("Show in folder", on_pressed=lambda: self._act(self._revealer, file)),
            ]
        await notifier.send(
            title=notice.title,
            message=notice.message,
            buttons=buttons,
            urgency=Urgency.Critical if notice.urgent else Urgency.Normal,
        )

    def _act(self, action: Callable[[Path], None], file: Path) -> None:
        def run() -> None:
            try:
                action(file)
            except LoopcapError as exc:
                log.warning("%s", exc)
                if self._on_action_error is not None:
                    self._on_action_error(str(exc))

        threading.Thread(target=run, daemon=True, name="notification action").start()

    # -- any thread ----------------------------------------------------------------------------

    def supports_actions(self) -> bool:
        """Whether the notification server shows buttons (False when there is no server).
        Waits for the server's answer."""
        try:
            return self._submit(self._supports_actions()).result()
        except Exception as exc:  # noqa: BLE001 - any failure to reach the server means "no"
            log.info("no notification server: %s", exc)
            return False

    def send(self, notice: Notice) -> None:
        """Show ``notice``; returns at once. One the server did not take (there is none, it
        hangs...) goes to ``on_unshown``: say it another way there."""
        future = self._submit(self._send(notice))

        def done(future: concurrent.futures.Future[None]) -> None:
            error = None if future.cancelled() else future.exception()
            if error is None and not future.cancelled():
                return
            log.info("notification not shown (%s): %s", error, notice.title)
            if self._on_unshown is not None:
                self._on_unshown(notice)

        future.add_done_callback(done)

    def close(self) -> None:
        """Stop the loop thread; safe to call twice."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(SEND_TIMEOUT_S)
        with contextlib.suppress(RuntimeError):
            loop.close()


def where_label(path: Path, home: Path | None = None) -> str:
    """A folder as people read it: ``~/Music/loopcap`` for one under the home folder."""
    home = home or Path.home()
    try:
        return "~/" + path.relative_to(home).as_posix() if path != home else "~"
    except ValueError:
        return str(path)
