"""``loopcap listen`` (the service without an icon) and ``loopcap ctl`` (drive a running one)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from capture.cli.common import add_app_arguments
from capture.errors import LoopcapError

if TYPE_CHECKING:
    from capture.cli import Subparsers
    from capture.events import Event


def register_cli(subparsers: Subparsers) -> None:
    listen = subparsers.add_parser(
        "listen",
        help="run in the background with hotkeys and 'loopcap ctl', without a tray icon",
        description=(
            "Keep the recent past in memory and answer the global hotkeys and 'loopcap ctl', "
            "for desktops without a system tray. Prints each saved file. Ctrl+C to quit."
        ),
    )
    listen.add_argument("--no-hotkeys", action="store_true", help="only answer 'loopcap ctl'")
    add_app_arguments(listen)
    listen.set_defaults(handler=run_listen)

    ctl = subparsers.add_parser(
        "ctl",
        help="drive the running loopcap (tray or listen), e.g. from a desktop shortcut",
        description="Send one command to the running loopcap instance of this user.",
    )
    actions = ctl.add_subparsers(dest="action", metavar="ACTION", required=True)
    catch = actions.add_parser("catch-note", help="save the note playing now (or the next one)")
    catch.add_argument("--wait", action="store_true", help="wait until the note is saved")
    save = actions.add_parser("save-last", help="save the last SECONDS of audio")
    save.add_argument("seconds", nargs="?", type=float, metavar="SECONDS")
    start = actions.add_parser("start", help="start recording")
    start.add_argument("--screen", action="store_true", help="record the screen too")
    actions.add_parser("stop", help="stop recording and save")
    listen_to = actions.add_parser(
        "listen-to", help="follow one application's sound from now on ('all': all sound)"
    )
    listen_to.add_argument("app", metavar="NAME|all", help="see 'loopcap devices --apps'")
    status = actions.add_parser("status", help="what loopcap is doing")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    ctl.set_defaults(handler=run_ctl)


def run_ctl(args: argparse.Namespace) -> int:
    from capture.service.control import send

    request: dict[str, Any] = {"cmd": args.action}
    if args.action == "catch-note":
        request["wait"] = args.wait
    elif args.action == "save-last" and args.seconds is not None:
        request["seconds"] = args.seconds
    elif args.action == "start":
        request["screen"] = args.screen
    elif args.action == "listen-to":
        request["app"] = args.app
    reply = send(request)
    if not reply.get("ok"):
        raise LoopcapError(str(reply.get("error", "the running loopcap refused")))
    if args.action == "status":
        if args.json:
            print(json.dumps({k: v for k, v in reply.items() if k != "ok"}, indent=2))
        else:
            _print_status(reply)
    else:
        _print_reply(reply)
    return 0


def _print_reply(reply: dict[str, Any]) -> None:
    if "path" in reply:
        print(reply["path"])
    elif "following" in reply:
        print(f"listening to {reply['following']}")
    elif reply.get("result") == "armed":
        print(f"armed: the next note within {reply['timeout_seconds']:.0f} s will be saved")
    elif reply.get("result") == "catching":
        print(f"catching the note playing since {reply['seconds_ago']:.1f} s ago")


def _print_status(reply: dict[str, Any]) -> None:
    print(
        f"state:    {reply['state']}"
        + (f" (catching: {reply['catch']})" if reply["catch"] != "idle" else "")
    )
    if reply.get("recording"):
        print(f"recording {reply['recording_seconds']:.0f} s → {reply['recording']}")
    print(f"source:   {reply['source']}")
    print(f"following: {reply.get('following', 'all sound')}")
    print(f"hotkeys:  {reply['hotkeys']}")
    for path in reply.get("recent", []):
        print(f"recent:   {path}")


def run_listen(args: argparse.Namespace) -> int:
    from capture.cli.common import offer_recovery, say_if_app_silent, settings_for_args
    from capture.events import NoteFailed, NoteSaved, RecordingFailed, RecordingSaved
    from capture.processes import STOP_SIGNALS
    from capture.service.instance import LoopcapService

    service = LoopcapService(settings_for_args(args))
    stop = threading.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, NoteSaved | RecordingSaved):
            print(event.path, flush=True)
        elif isinstance(event, NoteFailed | RecordingFailed):
            print(f"loopcap: {event.message}", file=sys.stderr, flush=True)

    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in STOP_SIGNALS}
    try:
        service.subscribe(on_event)
        service.start(hotkeys=not args.no_hotkeys)
        offer_recovery()
        print(f"loopcap: listening; {service.hotkey_status.message}", file=sys.stderr, flush=True)
        say_if_app_silent(service.recorder, waiting=True)
        while not stop.wait(0.2):
            if service.recorder.source_failure is not None:
                raise service.recorder.source_failure
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        service.stop()
    return 0
