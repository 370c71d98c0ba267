"""Batch conversion of recordings and voice notes (to MP3 by default): parallel, tagged, atomic.

Several short files go through one ffmpeg run (starting ffmpeg is most of the cost of a short
note), a few runs at once (threads only wait on the processes). Each output is written to a
hidden temporary file beside its final place, tagged there, then renamed, so a finished name
always holds a complete, tagged file. Inputs are only ever read. A file ffmpeg cannot read fails
alone: the others of its run are converted again without it.

Library use::

    report = convert_batch(plan_conversions([Path("notes")], out_dir=Path("mp3"))[0])
    convert_to_mp3(Path("a.opus"), Path("a.mp3"))
"""

from __future__ import annotations

import contextlib
import enum
import errno
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capture.batch.whatsapp.names import parse_note_name
from capture.errors import DiskFullError, FfmpegError, LoopcapError, OutputError, UsageError
from capture.recording.atomic import is_part_file, output_error, publish, temp_path_for
from capture.tags import Tags

if TYPE_CHECKING:
    from capture.ffmpeg import AudioFormat

log = logging.getLogger(__name__)

#: ffmpeg's words for a full disk, whatever the output.
_NO_SPACE = "No space left on device"
_BITRATE = re.compile(r"^(\d{1,3})k?$", re.IGNORECASE)
MP3_BITRATES_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


@dataclass(frozen=True, slots=True)
class Mp3Options:
    """How to encode.

    ``target`` is the output format ("mp3", "voice-note", "m4a", "opus", "flac", "wav"). MP3 uses
    LAME VBR quality (0 best … 9 smallest) unless a constant bitrate is set. ``sample_rate``
    forces an output rate; without it a source recorded at 16 kHz or less (a WhatsApp note)
    becomes a 24 kHz MP3, which keeps everything it holds, and others keep their rate.
    """

    quality: int = 2
    bitrate_kbps: int | None = None
    normalize: bool = False
    # EBU R128 integrated loudness target of --normalize, in LUFS.
    loudness_lufs: float = -16.0
    sample_rate: int | None = None
    target: str = "mp3"
    aac_kbps: int = 192
    opus_kbps: int = 96

    def audio_format(self) -> AudioFormat:
        from capture.ffmpeg import audio_format

        return audio_format(
            self.target,
            mp3_quality=self.quality,
            aac_kbps=self.aac_kbps,
            opus_kbps=self.opus_kbps,
        )


#: The more general name: the options cover every output format, not only MP3.
ConvertOptions = Mp3Options


@dataclass(frozen=True, slots=True)
class ConversionJob:
    source: Path
    target: Path
    tags: Tags = field(default_factory=Tags)
    #: How to name the input to the user when ``source`` is a copy (an archive's member).
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or str(self.source)


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
    # The output's sample rate when loopcap chose it to fit the source (see fitting_rate).
    fitted_rate: int | None = None
    source_rate: int | None = None


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
# Encoding settings of one file

#: MP3 rate for sources recorded at 16 kHz or less. LAME's lowpass at 16 kHz cuts into the
#: 7-8 kHz band a 16 kHz recording holds (5 dB down, measured on noise); at 24 kHz everything up
#: to 8 kHz passes untouched (tests/test_convert.py checks it on a spectrum).
FITTED_MP3_RATE = 24000
_FITTED_SOURCE_MAX_RATE = 16000


def opus_input_rate(source: Path) -> int | None:
    """The input sample rate an Ogg Opus file's header records (16000 for WhatsApp's notes).

    ffmpeg decodes every Opus stream at 48 kHz and reports that; the header keeps the rate it
    was recorded at. Reads 64 bytes, so it costs nothing next to starting ffmpeg.
    """
    try:
        with source.open("rb") as handle:
            head = handle.read(64)
    except OSError:
        return None
    # Ogg page header (27 bytes + segment table), then "OpusHead", version, channels, pre-skip.
    if not head.startswith(b"OggS") or len(head) < 28:
        return None
    body = 27 + head[26]
    if head[body : body + 8] != b"OpusHead" or len(head) < body + 16:
        return None
    rate = int.from_bytes(head[body + 12 : body + 16], "little")
    return rate or None


def fitting_rate(source: Path, options: Mp3Options) -> tuple[int | None, int | None]:
    """(output rate loopcap picks for ``source``, the source's recorded rate) for an MP3 made
    with ``options``; the first is None when the encoder's default applies."""
    if options.target != "mp3" or options.sample_rate is not None or options.normalize:
        return None, None
    recorded = opus_input_rate(source)
    if recorded is not None and recorded <= _FITTED_SOURCE_MAX_RATE:
        return FITTED_MP3_RATE, recorded
    return None, recorded


def output_options(options: Mp3Options, rate: int | None) -> list[str]:
    """ffmpeg output options (after ``-map``) that encode one input as ``options`` say."""
    fmt = options.audio_format()
    args = fmt.output_options()
    if fmt.codec == "libmp3lame" and options.bitrate_kbps is not None:
        args = [a for a in args if a not in ("-q:a", str(options.quality))]
        args += ["-b:a", f"{options.bitrate_kbps}k"]
    if options.normalize:
        # Single-pass loudnorm works at 192 kHz internally; bring it back to a usual rate.
        args = ["-af", f"loudnorm=I={options.loudness_lufs}:TP=-1.5:LRA=11", *args]
        if fmt.sample_rate is None and options.sample_rate is None:
            args += ["-ar", "48000"]
    chosen = options.sample_rate or rate
    if chosen is not None and fmt.sample_rate is None:
        args += ["-ar", str(chosen)]
    # ffmpeg's own tags are dropped; capture.tags writes loopcap's.
    return [*args, "-map_metadata", "-1"]


def encode_command(
    sources: Sequence[Path],
    outputs: Sequence[Path],
    options: Mp3Options,
    rates: Sequence[int | None],
) -> list[str]:
    """One ffmpeg command line converting every ``sources[i]`` into ``outputs[i]``."""
    from capture import ffmpeg

    args = ffmpeg.base_args()
    for source in sources:
        args += ["-i", _ffmpeg_path(source)]
    for index, (output, rate) in enumerate(zip(outputs, rates, strict=True)):
        args += ["-map", f"{index}:a:0", *output_options(options, rate), _ffmpeg_path(output)]
    return args


def _ffmpeg_path(path: Path) -> str:
    # An absolute path, so a name starting with "-" or "pipe:" is never read as an option/URL.
    return "file:" + str(path.absolute())


def mp3_command(source: Path, target: Path, options: Mp3Options) -> list[str]:
    """The ffmpeg command line converting ``source`` alone to ``target`` as loopcap would."""
    rate, _ = fitting_rate(source, options)
    return encode_command([source], [target], options, [rate])


# ---------------------------------------------------------------------------------------------
# One file


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
) -> None:
    """Convert one file to a tagged file at ``target`` (MP3 unless ``options`` say otherwise),
    atomically.

    Raises :class:`FfmpegError` (with ffmpeg's reason) when the input cannot be converted,
    :class:`DiskFullError` when the output disk is full, :class:`OutputError` when ``target``
    exists (without ``overwrite``) or cannot be written.
    """
    options = options or Mp3Options()
    _require_encoder(options)
    job = ConversionJob(source, target, tags if tags is not None else default_tags(source))
    results = _GroupRunner(options, overwrite, cancel or threading.Event()).run([job])
    result = results[0]
    if result.outcome is not Outcome.CONVERTED:
        raise result.error or FfmpegError(result.reason)


def _require_encoder(options: Mp3Options) -> None:
    from capture import ffmpeg

    codec = options.audio_format().codec
    if codec != "pcm_s16le":  # built into every ffmpeg
        ffmpeg.locate_ffmpeg().require_encoder(codec)


# ---------------------------------------------------------------------------------------------
# Many files: several per ffmpeg run
#
# Starting ffmpeg, opening its inputs and the encoder is most of the cost of a short voice note.
# One ffmpeg run converting several files pays that once (bench/bench_convert.py measures the
# batch against `xargs -P<cores> ffmpeg`). A group is taken from the queue when a worker is free,
# smaller as the queue empties so that every core stays busy to the end. A group that fails is
# not the end of its files: the culprit ffmpeg names is failed alone, the rest run again, one by
# one when ffmpeg did not say which input it was.

#: Most files in one ffmpeg run; beyond ~16 the saving flattens while a failure costs more.
MAX_GROUP_FILES = 16
#: Inputs are grouped up to this many bytes together (~16 notes of WhatsApp's bitrate); a long
#: recording (3 minutes of it is ~500 KB) is converted alone, where grouping saves nothing.
MAX_GROUP_BYTES = 512 * 1024

_CULPRIT_INPUT = re.compile(r"\[in#(\d+)|'(\d+):a:0'|Error opening input file (.+)\.$", re.M)


@dataclass(slots=True)
class _GroupResult:
    job: ConversionJob
    outcome: Outcome
    reason: str = ""
    error: LoopcapError | None = None
    fitted_rate: int | None = None
    source_rate: int | None = None


class _GroupRunner:
    """Converts a group of jobs with one ffmpeg run; reruns the survivors when it fails."""

    def __init__(
        self,
        options: Mp3Options,
        overwrite: bool,
        cancel: threading.Event,
        ffmpeg_slot: AbstractContextManager[Any] | None = None,
    ) -> None:
        self.options = options
        self.overwrite = overwrite
        self.cancel = cancel
        self.slot = ffmpeg_slot or contextlib.nullcontext()
        self.vendor = options.audio_format().ogg_vendor

    def run(self, jobs: Sequence[ConversionJob]) -> list[_GroupResult]:
        results: dict[int, _GroupResult] = {}
        pending: list[tuple[int, ConversionJob]] = []
        for index, job in enumerate(jobs):
            early = self._check(job)
            if early is not None:
                results[index] = early
            else:
                pending.append((index, job))
        while pending:
            done, retry = self._run_once(pending)
            results.update(done)
            if len(retry) == len(pending):  # nothing learned: one by one
                for index, job in retry:
                    results.update(self._run_once([(index, job)])[0])
                break
            pending = retry
        return [results[i] for i in range(len(jobs))]

    def _check(self, job: ConversionJob) -> _GroupResult | None:
        if self.cancel.is_set():
            return _GroupResult(job, Outcome.CANCELLED, "not started")
        error: LoopcapError
        if not job.source.is_file():
            error = FfmpegError(f"{job.source}: not a file")
            return _GroupResult(job, Outcome.FAILED, str(error), error)
        if job.target.exists() and not self.overwrite:
            error = OutputError(f"{job.target}: already exists", option="overwrite")
            return _GroupResult(job, Outcome.SKIPPED, f"{job.target.name} already exists", error)
        try:
            job.target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            error = output_error(job.target, exc)
            return _GroupResult(job, Outcome.FAILED, str(error), error)
        return None

    def _run_once(
        self, pending: list[tuple[int, ConversionJob]]
    ) -> tuple[dict[int, _GroupResult], list[tuple[int, ConversionJob]]]:
        """Run ffmpeg once over ``pending``: (results, jobs to run again)."""
        from capture import ffmpeg

        rates = [fitting_rate(job.source, self.options) for _, job in pending]
        with contextlib.ExitStack() as stack:
            temps: list[Path] = []
            for _, job in pending:
                try:
                    temps.append(stack.enter_context(_temp_output(job.target)))
                except OutputError as exc:
                    return self._fail_all(pending, exc), []
            command = encode_command(
                [job.source for _, job in pending], temps, self.options, [r for r, _ in rates]
            )
            what = str(pending[0][1].source) if len(pending) == 1 else "a group of files"
            try:
                with self.slot:
                    ffmpeg.run_args(command, what=what, cancel=self.cancel)
            except FfmpegError as exc:
                return self._after_failure(pending, exc)
            done = {
                index: self._finish(job, temp, rate, recorded)
                for (index, job), temp, (rate, recorded) in zip(pending, temps, rates, strict=True)
            }
        return done, []

    def _after_failure(
        self, pending: list[tuple[int, ConversionJob]], exc: FfmpegError
    ) -> tuple[dict[int, _GroupResult], list[tuple[int, ConversionJob]]]:
        """Results of a failed run: all (cancel, full disk, one file), or the culprit alone and
        the others to run again."""
        if self.cancel.is_set():
            return self._fail_all(pending, exc, Outcome.CANCELLED), []
        if _NO_SPACE in exc.details or _NO_SPACE in str(exc):
            target = pending[0][1].target
            full = DiskFullError(
                f"no space left on the disk holding {target.parent} while writing "
                f"{target.name}; free some space and run again"
            )
            return self._fail_all(pending, full), []
        if len(pending) == 1:
            return self._fail_all(pending, exc), []
        culprit = _culprit(exc.details, [job.source for _, job in pending])
        if culprit is None:
            return {}, pending
        index, job = pending[culprit]
        lines = exc.details.strip().splitlines()
        failure = FfmpegError(f"{job.source}: ffmpeg failed: {lines[-1].strip() if lines else exc}")
        done = {index: _GroupResult(job, Outcome.FAILED, str(failure), failure)}
        return done, [p for n, p in enumerate(pending) if n != culprit]

    def _finish(
        self, job: ConversionJob, temp: Path, rate: int | None, recorded: int | None
    ) -> _GroupResult:
        from capture.tags import write_tags

        try:
            try:
                length = write_tags(temp, job.tags, ogg_vendor=self.vendor)
            except OutputError:
                length = 0.0  # not even a header: ffmpeg wrote nothing usable
            if length <= 0:
                # ffmpeg exits 0 on some damaged inputs after decoding nothing at all.
                raise FfmpegError(f"{job.source}: ffmpeg decoded no audio from it")
            if self.cancel.is_set():
                raise FfmpegError(f"{job.source}: cancelled")
            publish(temp, job.target, overwrite=self.overwrite)
        except LoopcapError as exc:
            outcome = Outcome.CANCELLED if self.cancel.is_set() else Outcome.FAILED
            return _GroupResult(job, outcome, str(exc), exc)
        except OSError as exc:
            error = output_error(job.target, exc)
            return _GroupResult(job, Outcome.FAILED, str(error), error)
        return _GroupResult(job, Outcome.CONVERTED, fitted_rate=rate, source_rate=recorded)

    def _fail_all(
        self,
        pending: list[tuple[int, ConversionJob]],
        error: LoopcapError,
        outcome: Outcome = Outcome.FAILED,
    ) -> dict[int, _GroupResult]:
        return {
            index: _GroupResult(job, outcome, _about(error, job), error) for index, job in pending
        }


def _about(error: LoopcapError, job: ConversionJob) -> str:
    text = str(error)
    if text.startswith("a group of files: "):
        return f"{job.source}: {text.removeprefix('a group of files: ')}"
    return text


def _culprit(stderr: str, sources: Sequence[Path]) -> int | None:
    """Which input of a failed multi-input run ffmpeg complained about, if it said."""
    for match in _CULPRIT_INPUT.finditer(stderr):
        number = match.group(1) or match.group(2)
        if number is not None and int(number) < len(sources):
            return int(number)
        if match.group(3):
            named = match.group(3).removeprefix("file:")
            for index, source in enumerate(sources):
                if str(source.absolute()) == named:
                    return index
    return None


@contextlib.contextmanager
def _temp_output(target: Path) -> Iterator[Path]:
    """A temporary file beside ``target``, removed on leaving unless it was published."""
    temp = temp_path_for(target)
    try:
        yield temp
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def default_jobs() -> int:
    return os.cpu_count() or 1


class _Queue:
    """Jobs waiting, handed out in groups sized to keep every worker busy to the end."""

    def __init__(self, jobs: Sequence[ConversionJob], workers: int) -> None:
        self._jobs = jobs
        self._next = 0
        self._workers = workers
        self._lock = threading.Lock()

    def take(self) -> list[tuple[int, ConversionJob]]:
        with self._lock:
            left = len(self._jobs) - self._next
            # Groups shrink as the queue empties, so no worker is left with a long tail alone.
            wanted = max(1, min(MAX_GROUP_FILES, left // (2 * self._workers)))
            group: list[tuple[int, ConversionJob]] = []
            size = 0
            while self._next < len(self._jobs) and len(group) < wanted:
                job = self._jobs[self._next]
                try:
                    bytes_ = job.source.stat().st_size
                except OSError:
                    bytes_ = 0
                if group and size + bytes_ > MAX_GROUP_BYTES:
                    break
                group.append((self._next, job))
                size += bytes_
                self._next += 1
            return group


def convert_batch(
    jobs: Sequence[ConversionJob],
    *,
    options: Mp3Options | None = None,
    overwrite: bool = False,
    workers: int | None = None,
    cancel: threading.Event | None = None,
    on_result: Callable[[ConversionResult], None] | None = None,
) -> BatchReport:
    """Convert every job, ``workers`` ffmpeg processes at a time, several files per process.

    Failures are collected, not raised, one result per file. A full disk stops the batch
    (remaining jobs are ``CANCELLED`` and ``disk_full`` says why). ``cancel`` (or Ctrl+C in the
    calling thread) stops running ffmpegs; their temporary files are removed and
    KeyboardInterrupt propagates. Memory stays flat whatever the number of jobs: results are
    small records, and only the running groups hold anything else.
    """
    options = options or Mp3Options()
    _require_encoder(options)  # fail once, not once per file
    cancel = cancel or threading.Event()
    processes = max(1, workers or default_jobs())
    disk_full: list[str] = []
    # ``processes`` ffmpegs at once; one more thread tags and publishes meanwhile, so a core
    # never waits for Python between two ffmpeg runs.
    runner = _GroupRunner(options, overwrite, cancel, threading.BoundedSemaphore(processes))
    queue = _Queue(jobs, processes)
    results: list[ConversionResult | None] = [None] * len(jobs)
    report_lock = threading.Lock()

    def worker() -> None:
        while group := queue.take():
            started = time.monotonic()
            try:
                outcomes = runner.run([job for _, job in group])
            except Exception as exc:  # one odd file is its group's failure, never the batch's
                log.info("converting %s failed", group[0][1].name, exc_info=True)
                outcomes = [
                    _GroupResult(job, Outcome.FAILED, f"{job.name}: {exc}") for _, job in group
                ]
            seconds = (time.monotonic() - started) / len(group)
            with report_lock:
                for (index, _), done in zip(group, outcomes, strict=True):
                    if isinstance(done.error, DiskFullError) and not disk_full:
                        disk_full.append(str(done.error))
                        cancel.set()
                    result = ConversionResult(
                        done.job,
                        done.outcome,
                        done.reason.replace(str(done.job.source), done.job.name),
                        seconds if done.outcome is Outcome.CONVERTED else 0.0,
                        done.fitted_rate,
                        done.source_rate,
                    )
                    results[index] = result
                    if on_result is not None:
                        on_result(result)

    pool = ThreadPoolExecutor(max_workers=processes + 1)
    try:
        futures = [pool.submit(worker) for _ in range(processes + 1)]
        for future in futures:
            while True:
                try:
                    future.result(timeout=0.2)  # a timeout, so Ctrl+C reaches this thread
                    break
                except TimeoutError:
                    continue
    except BaseException:
        cancel.set()  # running ffmpegs are stopped and their temporary files removed
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    ordered = tuple(
        r if r is not None else ConversionResult(job, Outcome.CANCELLED, "not started")
        for r, job in zip(results, jobs, strict=True)
    )
    return BatchReport(ordered, disk_full=disk_full[0] if disk_full else "")


# ---------------------------------------------------------------------------------------------
# Choosing inputs and outputs


def _files_in(folder: Path, recursive: bool) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The files to convert in ``folder``, and what is there but cannot be (with why)."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    files = []
    odd = []
    for path in found:
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or is_part_file(path):
            continue  # hidden files and our own unfinished outputs
        if path.is_file():
            files.append(path)
        elif reason := _not_regular(path):
            odd.append((path, reason))
    return sorted(files), sorted(odd)


def plan_conversions(
    paths: Iterable[Path],
    *,
    out_dir: Path | None = None,
    recursive: bool = False,
    extension: str = "mp3",
) -> tuple[list[ConversionJob], list[ConversionResult]]:
    """Jobs for every input file, and inputs skipped at once (an output that would replace its
    input). Outputs are named ``<stem>.<extension>``.

    Outputs go next to each input, or under ``out_dir`` (keeping sub-folders of a folder input).
    Two inputs that would share an output name get distinct names.
    """
    jobs: list[ConversionJob] = []
    skipped: list[ConversionResult] = []
    pairs: list[tuple[Path, Path]] = []
    for given in paths:
        if given.is_dir():
            files, odd = _files_in(given, recursive)
            pairs += [(f, f.relative_to(given)) for f in files]
            skipped += [ConversionResult(ConversionJob(p, p), Outcome.SKIPPED, r) for p, r in odd]
        elif given.is_file():
            pairs.append((given, Path(given.name)))
        elif _not_regular(given):
            reason = _not_regular(given)
            skipped.append(ConversionResult(ConversionJob(given, given), Outcome.SKIPPED, reason))
        else:
            raise UsageError(f"{given}: no such file or folder")
    # Inputs are never written: an output name that is an input's (song.wav → song.mp3 beside a
    # song.mp3) takes another name, whatever --overwrite says.
    inputs = {_identity(source) for source, _ in pairs}
    taken: set[Path] = set()
    for source, rel in pairs:
        base = (out_dir / rel) if out_dir is not None else source
        target = base.with_name(f"{base.stem}.{extension}")
        if _identity(target) == _identity(source):
            job = ConversionJob(source, target, default_tags(source))
            reason = f"already a .{extension} (the output would replace it)"
            skipped.append(ConversionResult(job, Outcome.SKIPPED, reason))
            continue
        if _identity(target) in taken or _identity(target) in inputs:
            target = base.with_name(f"{base.name}.{extension}")
        n = 2
        while _identity(target) in taken or _identity(target) in inputs:
            target = base.with_name(f"{base.name} ({n}).{extension}")
            n += 1
        taken.add(_identity(target))
        jobs.append(ConversionJob(source, target, default_tags(source)))
    return jobs, skipped


def _identity(path: Path) -> Path:
    """The file a path names, links and ``..`` resolved (to compare inputs with outputs)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link loop: compare it as written
        return path.absolute()


def _not_regular(path: Path) -> str:
    """Why ``path`` is no file to convert ('' if it is one, or does not exist)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        if path.is_symlink():
            return "a symbolic link to nothing"
        return ""
    kinds = (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    )
    return next((f"{kind}, not a file" for test, kind in kinds if test(mode)), "")


def parse_bitrate(text: str) -> int:
    """``"128k"`` or ``"128"`` → 128, if MP3 has that bitrate (else UsageError)."""
    match = _BITRATE.match(text.strip())
    if not match or int(match.group(1)) not in MP3_BITRATES_KBPS:
        rates = ", ".join(f"{r}k" for r in MP3_BITRATES_KBPS)
        raise UsageError(
            f"'{text}' is not an MP3 bitrate; MP3 bitrates are {rates}", option="bitrate"
        )
    return int(match.group(1))
