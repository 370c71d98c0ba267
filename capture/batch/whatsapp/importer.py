"""Importing voice notes: read the source, plan, convert (to MP3 by default, or M4A, FLAC, WAV)
or tag copies of the original Opus, report."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from capture.batch.convert import (
    BatchReport,
    ConversionJob,
    ConversionResult,
    Mp3Options,
    Outcome,
    convert_batch,
)
from capture.batch.whatsapp.archive import (
    ExportContents,
    NoteFile,
    is_audio,
    read_folder,
    read_zip_export,
)
from capture.batch.whatsapp.names import IMPORT_FORMATS
from capture.batch.whatsapp.plan import ImportPlan, note_tags, plan_import
from capture.errors import DiskFullError, LoopcapError, UnattributedNotesError, UsageError
from capture.recording.atomic import atomic_output, output_error
from capture.tags import write_tags


@dataclass(frozen=True, slots=True)
class ImportReport:
    batch: BatchReport
    duplicates: tuple[NoteFile, ...] = ()
    missing: tuple[str, ...] = ()
    chats: tuple[str, ...] = field(default=())
    unattributed: tuple[str, ...] = ()
    #: Archive members that could not be read, with why (the rest was imported).
    unreadable: tuple[tuple[str, str], ...] = ()

    @property
    def all_ok(self) -> bool:
        return self.batch.all_ok and not self.unreadable


def _keep_original(
    jobs: Sequence[ConversionJob],
    on_result: Callable[[ConversionResult], None] | None,
    cancel: threading.Event,
) -> BatchReport:
    """Copy each note's bytes unchanged, then tag the copy (tags touch only the header)."""
    results = []
    for job in jobs:
        if cancel.is_set():
            result = ConversionResult(job, Outcome.CANCELLED, "not started")
        elif job.target.exists():
            result = ConversionResult(job, Outcome.SKIPPED, f"{job.target.name} already exists")
        else:
            try:
                with atomic_output(job.target) as temp:
                    try:
                        shutil.copyfile(job.source, temp)
                    except OSError as exc:
                        raise output_error(job.target, exc) from exc
                    write_tags(temp, job.tags)
                result = ConversionResult(job, Outcome.CONVERTED)
            except LoopcapError as exc:
                result = ConversionResult(job, Outcome.FAILED, str(exc))
                if isinstance(exc, DiskFullError):
                    cancel.set()
        results.append(result)
        if on_result is not None:
            on_result(result)
    return BatchReport(tuple(results))


def import_whatsapp(
    source: Path,
    out_dir: Path,
    *,
    to: str = "mp3",
    workers: int | None = None,
    options: Mp3Options | None = None,
    on_plan: Callable[[ImportPlan], None] | None = None,
    on_result: Callable[[ConversionResult], None] | None = None,
    cancel: threading.Event | None = None,
    strict: bool = False,
) -> ImportReport:
    """Import every distinct voice note of ``source`` (zip, export folder or notes folder).

    Each becomes ``out_dir/YYYY-MM-DD_HH-MM-SS - Sender.mp3`` (or ``.m4a``, ``.flac``, ``.wav``
    as ``to`` says), or with ``to="opus"`` a tagged copy of the original bytes. ``strict`` raises
    :class:`UnattributedNotesError`, before anything is written, when the export's chat text
    names no sender or time for some notes.
    """
    if to not in IMPORT_FORMATS:
        raise UsageError(
            f"cannot import to '{to}'; choose one of {', '.join(IMPORT_FORMATS)}", option="to"
        )
    if not source.exists():
        raise UsageError(f"{source}: no such file or folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(out_dir / "x", exc) from exc
    cancel = cancel or threading.Event()
    staging = Path(tempfile.mkdtemp(prefix=".loopcap-import-", dir=out_dir))
    try:
        if source.is_dir():
            contents = read_folder(source)
        elif source.suffix.lower() == ".zip":
            contents = read_zip_export(source, staging)
        elif is_audio(source.name):
            mtime = datetime.fromtimestamp(source.stat().st_mtime)
            contents = ExportContents((), (NoteFile(source.name, source, mtime),))
        else:
            raise UsageError(f"{source}: not a chat export (.zip), a folder or a voice note")
        plan = plan_import(contents, extension=None if to == "opus" else f".{to}")
        if strict and plan.unattributed:
            count = len(plan.unattributed)
            raise UnattributedNotesError(
                f"{source}: the chat text names no sender or time for {count} "
                f"note{'s' if count != 1 else ''} ({', '.join(plan.unattributed)}); "
                "nothing was imported",
                plan.unattributed,
                option="strict",
            )
        if on_plan is not None:
            on_plan(plan)
        # A note copied out of an archive is named as the archive's member, not as its copy.
        from_archive = source.suffix.lower() == ".zip" and not source.is_dir()
        jobs = [
            ConversionJob(
                p.note.path,
                out_dir / p.target_name,
                note_tags(p),
                label=f"{source.name}: {p.note.original_name}" if from_archive else "",
            )
            for p in plan.notes
        ]
        if to == "opus":
            batch = _keep_original(jobs, on_result, cancel)
        else:
            batch = convert_batch(
                jobs,
                options=replace(options or Mp3Options(), target=to),
                workers=workers,
                cancel=cancel,
                on_result=on_result,
            )
        return ImportReport(
            batch,
            plan.duplicates,
            plan.missing,
            tuple(c.name for c in contents.chats),
            plan.unattributed,
            contents.unreadable,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
