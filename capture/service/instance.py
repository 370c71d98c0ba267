"""The running loopcap: one Recorder always listening, driven by hotkeys, the tray and ``ctl``.

``loopcap tray`` and ``loopcap listen`` both run a LoopcapService: it takes the per-user instance
lock, keeps the replay ring and note detector going, answers the control channel and the
global hotkeys. Actions return quickly; whatever takes time (encoding) runs on worker threads,
and the outcome arrives as an event (:mod:`capture.events`), on the Recorder's event thread. The
state and its rules are the Recorder's; the service adds the instance lock, the control channel,
the hotkeys and the list of recent files.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from capture.errors import LoopcapError, SettingsError, UsageError
from capture.events import (
    Event,
    NoteArmed,
    NoteCatching,
    NoteSaved,
    NoteTimedOut,
    RecordingFailed,
    RecordingSaved,
)
from capture.recording.recorder import Recorder
from capture.service.control import ControlServer, Endpoint, InstanceLock
from capture.service.hotkeys import Hotkeys, HotkeyStatus
from capture.settings import Settings, load_settings

log = logging.getLogger(__name__)

RECENT_FILES = 5


@dataclass(frozen=True, slots=True)
class SavedFile:
    """A file this service saved, for the Recent menu: what it is, how long, when."""

    path: Path
    seconds: float
    saved_at: datetime
    kind: str  # "note", "recording" or "clip" (the last N seconds, from the replay ring)


class LoopcapService:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        endpoint: Endpoint | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        self.endpoint = endpoint or Endpoint.for_user()
        self.recorder = recorder or Recorder(self.settings)
        self.recent: deque[SavedFile] = deque(maxlen=RECENT_FILES)
        self.hotkey_status = HotkeyStatus(False, "hotkeys not started")
        self.last_message = ""
        self._instance = InstanceLock(self.endpoint)
        self._server = ControlServer(self.endpoint, self.handle)
        self._hotkeys: Hotkeys | None = None
        self._started_at = time.monotonic()
        self._waiters: list[Callable[[Event], None]] = []
        self.recorder.subscribe(self._on_event)

    # -- life cycle ----------------------------------------------------------------------------

    def start(self, *, hotkeys: bool = True) -> None:
        """Take the instance lock (AlreadyRunning if taken), listen, serve, bind keys."""
        self._instance.acquire()
        try:
            self.recorder.start_notes()
            self._server.start()
        except BaseException:
            self._instance.release()
            raise
        if hotkeys and self.settings.hotkeys.enabled:
            keys = self.settings.hotkeys
            self._hotkeys = Hotkeys(
                {
                    keys.catch_note: self.catch_note,
                    keys.save_last: lambda: self.save_last_in_background(keys.save_last_seconds),
                    keys.toggle_recording: self.toggle_recording_in_background,
                }
            )
            self.hotkey_status = self._hotkeys.start()
        else:
            self.hotkey_status = HotkeyStatus(False, "hotkeys are turned off in the settings")
        log.info("%s", self.hotkey_status.message)

    def stop(self) -> None:
        """Stop everything; a running recording is finalized first."""
        if self._hotkeys is not None:
            self._hotkeys.stop()
        self._server.stop()
        if self.recorder.recording_target is not None:
            try:
                self.recorder.stop_recording()
            except LoopcapError as exc:
                log.warning("%s", exc)
        self.recorder.close()
        self._instance.release()

    # -- actions (any thread) ------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        return self.recorder.subscribe(callback)

    def catch_note(self) -> None:
        self.recorder.catch_note()

    def save_last(self, seconds: float) -> Path:
        return self.recorder.save_last(seconds)

    def save_last_in_background(self, seconds: float) -> None:
        self._in_background(lambda: self.save_last(seconds), "save last")

    @property
    def recording(self) -> bool:
        return self.recorder.recording_target is not None

    def start_recording(self, *, screen: bool = False, fmt: str | None = None) -> Path:
        target, fmt = self.recorder.resolve_target(fmt=fmt, screen=screen)
        if screen:
            from capture.screen import MonitorTarget

            self.recorder.start_screen_recording(target, MonitorTarget(), fmt=fmt)
        else:
            self.recorder.start_recording(target, fmt)
        return target

    def stop_recording(self) -> Path:
        return self.recorder.stop_recording()

    @property
    def following(self) -> str:
        """What is recorded: "all sound", an app's name, or "all sound but NAME"."""
        app = self.recorder.app
        return app.describe() if app is not None else "all sound"

    def listen_to(self, name: str, *, exclude: bool = False, remember: bool = True) -> str:
        """Follow the app ``name`` from now on ("all" or "": all sound); saved in the settings
        unless ``remember`` is False. Returns what is followed now."""
        from capture.audio import AppFilter
        from capture.settings import remember_app

        app = None if name.strip().casefold() in ("", "all") else AppFilter(name, exclude=exclude)
        self.recorder.follow_app(app)
        self.settings = self.recorder.settings
        self.last_message = f"listening to {self.following}"
        if remember:
            try:
                remember_app(app)
            except SettingsError as exc:  # the switch stands; only remembering it failed
                self.last_message = f"{self.last_message}, but not remembered: {exc}"
                raise SettingsError(self.last_message) from None
        return self.following

    def toggle_recording_in_background(self) -> None:
        if self.recording:
            self._in_background(self.stop_recording, "stop recording")
        else:
            self._in_background(self.start_recording, "start recording")

    def _in_background(self, action: Callable[[], object], what: str) -> None:
        def run() -> None:
            try:
                action()
            except LoopcapError as exc:
                self.last_message = f"{what}: {exc}"
                log.warning("%s", self.last_message)

        threading.Thread(target=run, daemon=True, name=what).start()

    # -- state ---------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, NoteTimedOut):
            self.last_message = "no note came; catching stopped"
        elif isinstance(event, NoteSaved | RecordingSaved):
            kind = "note"
            if isinstance(event, RecordingSaved):
                kind = "clip" if event.replay else "recording"
            self.recent.appendleft(SavedFile(event.path, event.seconds, datetime.now(), kind))
            self.last_message = f"saved {event.path}"
        elif isinstance(event, RecordingFailed):
            self.last_message = event.message  # e.g. the disk filled and the recording stopped
        for waiter in list(self._waiters):
            waiter(event)

    def status(self) -> dict[str, Any]:
        recorder = self.recorder
        source = recorder.source_info
        return {
            "state": recorder.state.value,
            "catch": recorder.catch_state.value,
            "recording": str(recorder.recording_target) if self.recording else None,
            "recording_kind": kind.value if (kind := recorder.recording_kind) else None,
            "recording_seconds": round(recorder.recording_elapsed, 1),
            "source": source.id if source else None,
            "following": self.following,
            "hotkeys": self.hotkey_status.message,
            "hotkeys_active": self.hotkey_status.active,
            "recent": [str(saved.path) for saved in self.recent],
            "message": self.last_message,
            "uptime_seconds": round(time.monotonic() - self._started_at, 1),
        }

    # -- the control channel -------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        command = request["cmd"]
        if command == "status":
            return {"ok": True, **self.status()}
        if command == "catch-note":
            return self._catch_note_reply(wait=bool(request.get("wait", False)))
        if command == "save-last":
            seconds = request.get("seconds", self.settings.hotkeys.save_last_seconds)
            if not isinstance(seconds, int | float) or not 0 < seconds <= 3600:
                raise UsageError("save-last takes a number of seconds between 0 and 3600")
            return {"ok": True, "path": str(self.save_last(float(seconds)))}
        if command == "start":
            return {
                "ok": True,
                "path": str(self.start_recording(screen=bool(request.get("screen")))),
            }
        if command == "stop":
            return {"ok": True, "path": str(self.stop_recording())}
        if command == "listen-to":
            name = request.get("app")
            if not isinstance(name, str) or not name.strip() or len(name) > 200:
                raise UsageError("listen-to takes an application's name, or 'all'")
            return {"ok": True, "following": self.listen_to(name)}
        raise UsageError(f"unknown command '{command}'")

    def _catch_note_reply(self, *, wait: bool) -> dict[str, Any]:
        """Catch, then answer with the first news (or, with ``wait``, the saved file)."""
        news: list[Event] = []
        arrived = threading.Event()

        def waiter(event: Event) -> None:
            if isinstance(event, NoteSaved | NoteTimedOut) or (
                not wait and isinstance(event, NoteArmed | NoteCatching)
            ):
                news.append(event)
                arrived.set()

        self._waiters.append(waiter)
        try:
            self.catch_note()
            timeout = self.settings.notes.catch_timeout_s + 60 if wait else 5
            arrived.wait(timeout)
        finally:
            self._waiters.remove(waiter)
        if not news:
            return {"ok": False, "error": "no answer from the note catcher"}
        event = news[0]
        if isinstance(event, NoteSaved):
            return {"ok": True, "result": "saved", "path": str(event.path)}
        if isinstance(event, NoteCatching):
            return {"ok": True, "result": "catching", "seconds_ago": round(event.seconds_ago, 2)}
        if isinstance(event, NoteArmed):
            return {"ok": True, "result": "armed", "timeout_seconds": event.timeout_s}
        return {"ok": False, "error": "no note played before the timeout"}
