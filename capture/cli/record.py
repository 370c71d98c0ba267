"""The recording commands: ``record``, ``recover``, ``devices``, ``doctor``, ``paths``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capture.errors import ScreenSourceError, UsageError
from capture.settings import (
    AUDIO_FORMATS,
    VIDEO_FORMATS,
    X264_PRESETS,
    Settings,
    load_settings,
    sessions_dir,
    settings_from_dict,
    settings_to_dict,
)

if TYPE_CHECKING:
    from capture.cli import Subparsers
    from capture.events import Event
    from capture.recording.recorder import Recorder


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
    record.add_argument("--duration", type=_positive_seconds, metavar="SECONDS", help="stop after")
    record.add_argument("--source", metavar="NAME", help="loopback source id or part of its name")
    record.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    record.set_defaults(handler=run_record)

    note = subparsers.add_parser(
        "note",
        help="listen and save each voice note that plays as its own file",
        description=(
            "Listen to what the computer plays and save every voice note heard, from its first "
            "syllable, as its own file (note-DATE_TIME.mp3). Prints each path when it is saved. "
            "Ends after --count notes, at Ctrl+C (a note still playing is saved), or at "
            "--timeout (exit code 2 if no note was heard)."
        ),
    )
    note.add_argument("--out", metavar="DIR", type=Path, help="folder for the notes")
    how_many = note.add_mutually_exclusive_group()
    how_many.add_argument(
        "--count", type=_positive_int, default=1, metavar="N", help="stop after N notes (default 1)"
    )
    how_many.add_argument("--continuous", action="store_true", help="save notes until stopped")
    note.add_argument("--timeout", type=_positive_seconds, metavar="S", help="give up after S s")
    note.add_argument(
        "--silence",
        type=_positive_seconds,
        metavar="S",
        help="silence that ends a note (default 1.5 s)",
    )
    note.add_argument(
        "--threshold",
        type=float,
        metavar="DB",
        help="quietest level that counts as sound, dBFS (default -50)",
    )
    note.add_argument("--format", choices=AUDIO_FORMATS, help="file format (default mp3)")
    note.add_argument("--source", metavar="NAME", help="loopback source id or part of its name")
    note.set_defaults(handler=run_note)

    recover = subparsers.add_parser(
        "recover",
        help="save recordings interrupted by a crash",
        description="Finalize recordings that were interrupted (crash, kill, power loss).",
    )
    recover.add_argument("dir", nargs="?", type=Path, help="sessions folder (default: loopcap's)")
    recover.set_defaults(handler=run_recover)

    devices = subparsers.add_parser("devices", help="list loopback sources")
    devices.add_argument("--json", action="store_true", help="machine-readable output")
    devices.set_defaults(handler=run_devices)

    doctor = subparsers.add_parser(
        "doctor", help="check that everything loopcap needs is here, and say how to fix what is not"
    )
    doctor.set_defaults(handler=run_doctor)

    paths = subparsers.add_parser("paths", help="show where loopcap keeps settings and recordings")
    paths.set_defaults(handler=run_paths)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not 0 < value <= 7 * 24 * 3600:
        raise argparse.ArgumentTypeError(f"{text}: give a duration between 0 and a week")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: give 1 or more")
    return value


def _settings_with_source(source: str | None) -> Settings:
    import dataclasses

    settings = load_settings()
    if source is not None:
        settings = dataclasses.replace(
            settings, audio=dataclasses.replace(settings.audio, source=source)
        )
    return settings


# -----------------------------------------------------------------------------------------------
# record


class _StopSignal:
    """Ctrl+C, SIGINT and SIGTERM ask the recording to stop (and finalize), not to die."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignal:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, lambda *_: self.event.set())
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def offer_recovery(out: Any = sys.stderr) -> None:
    """Tell the user about recordings a crash interrupted (loopcap never drops them silently)."""
    from capture.recording.session import interrupted_sessions

    found = interrupted_sessions(sessions_dir())
    for session in found:
        session.close()
    if found:
        print(
            f"loopcap: {len(found)} interrupted recording(s) found; "
            "run 'loopcap recover' to save them",
            file=out,
        )


def _record_target(
    args: argparse.Namespace, settings: Settings, default_format: str, formats: tuple[str, ...]
) -> tuple[Path, str]:
    """The file ``record`` will write, checked before anything is recorded."""
    from capture.recording.targets import resolve_output
    from capture.settings import output_folder

    return resolve_output(
        args.output,
        args.format,
        default_folder=output_folder(settings),
        default_format=default_format,
        name_template=settings.output.name_template,
        formats=formats,
        overwrite=args.overwrite,
    )


def run_record(args: argparse.Namespace) -> int:
    if not args.audio_only:
        return _run_screen_record(args)
    if _screen_options(args):
        raise UsageError(f"{_screen_options(args)[0]} records the screen; drop --audio-only")
    settings = _settings_with_source(args.source)
    target, fmt = _record_target(args, settings, settings.output.audio_format, AUDIO_FORMATS)
    from capture.ffmpeg import audio_format, locate_ffmpeg

    info = locate_ffmpeg()
    codec = audio_format(fmt).codec
    if codec != "pcm_s16le":
        info.require_encoder(codec)  # fail now, not after an hour of recording
    return _record_until_stopped(
        settings,
        target,
        args.duration,
        lambda recorder: recorder.start_recording(target, fmt, overwrite=args.overwrite),
    )


def _record_until_stopped(
    settings: Settings,
    target: Path,
    duration: float | None,
    start: Callable[[Recorder], None],
) -> int:
    """Start with ``start``, show progress on a terminal, stop on a signal or ``duration``, save."""
    from capture.recording.recorder import Recorder

    offer_recovery()
    interactive = sys.stdout.isatty() and sys.stderr.isatty()
    with _StopSignal() as stop, Recorder(settings) as recorder:
        start(recorder)
        display = (
            _LiveDisplay("● REC", f"→ {target.name}", lambda: recorder.recording_elapsed)
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
        path = recorder.stop_recording(length_s=duration)
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

    from capture.screen import MonitorTarget, Region, RegionTarget, Target, WindowTarget

    settings = _settings_with_source(args.source)
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
    target, fmt = _record_target(args, settings, settings.screen.video_format, VIDEO_FORMATS)
    from capture.ffmpeg import locate_ffmpeg

    info = locate_ffmpeg()
    info.require_encoder("libx264")  # fail now, not after an hour of recording
    if not args.no_audio:
        info.require_encoder("aac")
    return _record_until_stopped(
        settings,
        target,
        args.duration,
        lambda recorder: recorder.start_screen_recording(
            target, screen, fmt=fmt, audio=not args.no_audio, overwrite=args.overwrite
        ),
    )


def _wait_for_stop(
    recorder: Recorder, stop: threading.Event, duration: float | None, display: _LiveDisplay | None
) -> None:
    while not stop.is_set() and recorder.source_failure is None:
        elapsed = recorder.recording_elapsed
        if duration is not None and elapsed >= duration:
            return
        remaining = 0.1 if duration is None else min(0.1, duration - elapsed)
        stop.wait(max(0.0, remaining))
        if display:
            display.refresh()


class _LiveDisplay:
    """Elapsed time, a level meter and the latest news on the terminal (stderr)."""

    def __init__(self, badge: str, caption: str, elapsed: Callable[[], float]) -> None:
        from rich.console import Console
        from rich.live import Live

        self._badge = badge
        self._caption = caption
        self._elapsed = elapsed
        self._level = -120.0
        self._message = ""
        self._console = Console(stderr=True)
        self._live = Live(
            self._render(), console=self._console, refresh_per_second=10, transient=True
        )
        self._live.start()

    def on_event(self, event: Event) -> None:
        from capture.events import LevelChanged, NoteSaved, NoteStarted, SourceProblem

        if isinstance(event, LevelChanged):
            self._level = event.peak_db
        elif isinstance(event, SourceProblem):
            self._message = event.message
        elif isinstance(event, NoteStarted):
            self._message = "a note is playing…"
        elif isinstance(event, NoteSaved):
            self._message = f"saved {event.path.name} ({event.seconds:.1f} s)"

    def _render(self) -> Any:
        from rich.text import Text

        minutes, seconds = divmod(int(self._elapsed()), 60)
        hours, minutes = divmod(minutes, 60)
        width = 30
        filled = max(0, min(width, round((self._level + 60) / 60 * width)))
        colour = "red" if self._level > -1 else "green"
        text = Text()
        text.append(f"{self._badge} ", style="bold red")
        text.append(f"{hours:d}:{minutes:02d}:{seconds:02d}  ")
        text.append("█" * filled, style=colour)
        text.append("░" * (width - filled), style="dim")
        text.append(f" {self._level:6.1f} dBFS  {self._caption}")
        if self._message:
            text.append(f"\n{self._message}", style="yellow")
        text.append("\nCtrl+C to stop and save", style="dim")
        return text

    def refresh(self) -> None:
        self._live.update(self._render())

    def close(self) -> None:
        self._live.stop()


# -----------------------------------------------------------------------------------------------
# note


def _note_settings(args: argparse.Namespace) -> Settings:
    import dataclasses

    from capture.settings import settings_from_dict, settings_to_dict

    settings = _settings_with_source(args.source)
    notes = dict(settings_to_dict(settings.notes))
    if args.silence is not None:
        notes["silence_s"] = args.silence
        notes["tail_s"] = min(notes["tail_s"], args.silence)
    if args.threshold is not None:
        notes["min_threshold_db"] = args.threshold
    # Validated like the settings file, so a bad flag gets the same clear message.
    checked = settings_from_dict({"notes": notes}, source="command line").notes
    return dataclasses.replace(settings, notes=checked)


class _NotePrinter:
    """Prints each saved note's path the moment it is complete; counts them."""

    def __init__(self, wanted: int | None) -> None:
        self.wanted = wanted
        self.saved: list[Path] = []
        self.enough = threading.Event()
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        from capture.events import NoteFailed, NoteSaved

        if isinstance(event, NoteSaved):
            with self._lock:
                self.saved.append(event.path)
                print(event.path, flush=True)
            if self.wanted is not None and len(self.saved) >= self.wanted:
                self.enough.set()
        elif isinstance(event, NoteFailed):
            print(f"loopcap: {event.message}", file=sys.stderr, flush=True)


def run_note(args: argparse.Namespace) -> int:
    from capture.ffmpeg import audio_format, locate_ffmpeg
    from capture.notes.service import ClipFormat
    from capture.recording.recorder import Recorder
    from capture.recording.targets import check_writable_folder
    from capture.settings import output_folder

    settings = _note_settings(args)
    folder = args.out.expanduser() if args.out else output_folder(settings)
    check_writable_folder(folder, create=args.out is None)
    fmt = args.format or settings.output.audio_format
    codec = audio_format(fmt).codec
    if codec != "pcm_s16le":
        locate_ffmpeg().require_encoder(codec)
    printer = _NotePrinter(None if args.continuous else args.count)
    saved, enough = printer.saved, printer.enough
    offer_recovery()
    interactive = sys.stdout.isatty() and sys.stderr.isatty()
    started = time.monotonic()
    with _StopSignal() as stop, Recorder(settings) as recorder:
        recorder.subscribe(printer.on_event)
        notes = recorder.start_notes(
            ClipFormat(folder, fmt, settings.output.note_name_template), save_every_note=True
        )
        display = (
            _LiveDisplay("● LISTENING", f"→ {folder}", lambda: time.monotonic() - started)
            if interactive
            else None
        )
        if display:
            recorder.subscribe(display.on_event)
        try:
            while not (stop.event.is_set() or enough.is_set() or recorder.source_failure):
                if args.timeout is not None and time.monotonic() - started >= args.timeout:
                    break
                stop.event.wait(0.1)
                if display:
                    display.refresh()
        finally:
            if display:
                display.close()
        if enough.is_set():
            notes.save_every_note = False  # a note beyond --count is not wanted
    # Closing the recorder saved a note that was still playing and waited for the saver.
    if recorder.source_failure is not None:
        print(f"loopcap: {recorder.source_failure}", file=sys.stderr)
        return 1
    if not saved:
        waited = time.monotonic() - started
        print(
            f"loopcap: no voice note heard in {waited:.0f} s; is something playing?",
            file=sys.stderr,
        )
        return 2
    return 0


# -----------------------------------------------------------------------------------------------
# recover, devices, paths


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


def run_devices(args: argparse.Namespace) -> int:
    from capture.audio import list_sources

    settings = load_settings()
    sources = list_sources()
    if args.json:
        listed: list[dict[str, Any]] = [
            {"id": s.id, "name": s.name, "default": s.is_default} for s in sources
        ]
        print(json.dumps(listed + _screen_devices(), indent=2))
        return 0
    if not sources:
        print("loopcap: no loopback sources found; run 'loopcap doctor'", file=sys.stderr)
        return 1
    for source in sources:
        marker = "*" if source.is_default else " "
        print(f"{marker} {source.id}\t{source.name}")
    if not settings.audio.source:
        print("(* = default: the loopback of the default speaker)")
    try:
        screens = _screen_devices(strict=True)
    except ScreenSourceError as exc:
        print(f"screen: not available: {exc}")
        return 0
    for item in screens:
        if item["kind"] == "monitor":
            primary = "*" if item["primary"] else " "
            print(
                f"{primary} monitor {item['id']}\t{item['width']}x{item['height']} at "
                f"{item['left']},{item['top']}  (--monitor {item['id']})"
            )
        else:
            print(
                f"  window {item['id']:#x}\t{item['title']}  "
                f"({item['width']}x{item['height']} at {item['left']},{item['top']})"
            )
    return 0


def _screen_devices(*, strict: bool = False) -> list[dict[str, Any]]:
    """Monitors and visible windows, as 'loopcap devices' lists them (none without a display)."""
    from capture.screen import list_monitors, list_windows

    try:
        monitors, windows = list_monitors(), list_windows()
    except ScreenSourceError:
        if strict:
            raise
        return []

    def box(region: Any) -> dict[str, int]:
        return {k: getattr(region, k) for k in ("left", "top", "width", "height")}

    items: list[dict[str, Any]] = [
        {"kind": "monitor", "id": m.index, "primary": m.primary, **box(m.region)} for m in monitors
    ]
    items += [{"kind": "window", "id": w.id, "title": w.title, **box(w.region)} for w in windows]
    return items


def run_paths(args: argparse.Namespace) -> int:
    from capture.settings import output_folder, settings_path, state_dir

    settings = load_settings()
    print(f"settings:   {settings_path()}")
    print(f"recordings: {output_folder(settings)}")
    print(f"sessions:   {sessions_dir()}")
    print(f"state:      {state_dir()}")
    return 0


# -----------------------------------------------------------------------------------------------
# doctor


def run_doctor(args: argparse.Namespace) -> int:
    from capture.doctor import run_checks

    checks = run_checks()
    for check in checks:
        mark = "✓" if check.ok else ("✗" if check.required else "!")
        print(f"{mark} {check.name}: {check.detail}")
        if not check.ok and check.fix:
            print(f"    fix: {check.fix}")
    broken = [c for c in checks if c.required and not c.ok]
    if broken:
        print(f"\nloopcap cannot save voice notes until {len(broken)} problem(s) above are fixed.")
        return 1
    print("\nloopcap is ready.")
    return 0
