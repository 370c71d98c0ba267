"""The recording commands: ``record`` (audio, or the screen with audio) and ``recover``."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from capture.cli.common import (
    StopSignal,
    add_app_arguments,
    offer_recovery,
    positive_seconds,
    say_if_app_silent,
    settings_for_args,
)
from capture.cli.display import LiveDisplay
from capture.errors import RecordingCutShort, UsageError
from capture.ffmpeg import AUDIO_FORMATS, VIDEO_FORMATS
from capture.paths import sessions_dir
from capture.settings import (
    X264_PRESETS,
    Settings,
    settings_from_dict,
    settings_to_dict,
)

if TYPE_CHECKING:
    from capture.cli import Subparsers
    from capture.recording.recorder import Recorder
    from capture.screen import Target


def register_cli(subparsers: Subparsers) -> None:
    record = subparsers.add_parser(
        "record",
        help="record what the computer plays",
        description=(
            "Record the screen (the primary monitor, another one, a region or one window) with "
            "the system's loopback audio into MP4, or the audio only, until Ctrl+C, SIGTERM or "
            "--duration. Prints the saved file's path."
        ),
    )
    record.add_argument("--audio-only", action="store_true", help="record audio only")
    where = record.add_mutually_exclusive_group()
    where.add_argument("--monitor", type=int, metavar="N", help="record monitor N (1 = first)")
    where.add_argument("--region", metavar="X,Y,W,H", help="record this rectangle of the screen")
    where.add_argument("--window", metavar="TITLE", help="record the window whose title has TITLE")
    record.add_argument("--fps", type=int, metavar="N", help="frames a second (default 30)")
    record.add_argument("--preset", choices=X264_PRESETS, help="x264 speed (default ultrafast)")
    record.add_argument("--crf", type=int, metavar="Q", help="x264 quality 0-51 (default 23)")
    record.add_argument("--no-audio", action="store_true", help="record the screen without sound")
    record.add_argument("--cursor", action="store_true", help="show the mouse pointer")
    record.add_argument("-o", "--output", metavar="FILE", help="file or folder to save to")
    record.add_argument(
        "--format",
        choices=AUDIO_FORMATS + VIDEO_FORMATS,
        help="file format (default: from FILE's extension)",
    )
    record.add_argument("--duration", type=positive_seconds, metavar="SECONDS", help="stop after")
    record.add_argument("--source", metavar="NAME", help="loopback source id or part of its name")
    add_app_arguments(record)
    record.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    record.set_defaults(handler=run_record)

    recover = subparsers.add_parser(
        "recover",
        help="save recordings interrupted by a crash",
        description="Finalize recordings that were interrupted (crash, kill, power loss).",
    )
    recover.add_argument("dir", nargs="?", type=Path, help="sessions folder (default: loopcap's)")
    recover.set_defaults(handler=run_recover)


def run_record(args: argparse.Namespace) -> int:
    if not args.audio_only:
        return _run_screen_record(args)
    if _screen_options(args):
        raise UsageError(f"{_screen_options(args)[0]} records the screen; drop --audio-only")
    return _record_until_stopped(settings_for_args(args), args, None)


def _record_until_stopped(
    settings: Settings, args: argparse.Namespace, screen: Target | None
) -> int:
    """Start (the screen too, unless ``screen`` is None), show progress on a terminal, stop on a
    signal or ``--duration``, save."""
    from capture.recording.recorder import Recorder

    duration: float | None = args.duration
    recorder = Recorder(settings)
    target, fmt = recorder.resolve_target(
        args.output, args.format, screen=screen is not None, overwrite=args.overwrite
    )
    offer_recovery()
    interactive = sys.stdout.isatty() and sys.stderr.isatty()
    with StopSignal() as stop, recorder:
        if screen is None:
            recorder.start_recording(target, fmt, overwrite=args.overwrite)
        else:
            recorder.start_screen_recording(
                target, screen, fmt=fmt, audio=not args.no_audio, overwrite=args.overwrite
            )
        say_if_app_silent(recorder, waiting=False)
        display = (
            LiveDisplay("● REC", f"→ {target.name}", lambda: recorder.recording_elapsed)
            if interactive
            else None
        )
        unsubscribe = recorder.subscribe(display.on_event) if display else None
        try:
            _wait_for_stop(recorder, stop.event, duration, display)
        finally:
            if display:
                display.close()
            if unsubscribe:
                unsubscribe()
        try:
            path = recorder.stop_recording(length_s=duration)
        except RecordingCutShort as exc:
            print(exc.path, flush=True)  # what was recorded is saved; the error says why it ended
            raise
    print(path, flush=True)
    if recorder.source_failure is not None:
        print(f"loopcap: {recorder.source_failure}", file=sys.stderr)
        return 1
    return 0


def _screen_options(args: argparse.Namespace) -> list[str]:
    given = [f"--{name}" for name in ("monitor", "region", "window", "fps", "preset", "crf")]
    given = [flag for flag in given if getattr(args, flag[2:]) is not None]
    return given + [
        flag for flag in ("--no-audio", "--cursor") if getattr(args, flag[2:].replace("-", "_"))
    ]


def _run_screen_record(args: argparse.Namespace) -> int:
    """``loopcap record`` of the screen: like audio-only, into MP4 (or MKV)."""
    import dataclasses

    from capture.screen import MonitorTarget, Region, RegionTarget, WindowTarget

    settings = settings_for_args(args)
    changes = {
        k: getattr(args, k) for k in ("fps", "preset", "crf") if getattr(args, k) is not None
    }
    if args.cursor:
        changes["cursor"] = True
    screen_settings = dataclasses.replace(settings.screen, **changes)
    settings = dataclasses.replace(
        settings,
        screen=settings_from_dict(
            {"screen": settings_to_dict(screen_settings)}, source="the command line"
        ).screen,
    )
    screen: Target
    if args.window is not None:
        screen = WindowTarget(args.window)
    elif args.region is not None:
        screen = RegionTarget(Region.parse(args.region))
    else:
        screen = MonitorTarget(args.monitor)
    return _record_until_stopped(settings, args, screen)


def _wait_for_stop(
    recorder: Recorder, stop: threading.Event, duration: float | None, display: LiveDisplay | None
) -> None:
    # A recording also ends by itself, when its disk fills up.
    while (
        not stop.is_set()
        and recorder.source_failure is None
        and recorder.recording_target is not None
    ):
        elapsed = recorder.recording_elapsed
        if duration is not None and elapsed >= duration:
            return
        remaining = 0.1 if duration is None else min(0.1, duration - elapsed)
        stop.wait(max(0.0, remaining))
        if display:
            display.refresh()


def run_recover(args: argparse.Namespace) -> int:
    from capture.recording.session import recover

    root = args.dir or sessions_dir()
    results = recover(root)
    if not results:
        print(f"loopcap: no interrupted recordings in {root}", file=sys.stderr)
        return 0
    failed = 0
    for result in results:
        if result.saved is not None:
            print(result.saved)
        elif result.empty:
            print(f"loopcap: {result.session} held no audio; removed", file=sys.stderr)
        else:
            failed += 1
            print(f"loopcap: {result.session}: {result.error}", file=sys.stderr)
    return 1 if failed else 0
