"""The batch commands: ``convert`` and ``import-whatsapp``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from capture.batch.whatsapp.names import IMPORT_FORMATS
from capture.cli.common import signals_interrupt
from capture.errors import UsageError
from capture.ffmpeg import AUDIO_FORMATS

if TYPE_CHECKING:
    from capture.batch.convert import ConversionResult, Mp3Options
    from capture.batch.whatsapp.plan import ImportPlan
    from capture.cli import Subparsers
    from capture.cli.display import BatchDisplay


def register_cli(subparsers: Subparsers) -> None:
    register_convert(subparsers)
    register_import_whatsapp(subparsers)


# ---------------------------------------------------------------------------------------------
# convert


def register_convert(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert recordings and voice notes to MP3 (or voice notes, m4a, opus, flac, wav)",
        description=(
            "Convert audio or video files (opus, ogg, m4a, wav, flac, mp3, mp4, mkv, webm, …) to "
            "tagged MP3s (or --to another format), several at once. Outputs go next to each "
            "input unless --out is given; existing outputs are kept unless --overwrite. Exit "
            "code 0 when all converted, 1 when some failed, 2 for usage errors."
        ),
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write the outputs under DIR")
    parser.add_argument(
        "--to",
        choices=AUDIO_FORMATS,
        default="mp3",
        help=(
            "output format (default mp3); voice-note: Ogg Opus as WhatsApp's own voice notes "
            "(16 kHz mono, speech bitrate), named .opus"
        ),
    )
    parser.add_argument(
        "--rate",
        type=int,
        metavar="HZ",
        help=(
            "output sample rate (default: the source's; MP3s of sources recorded at 16 kHz, "
            "like WhatsApp's notes, are made at 24 kHz)"
        ),
    )
    parser.add_argument(
        "--jobs", type=int, metavar="N", help="files converted at once (default: one per core)"
    )
    quality = parser.add_mutually_exclusive_group()
    quality.add_argument(
        "--quality",
        type=int,
        choices=range(10),
        metavar="0-9",
        help="LAME VBR quality, 0 best … 9 smallest (default from settings: 2)",
    )
    quality.add_argument("--bitrate", metavar="RATE", help="constant bitrate instead, e.g. 128k")
    parser.add_argument(
        "--normalize", action="store_true", help="even out loudness (EBU R128, -16 LUFS)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing MP3s")
    parser.add_argument(
        "-r", "--recursive", action="store_true", help="also convert files in sub-folders"
    )
    parser.set_defaults(handler=run_convert)


def options_from(args: argparse.Namespace) -> tuple[Mp3Options, int]:
    """Encoding options and worker count from the command line over the settings file."""
    from capture.batch.convert import Mp3Options, default_jobs
    from capture.settings import load_settings

    settings = load_settings().convert
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    workers = args.jobs or settings.jobs or default_jobs()
    if args.bitrate and args.to != "mp3":
        raise UsageError(f"--bitrate sets an MP3 bitrate; it does not apply to --to {args.to}")
    if args.rate is not None:
        check_rate(args.rate, args.to)
    options = Mp3Options(
        quality=settings.mp3_quality if args.quality is None else args.quality,
        bitrate_kbps=_bitrate(args.bitrate),
        normalize=args.normalize or settings.normalize,
        loudness_lufs=settings.loudness_lufs,
        sample_rate=args.rate,
        target=args.to,
    )
    return options, workers


#: Sample rates each output format can hold.
_RATES = {
    "mp3": (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000),
    "opus": (8000, 12000, 16000, 24000, 48000),
}


def check_rate(rate: int, target: str) -> None:
    """UsageError unless a ``--to target`` file can have sample rate ``rate``."""
    from capture.ffmpeg import audio_format

    if audio_format(target).sample_rate is not None:
        raise UsageError(f"--rate does not apply to --to {target} (always 16000 Hz)")
    allowed = _RATES.get(target)
    if allowed is not None and rate not in allowed:
        raise UsageError(f"--rate {rate}: {target} files have {', '.join(map(str, allowed))} Hz")
    if allowed is None and not 8000 <= rate <= 192000:
        raise UsageError(f"--rate {rate}: choose a rate from 8000 to 192000 Hz")


def _bitrate(text: str | None) -> int | None:
    from capture.batch.convert import parse_bitrate

    return parse_bitrate(text) if text else None


def run_convert(args: argparse.Namespace) -> int:
    from capture.batch.convert import BatchReport, convert_batch, plan_conversions
    from capture.cli.display import BatchDisplay, describe, fitted_rate_lines, summary_lines
    from capture.errors import DiskFullError

    options, workers = options_from(args)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: not a folder")
    jobs, skipped = plan_conversions(
        args.paths,
        out_dir=args.out,
        recursive=args.recursive,
        extension=options.audio_format().extension,
    )
    if not jobs and not skipped:
        raise UsageError("no files to convert in " + ", ".join(map(str, args.paths)))
    with signals_interrupt(), BatchDisplay(len(jobs)) as display:
        for result in skipped:
            display.line(describe(result))
        report = convert_batch(
            jobs,
            options=options,
            overwrite=args.overwrite,
            workers=workers,
            on_result=display.result,
        )
    report = BatchReport(tuple(skipped) + report.results, report.disk_full)
    for line in summary_lines(report) + fitted_rate_lines(report):
        print(line)
    if report.disk_full:
        raise DiskFullError(f"stopped: {report.disk_full}")
    return 0 if report.all_ok else 1


# ---------------------------------------------------------------------------------------------
# import-whatsapp


def register_import_whatsapp(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "import-whatsapp",
        help="import WhatsApp voice notes from a chat export or a phone folder",
        description=(
            "Import the voice notes of a WhatsApp chat export (.zip or extracted folder) or of a "
            "folder of voice notes (e.g. 'WhatsApp Voice Notes' copied from a phone). Each note "
            "becomes 'YYYY-MM-DD_HH-MM-SS - Sender.mp3' tagged with sender, date and chat name. "
            "A note seen twice is imported once; notes already imported are skipped."
        ),
    )
    parser.add_argument("source", type=Path, metavar="SOURCE", help=".zip, folder or note")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="where to put the notes (default: music folder)"
    )
    parser.add_argument(
        "--to",
        choices=IMPORT_FORMATS,
        default="mp3",
        help="mp3 (default), m4a, flac, wav, or opus: keep the original audio untouched, "
        "only add tags",
    )
    parser.add_argument("--jobs", type=int, metavar="N", help="notes converted at once")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="import nothing when the chat text names no sender or time for some notes",
    )
    parser.set_defaults(handler=run_import_whatsapp)


def run_import_whatsapp(args: argparse.Namespace) -> int:
    from capture.batch.convert import Mp3Options, default_jobs
    from capture.batch.whatsapp.importer import import_whatsapp
    from capture.cli.display import BatchDisplay, fitted_rate_lines, summary_lines
    from capture.errors import DiskFullError
    from capture.settings import load_settings, output_folder

    settings = load_settings()
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    out_dir: Path = args.out or output_folder(settings) / "WhatsApp"
    options = Mp3Options(
        quality=settings.convert.mp3_quality,
        normalize=settings.convert.normalize,
        loudness_lufs=settings.convert.loudness_lufs,
    )
    display: BatchDisplay | None = None

    def on_plan(plan: ImportPlan) -> None:
        nonlocal display
        display = BatchDisplay(len(plan.notes), verb="importing")
        for dup in plan.duplicates:
            display.line(f"- {dup.original_name}: skipped, same note as another one")
        for name in plan.missing:
            display.line(f"! {name}: attached in the chat but not in the export")

    def on_result(result: ConversionResult) -> None:
        assert display is not None
        display.result(result)

    try:
        with signals_interrupt():
            report = import_whatsapp(
                args.source,
                out_dir,
                to=args.to,
                workers=args.jobs or settings.convert.jobs or default_jobs(),
                options=options,
                on_plan=on_plan,
                on_result=on_result,
                strict=args.strict,
            )
    finally:
        if display is not None:
            display.close()
    lines = summary_lines(report.batch, noun="imported")
    lines[0] += f", {len(report.duplicates)} duplicates"
    if report.missing:
        lines[0] += f", {len(report.missing)} missing from the export"
    if report.unreadable:
        lines[0] += f", {len(report.unreadable)} unreadable"
        lines.append("unreadable in the archive:")
        lines.extend(f"  {args.source.name}: {name}: {why}" for name, why in report.unreadable)
    for line in lines + fitted_rate_lines(report.batch):
        print(line)
    if report.unattributed:
        count = len(report.unattributed)
        print(
            f"{count} note{'s' if count != 1 else ''} without sender or time in the chat text "
            "(dated from the file name or date; --strict refuses such exports):"
        )
        for name in report.unattributed:
            print(f"  {name}")
    print(f"into {out_dir}")
    if report.batch.disk_full:
        raise DiskFullError(f"stopped: {report.batch.disk_full}")
    return 0 if report.all_ok else 1
