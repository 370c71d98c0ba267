"""``loopcap tray``: the service with an icon. Light at import: pystray loads in the handler."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from capture.cli.common import add_app_arguments

if TYPE_CHECKING:
    from capture.cli import Subparsers


def register_cli(subparsers: Subparsers) -> None:
    tray = subparsers.add_parser(
        "tray",
        help="run in the system tray, with hotkeys and 'loopcap ctl' (what 'make run' starts)",
        description=(
            "Keep the recent past in memory behind a tray icon: its menu catches notes, saves the "
            "last 30 s or 2 min, records, and opens recent files. Global hotkeys and 'loopcap "
            "ctl' drive it too. Without a tray host it keeps running as 'loopcap listen' does. "
            "Prints each saved file."
        ),
    )
    tray.add_argument("--no-hotkeys", action="store_true", help="no global hotkeys")
    add_app_arguments(tray)
    tray.set_defaults(handler=run_tray)


def run_tray(args: argparse.Namespace) -> int:
    from tray.host import why_no_tray

    missing = why_no_tray()
    if not missing:
        try:
            import pystray  # noqa: F401 - raises here when no backend can start
        except Exception as exc:  # noqa: BLE001 - pystray raises anything when no backend fits
            missing = f"pystray cannot start ({exc}), so no tray icon"
    if missing:
        print(
            f"loopcap: {missing}; running without it: hotkeys and 'loopcap ctl' still work",
            file=sys.stderr,
            flush=True,
        )
        from capture.cli.service import run_listen

        return run_listen(args)
    return _run_with_icon(args)


def _run_with_icon(args: argparse.Namespace) -> int:
    import threading
    from pathlib import Path

    from capture.cli.common import settings_for_args
    from capture.events import Event, RecordingFailed, RecordingSaved
    from capture.service.instance import LoopcapService
    from tray.app import TrayApp

    service = LoopcapService(settings_for_args(args))
    # The service (instance lock, audio, hotkeys' start-up check) and the icon (GTK) each take a
    # few hundred ms to start: do both at once; the icon is shown only once the service runs.
    failure: list[BaseException] = []

    def start_service() -> None:
        try:
            service.start(hotkeys=not args.no_hotkeys)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread below
            failure.append(exc)

    starting = threading.Thread(target=start_service, name="start service")
    starting.start()
    try:

        def on_saved(path: Path) -> None:
            print(path, flush=True)

        app = TrayApp(service, on_saved=on_saved)
    except BaseException:
        starting.join()
        if not failure:
            service.stop()
        raise
    starting.join()
    if failure:
        raise failure[0]  # AlreadyRunning: one line, exit 1
    try:

        def on_ready(app: TrayApp) -> None:
            menu = "menu" if app.has_menu else "no menu: a left click catches a note"
            print(
                f"loopcap: tray icon ready ({app.backend} backend, {menu}); "
                f"{service.hotkey_status.message}",
                file=sys.stderr,
                flush=True,
            )
            if not app.has_menu:
                print(
                    "loopcap: for the tray menu install PyGObject (see 'loopcap doctor')",
                    file=sys.stderr,
                    flush=True,
                )

        app.run(on_ready)
    finally:
        # Quit (menu or a stop signal) while recording: the icon is gone by the time the service
        # finalizes the recording, so say here where it went.
        def on_finalized(event: Event) -> None:
            if isinstance(event, RecordingSaved):
                print(event.path, flush=True)
            elif isinstance(event, RecordingFailed):
                print(f"loopcap: {event.message}", file=sys.stderr, flush=True)

        service.subscribe(on_finalized)
        service.stop()
    return 0
