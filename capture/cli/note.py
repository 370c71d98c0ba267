"""``loopcap note``: listen and save each voice note that plays as its own file."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from capture.cli.common import (
    StopSignal,
    add_app_arguments,
    offer_recovery,
    positive_int,
    positive_seconds,
    say_if_app_silent,
    settings_for_args,
)
from capture.cli.display import LiveDisplay
from capture.ffmpeg import AUDIO_FORMATS

if TYPE_CHECKING:
    from capture.cli import Subparsers
    from capture.events import Event
    from capture.settings import Settings


def register_cli(subparsers: Subparsers) -> None:
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
        "--count", type=positive_int, default=1, metavar="N", help="stop after N notes (default 1)"
    )
    how_many.add_argument("--continuous", action="store_true", help="save notes until stopped")
    note.add_argument("--timeout", type=positive_seconds, metavar="S", help="give up after S s")
    note.add_argument(
        "--silence",
        type=positive_seconds,
        metavar="S",
        help="end a note after S s without sound (default: automatic, from the player's silence)",
    )
    note.add_argument(
        "--threshold",
        type=float,
        metavar="DB",
        help="quietest level that counts as sound, dBFS (default -50)",
    )
    note.add_argument("--format", choices=AUDIO_FORMATS, help="file format (default mp3)")
    note.add_argument("--source", metavar="NAME", help="loopback source id or part of its name")
    note.add_argument(
        "--split-test",
        metavar="FILE",
        type=Path,
        help="listen to nothing: find the notes in a recording FILE, print them with their times",
    )
    add_app_arguments(note)
    note.set_defaults(handler=run_note)


def _note_settings(args: argparse.Namespace) -> Settings:
    import dataclasses

    from capture.settings import settings_from_dict, settings_to_dict

    settings = settings_for_args(args)
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


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:05.2f}"


def run_split_test(path: Path, settings: Settings) -> int:
    """``note --split-test FILE``: the notes the segmenter finds in a recording, with times."""
    from capture.ffmpeg import decode_pcm
    from capture.notes.detector import split_recording

    rate = settings.audio.samplerate
    frames = decode_pcm(path.expanduser(), samplerate=rate, channels=2)
    notes = split_recording(frames, rate, settings.notes)
    config = settings.notes
    rule = (
        f"a note ends after {config.silence_s:g} s without sound"
        if config.silence_s
        else f"a note ends after {config.player_silence_s:g} s of player silence "
        f"or a {config.max_pause_s:g} s pause"
    )
    print(
        f"{path}: {len(frames) / rate:.2f} s, {len(notes)} note(s); {rule}; "
        f"speech detection {config.vad}"
    )
    for number, note in enumerate(notes, 1):
        print(
            f"{number:3d}  {_clock(note.start_frame / rate)} - {_clock(note.end_frame / rate)}"
            f"  {note.duration_s(rate):6.2f} s  first sound {_clock(note.onset_frame / rate)},"
            f" last {_clock(note.last_sound_frame / rate)}, ended by {note.ended_by}"
        )
    return 0


def run_note(args: argparse.Namespace) -> int:
    from capture.notes.service import ClipFormat
    from capture.recording.recorder import Recorder
    from capture.recording.targets import check_writable_folder
    from capture.settings import output_folder

    settings = _note_settings(args)
    if args.split_test is not None:
        return run_split_test(args.split_test, settings)
    folder = args.out.expanduser() if args.out else output_folder(settings)
    check_writable_folder(folder, create=args.out is None)
    fmt = args.format or settings.output.audio_format
    printer = _NotePrinter(None if args.continuous else args.count)
    saved, enough = printer.saved, printer.enough
    offer_recovery()
    interactive = sys.stdout.isatty() and sys.stderr.isatty()
    started = time.monotonic()
    with StopSignal() as stop, Recorder(settings) as recorder:
        recorder.subscribe(printer.on_event)
        notes = recorder.start_notes(
            ClipFormat(folder, fmt, settings.output.note_name_template), save_every_note=True
        )
        say_if_app_silent(recorder, waiting=True)
        display = (
            LiveDisplay("● LISTENING", f"→ {folder}", lambda: time.monotonic() - started)
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
