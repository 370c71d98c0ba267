"""The import plan: when each distinct note was sent, by whom, in which chat, under which name."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from capture.batch.whatsapp.archive import ExportContents, NoteFile
from capture.batch.whatsapp.chat import ChatMessage
from capture.batch.whatsapp.names import NoteName, parse_note_name, safe_name_part
from capture.tags import Tags


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
    # Notes of an export with chat text that no message of it names: no sender, and the time
    # only from the file's name or date. Empty when there is no chat text to expect it from.
    unattributed: tuple[str, ...] = ()


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
    unattributed: tuple[str, ...] = ()
    if contents.chats:
        unattributed = tuple(
            p.note.original_name for p in notes if p.note.original_name.lower() not in attached
        )
    return ImportPlan(tuple(notes), tuple(duplicates), missing, unattributed)


def note_tags(planned: PlannedNote) -> Tags:
    title = f"Voice note from {planned.sender}" if planned.sender else "Voice note"
    title += f", {planned.when:%Y-%m-%d %H:%M}"
    return Tags(
        title=title,
        artist=planned.sender,
        album=planned.chat,
        date=planned.when.isoformat(timespec="seconds"),
        comment=f"WhatsApp: {planned.note.original_name}",
    )
