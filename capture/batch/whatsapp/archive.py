"""Reading a chat export (.zip or extracted folder) or a folder of voice notes.

Archives are untrusted: member names are never used as paths (members are copied to names we
choose), an archive with an entry pointing outside itself is refused, and sizes and compression
ratios are bounded before anything is read.
"""

from __future__ import annotations

import contextlib
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from capture.batch.whatsapp.chat import Chat, chat_name_from, looks_like_chat_file, parse_chat
from capture.errors import ArchiveError, DiskFullError
from capture.recording.atomic import output_error

AUDIO_EXTENSIONS = frozenset({".opus", ".ogg", ".oga", ".m4a", ".mp3", ".aac", ".amr", ".wav"})

#: Bounds for untrusted archives. Real exports are audio (which does not compress) and text.
MAX_ARCHIVE_BYTES = 16 * 1024**3
MAX_COMPRESSION_RATIO = 100
MAX_ENTRIES = 200_000
MAX_CHAT_TEXT_BYTES = 512 * 1024**2
#: Entries up to this size are not judged alone by their ratio (a chat text compresses well).
SMALL_ENTRY_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class NoteFile:
    original_name: str  # as in the export or folder
    path: Path  # a readable copy or the original
    mtime: datetime | None


@dataclass(frozen=True, slots=True)
class ExportContents:
    chats: tuple[Chat, ...]
    notes: tuple[NoteFile, ...]
    #: Members that could not be read (damaged, or an unsupported compression), with why.
    unreadable: tuple[tuple[str, str], ...] = ()


def is_audio(name: str) -> bool:
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
    total = packed = 0
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
        packed += info.compress_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > SMALL_ENTRY_BYTES and ratio > max_ratio:
            raise ArchiveError(
                f"{archive}: entry '{name}' expands {ratio:.0f}× ({info.file_size} bytes); "
                "looks like a zip bomb, refusing to read it"
            )
    if total > max_bytes:
        raise ArchiveError(
            f"{archive}: would expand to {total} bytes, more than the {max_bytes} allowed; "
            "refusing to read it"
        )
    # Many small entries, each under the per-entry bound, add up: the whole archive is bounded too.
    ratio = total / max(packed, 1)
    if total > SMALL_ENTRY_BYTES and ratio > max_ratio:
        raise ArchiveError(
            f"{archive}: expands {ratio:.0f}× as a whole ({total} bytes from {packed}); "
            "looks like a zip bomb, refusing to read it"
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
        unreadable: list[tuple[str, str]] = []
        budget = max_bytes
        _check_room(infos, archive, staging)
        for index, info in enumerate(infos):
            name = member_name(info)
            base = name.replace("\\", "/").rsplit("/", 1)[-1]
            if base.startswith("."):
                continue
            is_text = base.lower().endswith(".txt")
            if not (is_text or is_audio(base)):
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
                        # Kept even when no line parsed: its notes are then reported, not
                        # silently left without sender and time.
                        chats.append(parse_chat(_decode_text(data), chat_name_from(chat_file)))
                        continue
                    copy = staging / f"{index:06d}{Path(base).suffix.lower()}"
                    with copy.open("xb") as out:
                        budget -= _copy_bounded(member, out, limit, what)
            except (zipfile.BadZipFile, zlib_error(), EOFError, NotImplementedError) as exc:
                unreadable.append((name, _why_unreadable(exc)))  # the others are still imported
                continue
            except OSError as exc:
                raise output_error(staging / base, exc) from exc
            notes.append(NoteFile(base, copy, _zip_time(info)))
    return ExportContents(tuple(chats), tuple(notes), tuple(unreadable))


def _why_unreadable(exc: Exception) -> str:
    if isinstance(exc, NotImplementedError):  # Deflate64 and others zipfile cannot unpack
        return f"{exc}; extract the archive with another tool and import the folder"
    return f"damaged ({exc})"


def _zip_time(info: Any) -> datetime | None:
    with contextlib.suppress(ValueError):
        return datetime(*info.date_time)
    return None


def _check_room(infos: Sequence[Any], archive: Path, staging: Path) -> None:
    """Refuse before copying when the notes cannot fit on the disk that holds ``staging``."""
    import shutil

    needed = sum(i.file_size for i in infos if is_audio(member_name(i)))
    try:
        free = shutil.disk_usage(staging).free
    except OSError:
        return
    if needed > free:
        raise DiskFullError(
            f"{archive}: its voice notes need {needed // 1024**2 + 1} MB but the disk holding "
            f"{staging.parent} has {free // 1024**2} MB free; free some space or choose "
            "another output folder"
        )


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
            # Any other text file in a folder counts only if it reads as a chat.
            if chat.messages or looks_like_chat_file(path.name):
                chats.append(chat)
        elif is_audio(path.name):
            mtime = datetime.fromtimestamp(path.stat().st_mtime)
            notes.append(NoteFile(path.name, path, mtime))
    return ExportContents(tuple(chats), tuple(notes))
