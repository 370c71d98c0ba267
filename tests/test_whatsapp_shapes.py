"""Chat exports of many locales, platforms and eras (tests/whatsapp_shapes.py), each as a real zip
through a real import: every note gets its sender and time from the chat, none is unattributed.
And when a chat names no sender for a note: the summary lists it, --strict refuses the import."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from capture.batch.whatsapp.importer import import_whatsapp
from capture.batch.whatsapp.names import safe_name_part
from capture.batch.whatsapp.plan import ImportPlan
from capture.tags import read_tags
from tests._voice_notes import make_notes, require_tools
from tests.helpers import run_cli
from tests.whatsapp_shapes import SHAPES, Shape


@pytest.fixture(scope="session")
def two_notes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    require_tools()
    return make_notes(tmp_path_factory.mktemp("shape-notes"), 2, prefix="shape")


def export_zip(where: Path, shape: Shape, notes: list[Path]) -> Path:
    archive = where / shape.zip_name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(shape.chat_file, shape.text)
        for expected, audio in zip(shape.notes, notes, strict=False):
            zf.write(audio, expected.note)
    return archive


def test_at_least_twenty_shapes_each_with_a_source() -> None:
    assert len(SHAPES) >= 20
    assert len({s.name for s in SHAPES}) == len(SHAPES)
    assert all(s.source and s.notes for s in SHAPES)


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_shape_imports_with_sender_and_time(
    shape: Shape, two_notes: list[Path], tmp_path: Path
) -> None:
    archive = export_zip(tmp_path, shape, two_notes)
    out = tmp_path / "out"
    plans: list[ImportPlan] = []
    report = import_whatsapp(archive, out, to="opus", on_plan=plans.append, strict=True)
    assert report.batch.all_ok, report.batch.results
    assert plans[0].unattributed == ()
    for expected in shape.notes:
        name = f"{expected.when:%Y-%m-%d_%H-%M-%S} - {safe_name_part(expected.sender)}.opus"
        tags = read_tags(out / name)
        assert tags["artist"] == expected.sender
        assert tags["date"].replace(" ", "T") == expected.when.isoformat(timespec="seconds")
        assert tags["comment"] == f"WhatsApp: {expected.note}"
    assert len(list(out.iterdir())) == len(shape.notes)


UNNAMED = (
    "2/3/24, 9:16 AM - Bob: PTT-20240203-WA0001.opus (file attached)\n"
    "2/3/24, 9:20 AM - Bob: a voice note follows\n"
)


def test_notes_the_chat_does_not_name_are_listed_and_strict_refuses(
    two_notes: list[Path], tmp_path: Path
) -> None:
    archive = tmp_path / "WhatsApp Chat with Bob.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("WhatsApp Chat with Bob.txt", UNNAMED)
        zf.write(two_notes[0], "PTT-20240203-WA0001.opus")
        zf.write(two_notes[1], "PTT-20240203-WA0002.opus")  # no line names it
    out = tmp_path / "out"
    strict = run_cli(tmp_path, "import-whatsapp", archive, "--out", out, "--strict")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "PTT-20240203-WA0002.opus" in strict.stderr and "--strict" in strict.stderr
    assert len(strict.stderr.strip().splitlines()) == 1
    assert not out.exists() or not any(p.suffix == ".mp3" for p in out.iterdir())

    lenient = run_cli(tmp_path, "import-whatsapp", archive, "--out", out, "--to", "opus")
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "1 note without sender or time in the chat text" in lenient.stdout
    assert "  PTT-20240203-WA0002.opus" in lenient.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "2024-02-03_00-00-00 - PTT-20240203-WA0002.opus",
        "2024-02-03_09-16-00 - Bob.opus",
    ]


def test_a_chat_text_nothing_understood_is_not_silent(
    two_notes: list[Path], tmp_path: Path
) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("_chat.txt", "some future format we cannot read\n")
        zf.write(two_notes[0], "00000001-AUDIO-2025-01-02-03-04-05.opus")
    plans: list[ImportPlan] = []
    import_whatsapp(archive, tmp_path / "out", to="opus", on_plan=plans.append)
    assert plans[0].unattributed == ("00000001-AUDIO-2025-01-02-03-04-05.opus",)
