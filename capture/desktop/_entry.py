"""The Desktop Entry file format (freedesktop.org Desktop Entry Specification 1.5): pure text.

Only what loopcap writes and reads back: one ``[Desktop Entry]`` group of ``key=value`` lines, and
the ``Exec`` key's quoting. An ``Exec`` value is escaped twice: first as a command line (arguments
holding reserved characters in double quotes, with ``"`` `` ` `` ``$`` ``\\`` backslash-escaped
inside), then as a string value (``\\`` written ``\\\\``); a literal ``%`` is ``%%``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

GROUP = "[Desktop Entry]"
# Characters that make the specification require quoting an argument.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED_IN_QUOTES = set('"`$\\')
_STRING_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def exec_value(argv: Sequence[str]) -> str:
    """The ``Exec`` value that runs ``argv`` exactly (no field codes)."""
    words = []
    for arg in argv:
        if arg and not (_RESERVED & set(arg)):
            word = arg
        else:
            word = '"' + "".join("\\" + c if c in _ESCAPED_IN_QUOTES else c for c in arg) + '"'
        words.append(word.replace("%", "%%"))
    return " ".join(words).replace("\\", "\\\\")


def parse_exec(value: str) -> list[str]:
    """The argv an ``Exec`` value runs (field codes such as ``%f`` dropped), as a launcher would.

    Raises ValueError for a value the specification does not allow (an unclosed quote).
    """
    command = _unescape_string(value)
    argv: list[str] = []
    word: list[str] = []
    in_word = quoted = False
    chars = iter(command)
    for c in chars:
        if c == "%":  # a launcher expands field codes first, inside quotes too
            if next(chars, "") == "%":
                word.append("%")
                in_word = True
            # other field codes (%f %u %i %c %k ...) expand to nothing here
        elif quoted:
            quoted = c != '"'
            if quoted:
                word.append(_quoted_char(c, chars))
        elif c == '"':
            quoted = in_word = True
        elif c in " \t\n":
            if in_word:
                argv.append("".join(word))
                word, in_word = [], False
        else:
            word.append(c)
            in_word = True
    if quoted:
        raise ValueError(f"unclosed quote in Exec={value}")
    if in_word:
        argv.append("".join(word))
    return argv


def _quoted_char(c: str, rest: Iterator[str]) -> str:
    """One character inside double quotes: ``\\"`` and its kind stand for the character."""
    if c != "\\":
        return c
    nxt = next(rest, "")
    return nxt if nxt in _ESCAPED_IN_QUOTES else "\\" + nxt


def _unescape_string(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for c in chars:
        if c == "\\":
            nxt = next(chars, "")
            out.append(_STRING_ESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(c)
    return "".join(out)


def render(keys: Mapping[str, str]) -> str:
    """A desktop entry file: the group header, then each key in the order given."""
    lines = [GROUP]
    for key, value in keys.items():
        if "\n" in value:
            raise ValueError(f"{key}: a desktop entry value is one line")
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, str]:
    """The keys of the ``[Desktop Entry]`` group (raw values; comments and other groups skipped)."""
    keys: dict[str, str] = {}
    in_group = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            in_group = line == GROUP
            continue
        if in_group and "=" in line:
            key, _, value = line.partition("=")
            keys[key.strip()] = value.strip()
    return keys


def string_list(values: Sequence[str]) -> str:
    """A ``string(s)`` value: each item followed by ``;`` (a ``;`` inside an item escaped)."""
    return "".join(v.replace("\\", "\\\\").replace(";", "\\;") + ";" for v in values)


def parse_string_list(value: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    chars = iter(value)
    for c in chars:
        if c == "\\":
            nxt = next(chars, "")
            current.append(nxt if nxt in ";\\" else "\\" + nxt)
        elif c == ";":
            items.append("".join(current))
            current = []
        else:
            current.append(c)
    if current:
        items.append("".join(current))
    return items
