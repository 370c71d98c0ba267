"""Importing WhatsApp voice notes from chat exports (.zip or folder) and phone folders.

What is known about the formats is in the project's WHATSAPP.md. In short: Android names notes
``PTT-YYYYMMDD-WAnnnn.opus`` and exports ``WhatsApp Chat with NAME.txt`` with lines like
``02/12/24, 15:12 - Bob: PTT-20241202-WA0002.opus (file attached)``; iOS names them
``NNNNNNNN-AUDIO-YYYY-MM-DD-HH-MM-SS.opus`` and exports ``_chat.txt`` with lines like
``[13/10/25, 18:24:05] Bob: <attached: 00000028-AUDIO-2025-10-13-18-24-05.opus>``. Words, date
order and clocks follow the phone's language, so the parser keys on shapes (timestamps, file names)
rather than words, and guesses day/month order from every date in the file.

Archives are untrusted: member names are never used as paths (members are copied to names we
choose), an archive with an entry pointing outside itself is refused, and sizes and compression
ratios are bounded before anything is read.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import re
import shutil
import stat
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from capture.errors import LoopcapError, UsageError

if TYPE_CHECKING:
    from capture.cli import Subparsers

AUDIO_EXTENSIONS = frozenset({".opus", ".ogg", ".oga", ".m4a", ".mp3", ".aac", ".amr", ".wav"})

#: Bounds for untrusted archives. Real exports are audio (which does not compress) and text.
MAX_ARCHIVE_BYTES = 16 * 1024**3
MAX_COMPRESSION_RATIO = 100
MAX_ENTRIES = 200_000
MAX_CHAT_TEXT_BYTES = 512 * 1024**2


class ArchiveError(LoopcapError):
    """A chat export archive that is unreadable or unsafe to read."""


# ---------------------------------------------------------------------------------------------
# Voice-note file names


@dataclass(frozen=True, slots=True)
class NoteName:
    when: datetime
    has_time: bool  # Android names carry only the day


_NAME_PATTERNS: tuple[tuple[re.Pattern[str], bool], ...] = (
    # Android: PTT-20241202-WA0002.opus, AUD-20241202-WA0003.m4a
    (re.compile(r"^(?:PTT|AUD)-(\d{4})(\d{2})(\d{2})-WA\d+", re.I), False),
    # iOS exports: 00000028-AUDIO-2025-10-13-18-24-05.opus
    (re.compile(r"^\d+-AUDIO-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})", re.I), True),
    # WhatsApp Desktop / Web downloads: WhatsApp Audio 2023-07-15 at 10.23.45.opus
    (
        re.compile(
            r"^WhatsApp (?:Audio|Ptt) (\d{4})-(\d{2})-(\d{2}) at (\d{1,2})\.(\d{2})\.(\d{2})", re.I
        ),
        True,
    ),
    # loopcap's own import names: 2025-10-13_18-24-05 - Bob.mp3
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})_(\d{2})-(\d{2})-(\d{2}) - "), True),
)


def parse_note_name(name: str) -> NoteName | None:
    """The time a WhatsApp-style file name records, if it follows a known pattern."""
    for pattern, has_time in _NAME_PATTERNS:
        match = pattern.match(name)
        if match:
            try:
                when = datetime(*(int(g) for g in match.groups()))  # type: ignore[arg-type]
            except ValueError:
                return None
            return NoteName(when, has_time)
    return None


def note_time_from_name(name: str) -> datetime | None:
    parsed = parse_note_name(name)
    return parsed.when if parsed else None


# ---------------------------------------------------------------------------------------------
# Safe file names


_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(10)} | {f"LPT{i}" for i in range(10)}
)


def safe_name_part(text: str, *, max_bytes: int = 100, fallback: str = "unknown") -> str:
    """``text`` made safe as (part of) a file name on Linux, macOS and Windows.

    No path separators or characters Windows forbids, no control or invisible format characters,
    no leading/trailing dots or spaces, not a reserved device name, at most ``max_bytes`` of UTF-8.
    """
    text = unicodedata.normalize("NFC", text)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            continue
        kept.append(" " if category == "Zs" else char)
    cleaned = _FORBIDDEN.sub("_", "".join(kept))
    cleaned = re.sub(r" +", " ", cleaned).strip(" .")
    encoded = cleaned.encode("utf-8")
    if len(encoded) > max_bytes:
        cleaned = encoded[:max_bytes].decode("utf-8", "ignore").rstrip(" .")
    if cleaned.split(".")[0].upper().rstrip(" ") in _WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    return cleaned or fallback


# ---------------------------------------------------------------------------------------------
# Chat text


@dataclass(frozen=True, slots=True)
class ChatMessage:
    when: datetime
    sender: str  # empty for system lines
    text: str


@dataclass(frozen=True, slots=True)
class Chat:
    name: str
    messages: tuple[ChatMessage, ...]
    date_order: str  # "dmy", "mdy" or "ymd"

    def attachments(self) -> dict[str, ChatMessage]:
        """Message of each attached audio file, keyed by lower-cased file name."""
        found: dict[str, ChatMessage] = {}
        for message in self.messages:
            for name in _ATTACHMENT.findall(message.text):
                found.setdefault(name.lower(), message)
        return found


_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
_DATE = r"(?P<d1>\d{1,4})[./-]\s?(?P<d2>\d{1,2})[./-]\s?(?P<d3>\d{1,4})\.?"
_TIME = r"(?P<pre>[^\W\d_]{1,8}\.?\s?)?(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:[:.](?P<s>\d{2}))?"
_IOS_LINE = re.compile(rf"^\[{_DATE},?\s{_TIME}\s?(?P<ampm>[^\]\d]{{0,12}}?)\]\s?(?P<rest>.*)$")
_ANDROID_LINE = re.compile(
    rf"^{_DATE},?\s{_TIME}\s?(?P<ampm>[^\d\-–\]]{{0,12}}?)\s[-–]\s(?P<rest>.*)$"
)
_SENDER = re.compile(r"^(?P<sender>[^:]{1,120}?):\s(?P<body>.*)$", re.S)
_ATTACHMENT = re.compile(
    r"([^\s<>:\"/\\|?*\u200e\u200f]+\.(?:opus|ogg|oga|m4a|mp3|aac|amr|wav))(?![\w.])", re.I
)
_PM = frozenset({"pm", "p", "nachm", "ip", "下午", "午後", "오후", "μμ", "م", "ب.ظ", "ч"})
_AM = frozenset({"am", "a", "vorm", "ap", "上午", "午前", "오전", "πμ", "ص", "ق.ظ"})

RawDate = tuple[str, str, str]


@dataclass(slots=True)
class _Header:
    raw: RawDate
    hour: int
    minute: int
    second: int
    marker: str
    rest: str


def _strip_marks(text: str) -> str:
    return text.translate({ord(c): None for c in _MARKS})


def _meridiem(marker: str) -> str:
    """'am', 'pm' or '' for a localized AM/PM word such as 'PM', 'p. m.', 'nachm.', '오후'."""
    word = re.sub(r"[\s.]", "", marker).lower()
    if not word:
        return ""
    if word in _PM:
        return "pm"
    if word in _AM:
        return "am"
    if word.startswith("p"):
        return "pm"
    if word.startswith("a"):
        return "am"
    return ""


def _match_header(line: str) -> _Header | None:
    match = _IOS_LINE.match(line) or _ANDROID_LINE.match(line)
    if not match:
        return None
    hour, minute = int(match["h"]), int(match["m"])
    second = int(match["s"]) if match["s"] else 0
    meridiem = _meridiem((match["pre"] or "") + (match["ampm"] or ""))
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return None
    raw = (match["d1"], match["d2"], match["d3"])
    return _Header(raw, hour, minute, second, match["ampm"] or "", match["rest"])


def raw_to_date(raw: RawDate, order: str) -> date | None:
    """The date ``raw`` means in ``order`` ("dmy", "mdy", "ymd"), or None if it is not one."""
    fields = dict(zip(order, raw, strict=True))
    year = int(fields["y"])
    if len(fields["y"]) <= 2:
        year += 2000
    elif len(fields["y"]) != 4:
        return None
    try:
        return date(year, int(fields["m"]), int(fields["d"]))
    except ValueError:
        return None


def guess_date_order(dates: Sequence[RawDate], hints: Sequence[tuple[RawDate, date]] = ()) -> str:
    """Day/month order of a chat, from all its dates.

    A day above 12 settles it; otherwise the order under which attached notes' file names agree
    with their messages' dates, then the one that keeps messages in time order; day first when
    nothing tells (most of the world writes the day first).
    """
    if dates and all(len(raw[0]) == 4 for raw in dates):
        return "ymd"
    candidates = ("dmy", "mdy")

    def valid(order: str) -> int:
        return sum(raw_to_date(raw, order) is not None for raw in dates)

    def agreeing(order: str) -> int:
        return sum(raw_to_date(raw, order) == known for raw, known in hints)

    def in_order(order: str) -> int:
        parsed = [raw_to_date(raw, order) for raw in dates]
        seen = [d for d in parsed if d is not None]
        return sum(a <= b for a, b in itertools.pairwise(seen))

    return max(candidates, key=lambda o: (valid(o), agreeing(o), in_order(o), o == "dmy"))


def parse_chat(text: str, name: str = "") -> Chat:
    """Messages of an exported chat (Android or iOS, any language); unparseable lines are kept
    as continuations of the message before them."""
    headers: list[_Header] = []
    bodies: list[list[str]] = []
    for line in text.splitlines():
        header = _match_header(_strip_marks(line).lstrip())
        if header is not None:
            headers.append(header)
            bodies.append([header.rest])
        elif bodies:
            bodies[-1].append(line)
    hints = []
    for header, body in zip(headers, bodies, strict=True):
        for attached in _ATTACHMENT.findall("\n".join(body)):
            note = parse_note_name(attached)
            if note is not None:
                hints.append((header.raw, note.when.date()))
    order = guess_date_order([h.raw for h in headers], hints)
    messages = []
    for header, body in zip(headers, bodies, strict=True):
        day = raw_to_date(header.raw, order)
        if day is None:
            continue
        when = datetime(day.year, day.month, day.day, header.hour, header.minute, header.second)
        full = "\n".join(body)
        match = _SENDER.match(full)
        if match:
            sender, message = _strip_marks(match["sender"]).strip(), match["body"]
        else:
            sender, message = "", full
        messages.append(ChatMessage(when, sender, _strip_marks(message).strip()))
    return Chat(name=name, messages=tuple(messages), date_order=order)


_CHAT_PREFIX = re.compile(
    r"^(?:whatsapp[\s_-]*chat(?:[\s_-]+(?:with|mit|con|avec|com|met|med|con|z|ze|с|s))?"
    r"|chat\s+de\s+whatsapp\s+(?:con|avec|com)|conversa\s+do\s+whatsapp\s+com"
    r"|discussion\s+whatsapp\s+avec|chat\s+whatsapp\s+(?:con|mit))\s*[-–:]?\s*",
    re.I,
)


def chat_name_from(filename: str) -> str:
    """'WhatsApp Chat with Bob.txt' → 'Bob'; 'WhatsApp Chat - Family.zip' → 'Family'."""
    stem = Path(filename).stem if Path(filename).suffix.lower() in (".txt", ".zip") else filename
    stripped = _CHAT_PREFIX.sub("", stem, count=1).strip()
    return stripped or stem


# ---------------------------------------------------------------------------------------------
# Reading sources


@dataclass(frozen=True, slots=True)
class NoteFile:
    original_name: str  # as in the export or folder
    path: Path  # a readable copy or the original
    mtime: datetime | None


@dataclass(frozen=True, slots=True)
class ExportContents:
    chats: tuple[Chat, ...]
    notes: tuple[NoteFile, ...]


def _is_audio(name: str) -> bool:
    return Path(name).suffix.lower() in AUDIO_EXTENSIONS


def member_name(info: Any) -> str:
    """A zip member's name as the archiver meant it.

    Without the UTF-8 flag, zipfile decodes names as cp437; most archivers that leave the flag
    off still wrote UTF-8, so that is tried first.
    """
    name: str = info.filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("utf-8")
    return name


def _unsafe_reason(info: Any, name: str) -> str:
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized):
        return "an absolute path"
    if ".." in normalized.split("/"):
        return "a '..' path that points outside the archive"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if "\x00" in name:
        return "a NUL character in its name"
    return ""


def check_archive(
    infos: Sequence[Any],
    archive: Path,
    *,
    max_bytes: int = MAX_ARCHIVE_BYTES,
    max_ratio: float = MAX_COMPRESSION_RATIO,
) -> None:
    """Refuse archives with unsafe entries or bomb-like sizes before reading any member."""
    if len(infos) > MAX_ENTRIES:
        raise ArchiveError(f"{archive}: {len(infos)} entries is not a chat export; refusing it")
    total = 0
    for info in infos:
        name = member_name(info)
        reason = _unsafe_reason(info, name)
        if reason:
            raise ArchiveError(
                f"{archive}: entry '{name}' is {reason}; this is not a WhatsApp export, "
                "refusing to read it"
            )
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{archive}: entry '{name}' is encrypted; export the chat again")
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024**2 and ratio > max_ratio:
            raise ArchiveError(
                f"{archive}: entry '{name}' expands {ratio:.0f}× ({info.file_size} bytes); "
                "looks like a zip bomb, refusing to read it"
            )
    if total > max_bytes:
        raise ArchiveError(
            f"{archive}: would expand to {total} bytes, more than the {max_bytes} allowed; "
            "refusing to read it"
        )


def _copy_bounded(source: IO[bytes], target: IO[bytes], limit: int, what: str) -> int:
    copied = 0
    while chunk := source.read(1024 * 1024):
        copied += len(chunk)
        if copied > limit:
            raise ArchiveError(f"{what}: holds more data than its header says; refusing it")
        target.write(chunk)
    return copied


def read_zip_export(
    archive: Path,
    staging: Path,
    *,
    max_bytes: int = MAX_ARCHIVE_BYTES,
    max_ratio: float = MAX_COMPRESSION_RATIO,
) -> ExportContents:
    """Chats and voice notes of a chat export zip; notes are copied into ``staging`` under
    names chosen here, never the archive's."""
    import zipfile

    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{archive}: not a readable zip archive ({exc})") from exc
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        check_archive(infos, archive, max_bytes=max_bytes, max_ratio=max_ratio)
        chats: list[Chat] = []
        notes: list[NoteFile] = []
        budget = max_bytes
        for index, info in enumerate(infos):
            name = member_name(info)
            base = name.replace("\\", "/").rsplit("/", 1)[-1]
            if base.startswith("."):
                continue
            is_text = base.lower().endswith(".txt")
            if not (is_text or _is_audio(base)):
                continue  # photos, videos, stickers: not read at all
            limit = min(info.file_size, budget)
            what = f"{archive}: {name}"
            try:
                with zf.open(info) as member:
                    if is_text:
                        if info.file_size > MAX_CHAT_TEXT_BYTES:
                            raise ArchiveError(f"{what}: chat text too large")
                        data = member.read(limit + 1)
                        if len(data) > limit:
                            raise ArchiveError(f"{what}: holds more than its header says")
                        budget -= len(data)
                        chat_file = archive.name if base == "_chat.txt" else base
                        chat = parse_chat(_decode_text(data), chat_name_from(chat_file))
                        if chat.messages:
                            chats.append(chat)
                        continue
                    copy = staging / f"{index:06d}{Path(base).suffix.lower()}"
                    with copy.open("xb") as out:
                        budget -= _copy_bounded(member, out, limit, what)
            except (zipfile.BadZipFile, zlib_error(), EOFError) as exc:
                raise ArchiveError(f"{what}: damaged ({exc})") from exc
            mtime = None
            with contextlib.suppress(ValueError):
                mtime = datetime(*info.date_time)
            notes.append(NoteFile(base, copy, mtime))
    return ExportContents(tuple(chats), tuple(notes))


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


def _decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        with contextlib.suppress(UnicodeDecodeError):
            text = data.decode(encoding)
            if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
                continue
            return text
    return data.decode("latin-1")


def read_folder(folder: Path) -> ExportContents:
    """Chats and voice notes in an extracted export or a phone's voice-notes folder (recursive,
    hidden files skipped)."""
    chats: list[Chat] = []
    notes: list[NoteFile] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(p.startswith(".") for p in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() == ".txt" and path.stat().st_size <= MAX_CHAT_TEXT_BYTES:
            chat_file = folder.name if path.name == "_chat.txt" else path.name
            chat = parse_chat(_decode_text(path.read_bytes()), chat_name_from(chat_file))
            if chat.messages:
                chats.append(chat)
        elif _is_audio(path.name):
            mtime = datetime.fromtimestamp(path.stat().st_mtime)
            notes.append(NoteFile(path.name, path, mtime))
    return ExportContents(tuple(chats), tuple(notes))


# ---------------------------------------------------------------------------------------------
# Deciding names and tags


@dataclass(frozen=True, slots=True)
class PlannedNote:
    note: NoteFile
    when: datetime
    sender: str
    chat: str
    target_name: str


@dataclass(frozen=True, slots=True)
class ImportPlan:
    notes: tuple[PlannedNote, ...]
    duplicates: tuple[NoteFile, ...]  # same bytes as a note already planned
    missing: tuple[str, ...]  # attached in a chat but absent from the export


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _note_time(note: NoteFile, from_name: NoteName | None, message: ChatMessage | None) -> datetime:
    if from_name is not None and from_name.has_time:
        return from_name.when
    if message is not None:
        return message.when
    mtime = note.mtime.replace(microsecond=0) if note.mtime else None
    if from_name is not None:
        # Android names carry only the day; the file's own time is right when it agrees.
        same_day = mtime is not None and mtime.date() == from_name.when.date()
        return mtime if mtime is not None and same_day else from_name.when
    return mtime or datetime.now().replace(microsecond=0)


def plan_import(contents: ExportContents, *, extension: str | None) -> ImportPlan:
    """When, who and which output name for every distinct note.

    ``extension`` is the output's (".mp3"), or None to keep each note's own.
    """
    attached: dict[str, tuple[ChatMessage, str]] = {}
    for chat in contents.chats:
        for name, mention in chat.attachments().items():
            attached.setdefault(name, (mention, chat.name))
    seen: dict[str, NoteFile] = {}
    duplicates: list[NoteFile] = []
    # Notes a chat mentions first, so a duplicate keeps its sender.
    ordered = sorted(contents.notes, key=lambda n: (n.original_name.lower() not in attached,))
    for note in ordered:
        digest = _file_hash(note.path)
        if digest in seen:
            duplicates.append(note)
        else:
            seen[digest] = note
    planned: list[tuple[datetime, str, str, str, NoteFile]] = []
    for note in seen.values():
        from_name = parse_note_name(note.original_name)
        message: ChatMessage | None = None
        chat_name = ""
        if note.original_name.lower() in attached:
            message, chat_name = attached[note.original_name.lower()]
        when = _note_time(note, from_name, message)
        sender = message.sender if message is not None else ""
        planned.append((when, note.original_name.lower(), sender, chat_name, note))
    planned.sort(key=lambda p: (p[0], p[1]))
    taken: set[str] = set()
    notes: list[PlannedNote] = []
    for when, _, sender, chat_name, note in planned:
        who = safe_name_part(sender or Path(note.original_name).stem, max_bytes=80)
        ext = extension or Path(note.original_name).suffix.lower()
        stem = f"{when:%Y-%m-%d_%H-%M-%S} - {who}"
        name, counter = f"{stem}{ext}", 2
        while name.lower() in taken:
            name, counter = f"{stem} ({counter}){ext}", counter + 1
        taken.add(name.lower())
        notes.append(PlannedNote(note, when, sender, chat_name, name))
    present = {n.original_name.lower() for n in contents.notes}
    missing = tuple(sorted(name for name in attached if name not in present))
    return ImportPlan(tuple(notes), tuple(duplicates), missing)


def note_tags(planned: PlannedNote) -> Any:
    from capture.tags import Tags

    title = f"Voice note from {planned.sender}" if planned.sender else "Voice note"
    title += f", {planned.when:%Y-%m-%d %H:%M}"
    return Tags(
        title=title,
        artist=planned.sender,
        album=planned.chat,
        date=planned.when.isoformat(timespec="seconds"),
        comment=f"WhatsApp: {planned.note.original_name}",
    )


# ---------------------------------------------------------------------------------------------
# Importing


@dataclass(frozen=True, slots=True)
class ImportReport:
    batch: Any  # capture.batch.convert.BatchReport
    duplicates: tuple[NoteFile, ...] = ()
    missing: tuple[str, ...] = ()
    chats: tuple[str, ...] = field(default=())


def _keep_original(
    jobs: Sequence[Any], on_result: Callable[[Any], None] | None, cancel: threading.Event
) -> Any:
    """Copy each note's bytes unchanged, then tag the copy (tags touch only the header)."""
    from capture.batch.convert import BatchReport, ConversionResult, Outcome
    from capture.recording.atomic import atomic_output, output_error
    from capture.tags import write_tags

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
                if type(exc).__name__ == "DiskFullError":
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
    options: Any = None,
    on_plan: Callable[[ImportPlan], None] | None = None,
    on_result: Callable[[Any], None] | None = None,
    cancel: threading.Event | None = None,
) -> ImportReport:
    """Import every distinct voice note of ``source`` (zip, export folder or notes folder).

    Each becomes ``out_dir/YYYY-MM-DD_HH-MM-SS - Sender.mp3``, or with ``to="opus"`` a tagged
    copy of the original bytes.
    """
    from capture.batch.convert import ConversionJob, convert_batch

    if to not in ("mp3", "opus"):
        raise UsageError(f"--to {to}: choose mp3 or opus")
    if not source.exists():
        raise UsageError(f"{source}: no such file or folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from capture.recording.atomic import output_error

        raise output_error(out_dir / "x", exc) from exc
    cancel = cancel or threading.Event()
    staging = Path(tempfile.mkdtemp(prefix=".loopcap-import-", dir=out_dir))
    try:
        if source.is_dir():
            contents = read_folder(source)
        elif source.suffix.lower() == ".zip":
            contents = read_zip_export(source, staging)
        elif _is_audio(source.name):
            mtime = datetime.fromtimestamp(source.stat().st_mtime)
            contents = ExportContents((), (NoteFile(source.name, source, mtime),))
        else:
            raise UsageError(f"{source}: not a chat export (.zip), a folder or a voice note")
        plan = plan_import(contents, extension=".mp3" if to == "mp3" else None)
        if on_plan is not None:
            on_plan(plan)
        jobs = [
            ConversionJob(p.note.path, out_dir / p.target_name, note_tags(p)) for p in plan.notes
        ]
        if to == "mp3":
            batch = convert_batch(
                jobs, options=options, workers=workers, cancel=cancel, on_result=on_result
            )
        else:
            batch = _keep_original(jobs, on_result, cancel)
        return ImportReport(
            batch, plan.duplicates, plan.missing, tuple(c.name for c in contents.chats)
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Command line


def register_cli(subparsers: Subparsers) -> None:
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
        choices=("mp3", "opus"),
        default="mp3",
        help="mp3 (default) or opus: keep the original audio untouched, only add tags",
    )
    parser.add_argument("--jobs", type=int, metavar="N", help="notes converted at once")
    parser.set_defaults(handler=_run_cli)


def _run_cli(args: argparse.Namespace) -> int:
    from capture.batch.convert import BatchDisplay, Mp3Options, default_jobs, summary_lines
    from capture.recording.atomic import DiskFullError
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

    def on_result(result: Any) -> None:
        assert display is not None
        display.result(result)

    try:
        report = import_whatsapp(
            args.source,
            out_dir,
            to=args.to,
            workers=args.jobs or settings.convert.jobs or default_jobs(),
            options=options,
            on_plan=on_plan,
            on_result=on_result,
        )
    finally:
        if display is not None:
            display.close()
    lines = summary_lines(report.batch, noun="imported")
    lines[0] += f", {len(report.duplicates)} duplicates"
    if report.missing:
        lines[0] += f", {len(report.missing)} missing from the export"
    for line in lines:
        print(line)
    print(f"into {out_dir}")
    if report.batch.disk_full:
        raise DiskFullError(f"stopped: {report.batch.disk_full}")
    return 0 if report.batch.all_ok else 1
