"""Fuzzing the chat-export parser (hypothesis): any text parses, in time linear in its length.

Each input has a time bound (hypothesis' deadline, far above what a linear parse needs even on a
loaded machine, far below what the old backtracking took); a one-megabyte line without spaces,
which took hours before, must parse within the test's timeout.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.batch.whatsapp.chat import find_attachments, parse_chat

# Pieces chat exports are made of, so the fuzzer reaches the parser's branches quickly.
PIECES = [
    "01/02/24, 10:00 - ",
    "[13/10/25, 18:24:05] ",
    "2024-12-02 15:12 - ",
    "12.3.24, 9:05 p. m. - ",
    "Bob: ",
    "Zoë Ä: ",
    "PTT-20241202-WA0002.opus",
    "00000028-AUDIO-2025-10-13-18-24-05.opus",
    " (file attached)",
    "<attached: ",
    ">",
    ".opus",
    ".mp3",
    ".",
    ":",
    "/",
    " ",
    "\n",
    "\r\n",
    "\u200e",
    "\u2028",
    "a",
    "9",
]
chat_text = st.lists(st.sampled_from(PIECES) | st.text(max_size=8), max_size=400).map("".join)

PER_INPUT = settings(max_examples=150, deadline=timedelta(seconds=5))


@PER_INPUT
@given(text=chat_text)
def test_any_chat_text_parses(text: str) -> None:
    chat = parse_chat(text, "fuzz")
    assert chat.date_order in ("dmy", "mdy", "ymd")
    for message in chat.messages:
        assert message.text == message.text.strip()
    attachments = chat.attachments()
    assert all(name == name.lower() for name in attachments)


@PER_INPUT
@given(
    text=st.lists(st.sampled_from(PIECES), max_size=20).map("".join),
    repeat=st.integers(1, 5_000),
)
def test_long_runs_without_spaces_parse_quickly(text: str, repeat: int) -> None:
    """Runs of name characters are where the old pattern backtracked."""
    parse_chat("01/02/24, 10:00 - Bob: " + (text.replace(" ", "_") * repeat)[:200_000])


# The pattern the parser used before: right, but quadratic. The new search must agree with it.
_OLD_ATTACHMENT = re.compile(
    r"([^\s<>:\"/\\|?*\u200e\u200f\uff1a]+\.(?:opus|ogg|oga|m4a|mp3|aac|amr|wav))(?![\w.])",
    re.I,
)


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=30).map("".join))
def test_attachments_are_found_as_before(text: str) -> None:
    assert find_attachments(text) == _OLD_ATTACHMENT.findall(text)


@pytest.mark.timeout(60)
def test_a_one_megabyte_line_parses() -> None:
    line = "01/02/24, 10:00 - Bob: " + "x" * 1_000_000 + ".opusx PTT-20241202-WA0002.opus"
    chat = parse_chat(line)
    assert list(chat.attachments()) == ["ptt-20241202-wa0002.opus"]
