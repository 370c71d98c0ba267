"""What the commands share: signal handling, argument types, settings with command-line changes,
the word about interrupted recordings."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from capture.errors import UsageError
from capture.paths import sessions_dir
from capture.processes import STOP_SIGNALS
from capture.settings import Settings, load_settings

if TYPE_CHECKING:
    from capture.recording.recorder import Recorder


class StopSignal:
    """Ctrl+C, SIGINT, SIGTERM and SIGHUP ask the recording to stop (and finalize), not to die."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, lambda *_: self.event.set())
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop a batch like Ctrl+C: ffmpegs are stopped, temporary files removed.

    (Python's default for them is to die at once, leaving both behind.)
    """

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS if sig != signal.SIGINT}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not 0 < value <= 7 * 24 * 3600:
        raise argparse.ArgumentTypeError(f"{text}: give a duration between 0 and a week")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: give 1 or more")
    return value


def settings_with_source(source: str | None) -> Settings:
    """The settings file's settings, with ``--source`` over ``[audio] source``."""
    import dataclasses

    settings = load_settings()
    if source is not None:
        settings = dataclasses.replace(
            settings, audio=dataclasses.replace(settings.audio, source=source)
        )
    return settings


def add_app_arguments(parser: argparse.ArgumentParser) -> None:
    """--app / --exclude-app: one application's sound, or all but its."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--app",
        metavar="NAME",
        help="only this application's sound (part of its name or executable; see 'devices --apps')",
    )
    which.add_argument("--exclude-app", metavar="NAME", help="all sound but this application's")


def settings_for_args(args: argparse.Namespace) -> Settings:
    """The settings with --source, --app and --exclude-app applied (these are not saved)."""
    import dataclasses

    settings = settings_with_source(getattr(args, "source", None))
    app, exclude = getattr(args, "app", None), getattr(args, "exclude_app", None)
    for flag, value in (("--app", app), ("--exclude-app", exclude)):
        if value is not None and not value.strip():
            raise UsageError(
                f"{flag} needs an application's name; 'loopcap devices --apps' lists them"
            )
    if app is None and exclude is None:
        return settings
    audio = dataclasses.replace(settings.audio, app=app or "", exclude_app=exclude or "")
    return dataclasses.replace(settings, audio=audio)


def say_if_app_silent(recorder: Recorder, *, waiting: bool) -> None:
    """With an app that plays nothing yet: say so once (not an error; it is followed when it
    starts)."""
    app = recorder.app
    if app is None or app.exclude or recorder.app_streams_at_start != 0:
        return
    if waiting:
        message = f"waiting for {app.name} to play"
    else:
        message = f"nothing matches '{app.name}' yet; recording what it plays once it starts"
    print(f"loopcap: {message}", file=sys.stderr, flush=True)


def offer_recovery(out: IO[str] | None = None) -> None:
    """Tell the user about recordings a crash interrupted (loopcap never drops them silently)."""
    from capture.recording.session import interrupted_sessions

    found = interrupted_sessions(sessions_dir())
    for session in found:
        session.close()
    if found:
        print(
            f"loopcap: {len(found)} interrupted recording(s) found; "
            "run 'loopcap recover' to save them",
            file=out or sys.stderr,
        )
