"""Exported chat text: messages, their senders and times, and the voice notes they attach.

Android exports ``WhatsApp Chat with NAME.txt`` with lines like
``02/12/24, 15:12 - Bob: PTT-20241202-WA0002.opus (file attached)``; iOS exports ``_chat.txt``
with lines like ``[13/10/25, 18:24:05] Bob: <attached: 00000028-AUDIO-2025-10-13-18-24-05.opus>``.
Words, date order and clocks follow the phone's language, so the parser keys on shapes
(timestamps, file names) rather than words, and guesses day/month order from every date in the
file.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from capture.batch.whatsapp.names import parse_note_name


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
            for name in find_attachments(message.text):
                found.setdefault(name.lower(), message)
        return found


_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
_DATE = r"(?P<d1>\d{1,4})[./-]\s?(?P<d2>\d{1,2})[./-]\s?(?P<d3>\d{1,4})\.?"
_TIME = r"(?P<pre>[^\W\d_]{1,8}\.?\s?)?(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:[:.](?P<s>\d{2}))?"
_IOS_LINE = re.compile(rf"^\[{_DATE},?\s{_TIME}\s?(?P<ampm>[^\]\d]{{0,12}}?)\]\s?(?P<rest>.*)$")
_ANDROID_LINE = re.compile(
    rf"^{_DATE},?\s{_TIME}\s?(?P<ampm>[^\d\-–\]]{{0,12}}?)\s[-–]\s(?P<rest>.*)$"
)
# Older exports (iOS around 2014-2016): neither brackets nor " - ", the time ends with ": ".
_LEGACY_LINE = re.compile(rf"^{_DATE},?\s{_TIME}\s?(?P<ampm>[^\d:\-–\]]{{0,12}}?):\s(?P<rest>.*)$")
#: Digits and punctuation of other scripts, as ASCII: Arabic-Indic and Persian digits, the
#: Arabic comma; no-break spaces (iOS puts U+202F before AM/PM) as plain spaces.
_TO_ASCII = {
    **{0x0660 + i: str(i) for i in range(10)},
    **{0x06F0 + i: str(i) for i in range(10)},
    0x060C: ",",
    0x00A0: " ",
    0x202F: " ",
    0x2009: " ",
}
# "Sender: text"; some exports write "Sender:text" (not before a digit: "at 12:30" is no sender).
_SENDER = re.compile(r"^(?P<sender>[^:]{1,120}?):(?:\s|(?=[^\d\s/]))(?P<body>.*)$", re.S)
# An attached file's name is a run of characters that file names may hold, ending in an audio
# extension. Found in two linear steps (runs, then the extension's place in each), because one
# pattern like ``[^\s…]+\.(?:opus|…)`` backtracks over the whole run from every start: a long
# line without spaces took minutes.
_NAME_RUN = re.compile(r"[^\s<>:\"/\\|?*\u200e\u200f\uff1a]+")
_AUDIO_END = re.compile(r"\.(?:opus|ogg|oga|m4a|mp3|aac|amr|wav)(?![\w.])", re.I)


def find_attachments(text: str) -> list[str]:
    """Audio file names in a message, in order: the longest name each run of name characters
    ends with at an audio extension (``PTT-20241202-WA0002.opus`` in ``…: PTT-….opus (file``)."""
    found = []
    for run in _NAME_RUN.finditer(text):
        word = run.group()
        end = 0
        for extension in _AUDIO_END.finditer(word):
            if extension.start() > 0:  # a name before the dot
                end = extension.end()
        if end:
            found.append(word[:end])
    return found


# Compared without spaces and dots ("p. m." is "pm", Persian "ب.ظ" is "بظ").
_PM = frozenset({"pm", "p", "nachm", "ip", "下午", "午後", "오후", "μμ", "م", "بظ", "ч"})
_AM = frozenset({"am", "a", "vorm", "ap", "上午", "午前", "오전", "πμ", "ص", "قظ"})

RawDate = tuple[str, str, str]


@dataclass(slots=True)
class _Header:
    raw: RawDate
    hour: int
    minute: int
    second: int
    marker: str
    rest: str


_STRIP_MARKS = {ord(c): None for c in _MARKS}
_HEADER_TABLE = {**_STRIP_MARKS, **_TO_ASCII}


def _strip_marks(text: str) -> str:
    return text.translate(_STRIP_MARKS)


def _header_text(line: str) -> str:
    """A chat line as the header patterns read it: no direction marks, ASCII digits."""
    return line.translate(_HEADER_TABLE).lstrip()


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
    match = _IOS_LINE.match(line) or _ANDROID_LINE.match(line) or _LEGACY_LINE.match(line)
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
        header = _match_header(_header_text(line))
        if header is not None:
            headers.append(header)
            bodies.append([header.rest])
        elif bodies:
            bodies[-1].append(line)
    hints = []
    for header, body in zip(headers, bodies, strict=True):
        for attached in find_attachments("\n".join(body)):
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


def looks_like_chat_file(filename: str) -> bool:
    """``_chat.txt`` or a name like 'WhatsApp Chat with Bob.txt' (in any known language)."""
    return filename == "_chat.txt" or _CHAT_PREFIX.match(Path(filename).stem) is not None


def chat_name_from(filename: str) -> str:
    """'WhatsApp Chat with Bob.txt' → 'Bob'; 'WhatsApp Chat - Family.zip' → 'Family'."""
    stem = Path(filename).stem if Path(filename).suffix.lower() in (".txt", ".zip") else filename
    stripped = _CHAT_PREFIX.sub("", stem, count=1).strip()
    return stripped or stem
