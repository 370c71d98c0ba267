"""`loopcap import-whatsapp` on exports built here: Android and iOS, two locales each, lossless
Opus, untrusted zips; and the pure parsing underneath (chat lines, date order, safe names)."""

from __future__ import annotations

import os
import shutil
import stat
import unicodedata
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capture.batch.whatsapp.archive import member_name
from capture.batch.whatsapp.chat import chat_name_from, guess_date_order, parse_chat
from capture.batch.whatsapp.names import parse_note_name, safe_name_part
from capture.tags import read_tags
from tests._voice_notes import duration, make_notes, packet_hashes, require_tools
from tests.helpers import run_cli
from tests.rig import best_alignment, decode_to_array

LRM = "\u200e"
NNBSP = "\u202f"


@pytest.fixture(scope="session")
def pool(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    require_tools()
    return make_notes(tmp_path_factory.mktemp("pool"), 12, prefix="wa")


def build_export(
    where: Path, chat_file: str, chat_text: str, notes: dict[str, Path], *, as_zip: str = ""
) -> Path:
    """An export with ``chat_text`` in ``chat_file`` and each note under its WhatsApp name:
    a zip named ``as_zip``, or an extracted folder when that is empty."""
    if as_zip:
        archive = where / as_zip
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(chat_file, chat_text)
            for name, source in notes.items():
                zf.write(source, name)
        return archive
    folder = where / "export"
    folder.mkdir()
    (folder / chat_file).write_text(chat_text, encoding="utf-8")
    for name, source in notes.items():
        shutil.copy(source, folder / name)
    return folder


def imported(out: Path) -> dict[str, dict[str, str]]:
    """Tags of every imported file by name, dates normalized to ISO 'T' form."""
    found = {}
    for path in sorted(out.iterdir()):
        tags = read_tags(path)
        tags["date"] = tags.get("date", "").replace(" ", "T")
        found[path.name] = tags
    return found


ANDROID_US = (
    "12/2/24, 3:00\u202fPM - Messages and calls are end-to-end encrypted. No one outside of "
    "this chat can read or listen to them.\n"
    "12/2/24, 3:12\u202fPM - Bob: PTT-20241202-WA0002.opus (file attached)\n"
    "12/2/24, 3:13\u202fPM - Alice Müller: hey, listen to this\n"
    "it is a long one: 10/11/12\n"
    "12/2/24, 9:05\u202fPM - Alice Müller: PTT-20241202-WA0003.opus (file attached)\n"
    "12/3/24, 12:01\u202fAM - Bob: PTT-20241203-WA0000.opus (file attached)\n"
    "12/3/24, 12:02\u202fAM - Bob: <Media omitted>\n"
)


def test_android_us_export(pool: list[Path], tmp_path: Path) -> None:
    notes = {
        "PTT-20241202-WA0002.opus": pool[0],
        "PTT-20241202-WA0003.opus": pool[1],
        "PTT-20241203-WA0000.opus": pool[2],
        "PTT-20241203-WA0001.opus": pool[2],  # the same note saved twice
    }
    archive = build_export(
        tmp_path,
        "WhatsApp Chat with Family.txt",
        ANDROID_US,
        notes,
        as_zip="WhatsApp Chat with Family.zip",
    )
    out = tmp_path / "out"
    result = run_cli(tmp_path, "import-whatsapp", archive, "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 imported" in result.stdout and "1 duplicates" in result.stdout
    got = imported(out)
    assert set(got) == {
        "2024-12-02_15-12-00 - Bob.mp3",
        "2024-12-02_21-05-00 - Alice Müller.mp3",
        "2024-12-03_00-01-00 - Bob.mp3",
    }
    bob = got["2024-12-02_15-12-00 - Bob.mp3"]
    assert (bob["artist"], bob["date"], bob["album"]) == ("Bob", "2024-12-02T15:12:00", "Family")
    assert got["2024-12-02_21-05-00 - Alice Müller.mp3"]["artist"] == "Alice Müller"
    assert got["2024-12-03_00-01-00 - Bob.mp3"]["date"] == "2024-12-03T00:01:00"
    assert abs(duration(out / "2024-12-02_15-12-00 - Bob.mp3") - duration(pool[0])) <= 0.1
    # Importing again adds nothing.
    again = run_cli(tmp_path, "import-whatsapp", archive, "--out", out)
    assert "0 imported, 3 skipped" in again.stdout
    assert len(list(out.iterdir())) == 3


ANDROID_ES = (
    "2/12/24, 3:10 p. m. - Los mensajes y las llamadas están cifrados de extremo a extremo.\n"
    "2/12/24, 3:12 p. m. - Ana: PTT-20241202-WA0010.opus (archivo adjunto)\n"
    "14/12/24, 10:30 a. m. - Carlos Pérez: PTT-20241214-WA0011.opus (archivo adjunto)\n"
    "14/12/24, 12:15 p. m. - Ana: PTT-20241214-WA0012.opus (archivo adjunto)\n"
)


def test_android_spanish_export_12h(pool: list[Path], tmp_path: Path) -> None:
    notes = {
        "PTT-20241202-WA0010.opus": pool[3],
        "PTT-20241214-WA0011.opus": pool[4],
        "PTT-20241214-WA0012.opus": pool[5],
    }
    archive = build_export(
        tmp_path, "Chat de WhatsApp con Ana.txt", ANDROID_ES, notes, as_zip="chat.zip"
    )
    out = tmp_path / "out"
    result = run_cli(tmp_path, "import-whatsapp", archive, "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    got = imported(out)
    assert {name: (t["artist"], t["date"], t["album"]) for name, t in got.items()} == {
        "2024-12-02_15-12-00 - Ana.mp3": ("Ana", "2024-12-02T15:12:00", "Ana"),
        "2024-12-14_10-30-00 - Carlos Pérez.mp3": ("Carlos Pérez", "2024-12-14T10:30:00", "Ana"),
        "2024-12-14_12-15-00 - Ana.mp3": ("Ana", "2024-12-14T12:15:00", "Ana"),
    }


IOS_US = (
    f"[10/13/25, 6:00:00 PM] Book Club: {LRM}Messages and calls are end-to-end encrypted.\n"
    f"{LRM}[10/13/25, 6:24:05 PM] Bob: {LRM}<attached: 00000028-AUDIO-2025-10-13-18-24-05.opus>\n"
    "[10/14/25, 9:02:11 AM] Zoë: see you\n"
    f"{LRM}[10/14/25, 9:03:40 AM] Zoë: {LRM}<attached: 00000031-AUDIO-2025-10-14-09-03-40.opus>\n"
)


def test_ios_us_export_and_lossless_opus(pool: list[Path], tmp_path: Path) -> None:
    notes = {
        "00000028-AUDIO-2025-10-13-18-24-05.opus": pool[6],
        "00000031-AUDIO-2025-10-14-09-03-40.opus": pool[7],
    }
    archive = build_export(
        tmp_path, "_chat.txt", IOS_US, notes, as_zip="WhatsApp Chat - Book Club.zip"
    )
    out = tmp_path / "out"
    result = run_cli(tmp_path, "import-whatsapp", archive, "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    got = imported(out)
    assert {name: (t["artist"], t["date"], t["album"]) for name, t in got.items()} == {
        "2025-10-13_18-24-05 - Bob.mp3": ("Bob", "2025-10-13T18:24:05", "Book Club"),
        "2025-10-14_09-03-40 - Zoë.mp3": ("Zoë", "2025-10-14T09:03:40", "Book Club"),
    }

    opus_out = tmp_path / "opus"
    result = run_cli(tmp_path, "import-whatsapp", archive, "--out", opus_out, "--to", "opus")
    assert result.returncode == 0, result.stdout + result.stderr
    kept = opus_out / "2025-10-13_18-24-05 - Bob.opus"
    assert packet_hashes(kept) == packet_hashes(pool[6])
    assert len(packet_hashes(kept)) > 10
    tags = read_tags(kept)
    assert (tags["artist"], tags["date"], tags["album"]) == (
        "Bob",
        "2025-10-13T18:24:05",
        "Book Club",
    )
    assert packet_hashes(opus_out / "2025-10-14_09-03-40 - Zoë.opus") == packet_hashes(pool[7])


@pytest.mark.parametrize("fmt", ["m4a", "flac", "wav"])
def test_import_to_other_formats_tags_each_note(pool: list[Path], tmp_path: Path, fmt: str) -> None:
    """An iPhone user wants M4A, an archivist FLAC: same names and tags, real audio of each note."""
    notes = {"00000028-AUDIO-2025-10-13-18-24-05.opus": pool[6]}
    archive = build_export(
        tmp_path, "_chat.txt", IOS_US, notes, as_zip="WhatsApp Chat - Book Club.zip"
    )
    out = tmp_path / fmt
    result = run_cli(tmp_path, "import-whatsapp", archive, "--out", out, "--to", fmt)
    assert result.returncode == 0, result.stdout + result.stderr
    got = imported(out)
    assert {name: (t["artist"], t["date"], t["album"]) for name, t in got.items()} == {
        f"2025-10-13_18-24-05 - Bob.{fmt}": ("Bob", "2025-10-13T18:24:05", "Book Club"),
    }
    converted = out / f"2025-10-13_18-24-05 - Bob.{fmt}"
    assert duration(converted) == pytest.approx(duration(pool[6]), abs=0.1)
    heard = decode_to_array(converted, rate=16000)
    _offset, score = best_alignment(heard, decode_to_array(pool[6], rate=16000))
    assert score >= 0.95, f"{fmt}: the note's own audio ({score:.3f})"


IOS_DE = (
    f"[13.10.25, 18:00:00] Familie: {LRM}Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt.\n"
    f"{LRM}[13.10.25, 18:24:05] Jürgen: {LRM}<Anhang: 00000040-AUDIO-2025-10-13-18-24-05.opus>\n"
    "[02.11.25, 07:15:00] Oma: Guten Morgen\nwie geht's?\n"
    f"{LRM}[02.11.25, 07:16:30] Oma: {LRM}<Anhang: 00000041-AUDIO-2025-11-02-07-16-30.opus>\n"
)


def test_ios_german_extracted_folder(pool: list[Path], tmp_path: Path) -> None:
    notes = {
        "00000040-AUDIO-2025-10-13-18-24-05.opus": pool[8],
        "00000041-AUDIO-2025-11-02-07-16-30.opus": pool[9],
    }
    folder = build_export(tmp_path, "_chat.txt", IOS_DE, notes)
    folder = folder.rename(tmp_path / "WhatsApp Chat - Familie")
    out = tmp_path / "out"
    result = run_cli(tmp_path, "import-whatsapp", folder, "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    got = imported(out)
    assert {name: (t["artist"], t["date"], t["album"]) for name, t in got.items()} == {
        "2025-10-13_18-24-05 - Jürgen.mp3": ("Jürgen", "2025-10-13T18:24:05", "Familie"),
        "2025-11-02_07-16-30 - Oma.mp3": ("Oma", "2025-11-02T07:16:30", "Familie"),
    }


def test_android_voice_notes_folder(pool: list[Path], tmp_path: Path) -> None:
    """A phone's 'WhatsApp Voice Notes' folder: weekly sub-folders, no chat text."""
    root = tmp_path / "WhatsApp Voice Notes"
    first = root / "202449" / "PTT-20241202-WA0002.opus"
    second = root / "202450" / "PTT-20241209-WA0000.opus"
    for path, source in ((first, pool[10]), (second, pool[11])):
        path.parent.mkdir(parents=True)
        shutil.copy(source, path)
    stamp = datetime(2024, 12, 2, 15, 12, 33).timestamp()
    os.utime(first, (stamp, stamp))  # same day as the name: the file's time is the note's
    out = tmp_path / "out"
    result = run_cli(tmp_path, "import-whatsapp", root, "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "2024-12-02_15-12-33 - PTT-20241202-WA0002.mp3",
        "2024-12-09_00-00-00 - PTT-20241209-WA0000.mp3",
    ]
    assert read_tags(out / names[0])["date"].replace(" ", "T") == "2024-12-02T15:12:33"


# ---------------------------------------------------------------------------------------------
# Untrusted archives


def _files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _hostile(tmp_path: Path, kind: str, note: Path) -> Path:
    archive = tmp_path / f"{kind}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("_chat.txt", "[13/10/25, 18:24:05] Bob: hi\n")
        zf.write(note, "00000028-AUDIO-2025-10-13-18-24-05.opus")
        if kind == "slip":
            zf.write(note, "../../evil.opus")
        elif kind == "absolute":
            zf.writestr(zipfile.ZipInfo(str(tmp_path / "abs-evil.opus")), note.read_bytes())
        elif kind == "symlink":
            link = zipfile.ZipInfo("PTT-20241202-WA0009.opus")
            link.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(link, "/etc/passwd")
        elif kind == "bomb":
            zf.writestr("PTT-20241202-WA0001.opus", bytes(60 * 1024**2))
    # The archive really holds what it is named after (zipfile could have cleaned a name up).
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    if kind == "slip":
        assert "../../evil.opus" in names
    elif kind == "absolute":
        assert any(n.startswith("/") for n in names), names
    elif kind == "symlink":
        assert any(stat.S_ISLNK(i.external_attr >> 16) for i in infos)
    elif kind == "bomb":
        assert any(i.file_size > 100 * max(i.compress_size, 1) for i in infos)
    return archive


@pytest.mark.parametrize("kind", ["slip", "absolute", "symlink", "bomb"])
def test_hostile_zip_is_refused(kind: str, pool: list[Path], tmp_path: Path) -> None:
    archive = _hostile(tmp_path, kind, pool[0])
    out = tmp_path / "a" / "b" / "out"
    before = _files_under(tmp_path)
    result = run_cli(tmp_path, "import-whatsapp", archive, "--out", out)
    assert result.returncode != 0
    assert "refusing" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1  # one clear line
    created = _files_under(tmp_path) - before
    # Only the --out folder (and its parents) may appear, and it stays empty.
    assert created <= {"a", "a/b", "a/b/out", "config", "state"}, created
    assert not list(out.iterdir())
    assert not (tmp_path / "abs-evil.opus").exists()
    assert not (tmp_path.parent / "evil.opus").exists()


def test_zip_names_in_legacy_encoding() -> None:
    info = zipfile.ZipInfo("x")
    info.filename = "WhatsApp Chat with Zoë.txt".encode().decode("cp437")
    info.flag_bits = 0
    assert member_name(info) == "WhatsApp Chat with Zoë.txt"
    legacy = zipfile.ZipInfo("x")
    legacy.filename = "Gr\x81\xe1e.txt".encode("latin-1").decode("cp437")  # real cp437 bytes
    legacy.flag_bits = 0
    assert member_name(legacy) == legacy.filename  # not UTF-8: kept as cp437 decoded it


# ---------------------------------------------------------------------------------------------
# Pure parsing


def test_parse_note_names() -> None:
    android = parse_note_name("PTT-20241202-WA0002.opus")
    assert android is not None and android.when == datetime(2024, 12, 2) and not android.has_time
    ios = parse_note_name("00000028-AUDIO-2025-10-13-18-24-05.opus")
    assert ios is not None and ios.when == datetime(2025, 10, 13, 18, 24, 5) and ios.has_time
    desktop = parse_note_name("WhatsApp Audio 2023-07-15 at 10.23.45.opus")
    assert desktop is not None and desktop.when == datetime(2023, 7, 15, 10, 23, 45)
    assert parse_note_name("holiday.opus") is None
    assert parse_note_name("PTT-20241399-WA0002.opus") is None


def test_parse_chat_lines_and_continuations() -> None:
    chat = parse_chat(ANDROID_US, "Family")
    assert chat.date_order == "mdy"  # every day <= 12: settled by the notes' own names
    senders = [m.sender for m in chat.messages]
    assert senders == ["", "Bob", "Alice Müller", "Alice Müller", "Bob", "Bob"]
    assert chat.messages[2].text == "hey, listen to this\nit is a long one: 10/11/12"
    attachments = chat.attachments()
    assert attachments["ptt-20241202-wa0003.opus"].when == datetime(2024, 12, 2, 21, 5)
    ios = parse_chat(IOS_DE)
    assert ios.date_order == "dmy"
    assert ios.attachments()["00000041-audio-2025-11-02-07-16-30.opus"].sender == "Oma"
    twelve = parse_chat("[1/2/25, 12:30:00 AM] A: x\n[1/2/25, 12:30:00 PM] A: y\n")
    assert [m.when.hour for m in twelve.messages] == [0, 12]
    korean = parse_chat("2025. 1. 2. 오후 3:04 - 민수: PTT-20250102-WA0001.opus\n")
    assert korean.messages[0].when == datetime(2025, 1, 2, 15, 4)


def test_chat_names() -> None:
    assert chat_name_from("WhatsApp Chat with Bob.txt") == "Bob"
    assert chat_name_from("WhatsApp Chat mit Oma & Opa.txt") == "Oma & Opa"
    assert chat_name_from("Chat de WhatsApp con Ana.txt") == "Ana"
    assert chat_name_from("WhatsApp Chat - Book Club.zip") == "Book Club"
    assert chat_name_from("Holiday") == "Holiday"


_ORDERS = {"dmy": "{d}/{m}/{y}", "mdy": "{m}/{d}/{y}"}


@given(
    days=st.lists(st.dates(date(2010, 1, 1), date(2035, 12, 31)), min_size=1, max_size=40),
    order=st.sampled_from(["dmy", "mdy"]),
    four_digits=st.booleans(),
)
def test_date_order_guess_with_a_telling_day(
    days: list[date], order: str, four_digits: bool
) -> None:
    days = sorted(days)
    if not any(d.day > 12 for d in days):
        days.append(date(2036, 1, 13))

    def raw(d: date) -> tuple[str, str, str]:
        year = str(d.year if four_digits else d.year % 100)
        text = _ORDERS[order].format(d=d.day, m=d.month, y=year)
        a, b, c = text.split("/")
        return a, b, c

    assert guess_date_order([raw(d) for d in days]) == order


@given(
    day=st.dates(date(2010, 1, 1), date(2035, 12, 31)).filter(
        lambda d: d.day <= 12 and d.day != d.month
    ),
    order=st.sampled_from(["dmy", "mdy"]),
)
def test_date_order_guess_from_note_names(day: date, order: str) -> None:
    text = _ORDERS[order].format(d=day.day, m=day.month, y=day.year % 100)
    a, b, c = text.split("/")
    assert guess_date_order([(a, b, c)], hints=[((a, b, c), day)]) == order


_FORBIDDEN = set('<>:"/\\|?*')


@given(st.text(max_size=300), st.integers(min_value=8, max_value=200))
def test_safe_name_part_is_always_safe(text: str, max_bytes: int) -> None:
    name = safe_name_part(text, max_bytes=max_bytes)
    assert name
    assert not _FORBIDDEN & set(name)
    assert all(unicodedata.category(c)[0] != "C" for c in name)
    assert name == name.strip(" .")
    assert name not in (".", "..")
    assert len(name.encode("utf-8")) <= max(max_bytes, len("unknown"))
    assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}
    assert Path(name).name == name
    assert safe_name_part(name, max_bytes=max_bytes) == name


def test_safe_name_part_examples() -> None:
    assert safe_name_part("Bob: the <builder>?") == "Bob_ the _builder__"
    assert safe_name_part(f"{LRM}+49 151 2345678{LRM}") == "+49 151 2345678"
    assert safe_name_part("CON") == "_CON"
    assert safe_name_part("..") == "unknown"
    assert safe_name_part("") == "unknown"
