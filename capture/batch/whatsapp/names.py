"""WhatsApp voice-note file names: the time they record, and names safe on every system.

Android names notes ``PTT-YYYYMMDD-WAnnnn.opus`` (the day only); iOS exports name them
``NNNNNNNN-AUDIO-YYYY-MM-DD-HH-MM-SS.opus``; WhatsApp Desktop saves ``WhatsApp Audio DATE at
TIME.opus``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

#: What imported notes can become: an audio format to convert to, or "opus" to keep each note's
#: own bytes (only tags added).
IMPORT_FORMATS = ("mp3", "m4a", "flac", "wav", "opus")


@dataclass(frozen=True, slots=True)
class NoteName:
    when: datetime
    has_time: bool  # Android names carry only the day


_NAME_PATTERNS: tuple[tuple[re.Pattern[str], bool], ...] = (
    # Android: PTT-20241202-WA0002.opus, AUD-20241202-WA0003.m4a
    (re.compile(r"^(?:PTT|AUD)-(\d{4})(\d{2})(\d{2})-WA\d+", re.I), False),
    # iOS exports: 00000028-AUDIO-2025-10-13-18-24-05.opus
    (re.compile(r"^\d+-AUDIO-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})", re.I), True),
    # older iOS exports (around 2016): 2016-03-14-AUDIO-00000012.opus, the day only
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})-AUDIO-\d+", re.I), False),
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
