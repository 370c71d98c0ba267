"""Batch conversion of recordings and voice notes to MP3: parallel, tagged, atomic.

One ffmpeg process per file, several at once (threads only wait on the processes). Each output
is written to a hidden temporary file beside its final place, tagged there, then renamed, so a
finished name always holds a complete, tagged MP3. Inputs are only ever read.

Library use::

    report = convert_batch(plan_conversions([Path("notes")], out_dir=Path("mp3")))
    convert_to_mp3(Path("a.opus"), Path("a.mp3"))
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from capture.batch.whatsapp.names import parse_note_name
from capture.errors import DiskFullError, FfmpegError, LoopcapError, OutputError, UsageError
from capture.recording.atomic import atomic_output, is_part_file, output_error
from capture.tags import Tags

#: ffmpeg's words for a full disk, whatever the output.
_NO_SPACE = "No space left on device"
_BITRATE = re.compile(r"^(\d{1,3})k?$", re.IGNORECASE)
MP3_BITRATES_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


@dataclass(frozen=True, slots=True)
class Mp3Options:
    """How to encode: LAME VBR quality (0 best … 9 smallest) unless a constant bitrate is set."""

    quality: int = 2
    bitrate_kbps: int | None = None
    normalize: bool = False
    # EBU R128 integrated loudness target of --normalize, in LUFS.
    loudness_lufs: float = -16.0


@dataclass(frozen=True, slots=True)
class ConversionJob:
    source: Path
    target: Path
    tags: Tags = field(default_factory=Tags)


class Outcome(enum.Enum):
    CONVERTED = "converted"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ConversionResult:
    job: ConversionJob
    outcome: Outcome
    reason: str = ""
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class BatchReport:
    results: tuple[ConversionResult, ...]
    # Set when the batch stopped early because the output disk is full.
    disk_full: str = ""

    def with_outcome(self, outcome: Outcome) -> list[ConversionResult]:
        return [r for r in self.results if r.outcome is outcome]

    @property
    def all_ok(self) -> bool:
        return not self.disk_full and all(
            r.outcome in (Outcome.CONVERTED, Outcome.SKIPPED) for r in self.results
        )


# ---------------------------------------------------------------------------------------------
# One file


def mp3_command(source: Path, target: Path, options: Mp3Options) -> Any:
    """The ffmpeg-python stream converting ``source``'s first audio stream to MP3 ``target``."""
    import ffmpeg as ffmpeg_python

    audio = ffmpeg_python.input(str(source.absolute()))["a:0"]
    out: dict[str, Any] = {"f": "mp3", "acodec": "libmp3lame", "map_metadata": -1}
    if options.bitrate_kbps is not None:
        out["b:a"] = f"{options.bitrate_kbps}k"
    else:
        out["q:a"] = options.quality
    if options.normalize:
        # Single-pass loudnorm works at 192 kHz internally; bring it back to a rate MP3 has.
        audio = audio.filter("loudnorm", I=options.loudness_lufs, TP=-1.5, LRA=11)
        out["ar"] = 48000
    return audio.output(str(target.absolute()), **out)


def default_tags(source: Path) -> Tags:
    """Title from the file name; date from a WhatsApp-style name, else the file's time."""
    named = parse_note_name(source.name)
    if named is not None:
        date = (
            named.when.isoformat(timespec="seconds") if named.has_time else f"{named.when:%Y-%m-%d}"
        )
    else:
        try:
            mtime = source.stat().st_mtime
        except OSError:
            mtime = time.time()
        date = datetime.fromtimestamp(mtime).isoformat(timespec="seconds")
    return Tags(title=source.stem, date=date)


def convert_to_mp3(
    source: Path,
    target: Path,
    *,
    options: Mp3Options | None = None,
    tags: Tags | None = None,
    overwrite: bool = False,
    cancel: threading.Event | None = None,
    ffmpeg_slot: AbstractContextManager[Any] | None = None,
) -> None:
    """Convert one file to a tagged MP3 at ``target``, atomically.

    ``ffmpeg_slot`` is held only while ffmpeg runs (a batch uses it to bound processes, so
    preparing and tagging one file overlaps with encoding the next).

    Raises :class:`FfmpegError` (with ffmpeg's reason) when the input cannot be converted,
    :class:`DiskFullError` when the output disk is full, :class:`OutputError` when ``target``
    exists (without ``overwrite``) or cannot be written.
    """
    from capture import ffmpeg
    from capture.tags import write_tags

    options = options or Mp3Options()
    ffmpeg.locate_ffmpeg().require_encoder("libmp3lame")
    if not source.is_file():
        raise FfmpegError(f"{source}: not a file")
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists", option="overwrite")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(target, exc) from exc
    with atomic_output(target, overwrite=overwrite) as temp:
        try:
            with ffmpeg_slot or contextlib.nullcontext():
                ffmpeg.run(mp3_command(source, temp, options), what=str(source), cancel=cancel)
        except FfmpegError as exc:
            if _NO_SPACE in str(exc):
                raise DiskFullError(
                    f"no space left on the disk holding {target.parent} while writing "
                    f"{target.name}; free some space and run again"
                ) from exc
            raise
        _check_has_audio(source, temp)
        try:
            write_tags(temp, tags if tags is not None else default_tags(source))
        except OSError as exc:
            raise output_error(target, exc) from exc
        if cancel is not None and cancel.is_set():
            raise FfmpegError(f"{source}: cancelled")


def _check_has_audio(source: Path, mp3: Path) -> None:
    # ffmpeg exits 0 on some damaged inputs after decoding nothing at all.
    from mutagen import MutagenError
    from mutagen.mp3 import MP3

    try:
        info = MP3(str(mp3)).info  # type: ignore[no-untyped-call]
        length = float(info.length) if info is not None else 0.0
    except MutagenError:
        length = 0.0
    if length <= 0:
        raise FfmpegError(f"{source}: ffmpeg decoded no audio from it")


# ---------------------------------------------------------------------------------------------
# Many files


def default_jobs() -> int:
    return os.cpu_count() or 1


def convert_batch(
    jobs: Sequence[ConversionJob],
    *,
    options: Mp3Options | None = None,
    overwrite: bool = False,
    workers: int | None = None,
    cancel: threading.Event | None = None,
    on_result: Callable[[ConversionResult], None] | None = None,
) -> BatchReport:
    """Convert every job, ``workers`` ffmpeg processes at a time.

    Failures are collected, not raised. A full disk stops the batch (remaining jobs are
    ``CANCELLED`` and ``disk_full`` says why). ``cancel`` (or Ctrl+C in the calling thread) stops
    running ffmpegs; their temporary files are removed and KeyboardInterrupt propagates.
    """
    from capture.ffmpeg import locate_ffmpeg

    options = options or Mp3Options()
    locate_ffmpeg().require_encoder("libmp3lame")  # fail once, not once per file
    cancel = cancel or threading.Event()
    disk_full: list[str] = []
    processes = max(1, workers or default_jobs())
    # ``processes`` ffmpegs at once; one more thread prepares and tags files meanwhile, so a core
    # never waits for Python between two ffmpegs.
    ffmpeg_slots = threading.BoundedSemaphore(processes)

    def work(job: ConversionJob) -> ConversionResult:
        if cancel.is_set():
            return ConversionResult(job, Outcome.CANCELLED, "not started")
        if not overwrite and job.target.exists():
            return ConversionResult(job, Outcome.SKIPPED, f"{job.target.name} already exists")
        started = time.monotonic()
        try:
            convert_to_mp3(
                job.source,
                job.target,
                options=options,
                tags=job.tags,
                overwrite=overwrite,
                cancel=cancel,
                ffmpeg_slot=ffmpeg_slots,
            )
        except DiskFullError as exc:
            if not disk_full:
                disk_full.append(str(exc))
            cancel.set()
            return ConversionResult(job, Outcome.FAILED, str(exc))
        except LoopcapError as exc:
            outcome = Outcome.CANCELLED if cancel.is_set() else Outcome.FAILED
            return ConversionResult(job, outcome, str(exc))
        return ConversionResult(job, Outcome.CONVERTED, seconds=time.monotonic() - started)

    results: dict[int, ConversionResult] = {}
    pool = ThreadPoolExecutor(max_workers=processes + 1)
    try:
        futures = {pool.submit(work, job): index for index, job in enumerate(jobs)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_result is not None:
                on_result(result)
    except BaseException:
        cancel.set()  # running ffmpegs are stopped and their temporary files removed
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    ordered = tuple(results[i] for i in sorted(results))
    return BatchReport(ordered, disk_full=disk_full[0] if disk_full else "")


# ---------------------------------------------------------------------------------------------
# Choosing inputs and outputs


def _files_in(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    files = []
    for path in found:
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or is_part_file(path):
            continue  # hidden files and our own unfinished outputs
        if path.is_file():
            files.append(path)
    return sorted(files)


def plan_conversions(
    paths: Iterable[Path], *, out_dir: Path | None = None, recursive: bool = False
) -> tuple[list[ConversionJob], list[ConversionResult]]:
    """Jobs for every input file, and inputs skipped at once (an MP3 that would replace itself).

    Outputs go next to each input, or under ``out_dir`` (keeping sub-folders of a folder input).
    Two inputs that would share an output name get distinct names.
    """
    jobs: list[ConversionJob] = []
    skipped: list[ConversionResult] = []
    taken: set[Path] = set()
    for given in paths:
        if given.is_dir():
            pairs = [(f, f.relative_to(given)) for f in _files_in(given, recursive)]
        elif given.is_file():
            pairs = [(given, Path(given.name))]
        else:
            raise UsageError(f"{given}: no such file or folder")
        for source, rel in pairs:
            base = (out_dir / rel) if out_dir is not None else source
            target = base.with_name(base.stem + ".mp3")
            if target.absolute() in taken:
                target = base.with_name(base.name + ".mp3")
            job = ConversionJob(source, target, default_tags(source))
            if target.absolute() == source.absolute():
                skipped.append(ConversionResult(job, Outcome.SKIPPED, "already an MP3"))
                continue
            taken.add(target.absolute())
            jobs.append(job)
    return jobs, skipped


def parse_bitrate(text: str) -> int:
    """``"128k"`` or ``"128"`` → 128, if MP3 has that bitrate (else UsageError)."""
    match = _BITRATE.match(text.strip())
    if not match or int(match.group(1)) not in MP3_BITRATES_KBPS:
        rates = ", ".join(f"{r}k" for r in MP3_BITRATES_KBPS)
        raise UsageError(
            f"'{text}' is not an MP3 bitrate; MP3 bitrates are {rates}", option="bitrate"
        )
    return int(match.group(1))
