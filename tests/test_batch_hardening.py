"""``convert`` and ``import-whatsapp`` against odd inputs: file names that are not UTF-8, an
input that an output would replace, FIFOs and link loops, crafted zips (many-entry bombs,
Deflate64, damaged members), a real SIGTERM, a real full disk. Real ffmpeg throughout."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests._voice_notes import duration, make_notes, require_tools, sha256
from tests.helpers import ROOT as REPO
from tests.helpers import cli_env
from tests.test_full_disk import SmallDisk, small_disk  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    require_tools()
    return make_notes(tmp_path_factory.mktemp("notes"), 4, prefix="hard")


def run(tmp: Path, *args: str | Path, timeout: float = 240) -> subprocess.CompletedProcess[bytes]:
    """The real CLI; output as bytes, since file names need not be UTF-8."""
    return subprocess.run(
        [sys.executable, "-m", "capture", *(os.fsencode(a) for a in args)],
        cwd=REPO,
        env=cli_env(tmp),
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[bytes]) -> str:
    stderr = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr
    return stderr


# -----------------------------------------------------------------------------------------------
# convert


def test_names_that_are_not_utf8_are_converted(notes: list[Path], tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    odd = os.fsdecode(b"caf\xe9 \xff.opus")  # Latin-1 bytes, as an old phone wrote them
    shutil.copy(notes[0], inbox / odd)
    shutil.copy(notes[1], inbox / "fine.opus")
    out = tmp_path / "out"
    result = run(tmp_path, "convert", inbox, "--out", out)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert b"2 converted" in result.stdout
    assert duration(out / os.fsdecode(b"caf\xe9 \xff.mp3")) > 1.0
    assert duration(out / "fine.mp3") > 1.0

    imported = tmp_path / "imported"
    result = run(tmp_path, "import-whatsapp", inbox, "--out", imported)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert len(list(imported.glob("*.mp3"))) == 2


def test_an_input_is_never_written_even_with_overwrite(notes: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "album"
    folder.mkdir()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", notes[0], folder / "song.wav"], check=True, timeout=60
    )
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", notes[1], folder / "song.mp3"], check=True, timeout=60
    )
    before = sha256(folder / "song.mp3")
    result = run(tmp_path, "convert", folder, "--overwrite")
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert sha256(folder / "song.mp3") == before, "the MP3 input is untouched"
    assert duration(folder / "song.wav.mp3") > 1.0, "the WAV went to a name of its own"


def test_fifos_and_link_loops_are_named_in_the_summary(notes: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    shutil.copy(notes[0], folder / "real.opus")
    os.mkfifo(folder / "pipe.opus")
    (folder / "loop.opus").symlink_to(folder / "loop.opus")
    result = run(tmp_path, "convert", folder, "--out", tmp_path / "out")
    stderr = no_traceback(result)
    everything = result.stdout.decode() + stderr
    assert "pipe.opus: skipped, a named pipe (FIFO)" in everything
    assert "loop.opus: skipped, a symbolic link loop" in everything
    assert "1 converted, 2 skipped" in everything
    assert result.returncode == 0


def test_a_255_byte_output_name_is_written(notes: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "long"
    folder.mkdir()
    name = "n" * 250 + ".opus"  # 255 bytes; its output is "n" * 250 + ".mp3"
    shutil.copy(notes[0], folder / name)
    result = run(tmp_path, "convert", folder)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert duration(folder / ("n" * 250 + ".mp3")) > 1.0


def _ffmpegs_writing_to(folder: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes()
            if b"ffmpeg" in cmdline and os.fsencode(folder) in cmdline:
                found.append(int(entry.name))
    return found


def test_sigterm_to_convert_leaves_no_part_files_nor_ffmpegs(
    notes: list[Path], tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        shutil.copy(notes[i % len(notes)], folder / f"n{i:02d}.opus")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "capture", "convert", str(folder), "--out", str(out), "--jobs", "2"],
        cwd=REPO,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (out.exists() and list(out.glob(".*.part"))):
        assert proc.poll() is None and time.monotonic() < deadline, "no ffmpeg started"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert b"Traceback" not in stderr, stderr
    assert list(out.glob(".*.part")) == [], "no temporary file left"
    time.sleep(0.5)
    assert _ffmpegs_writing_to(out) == [], "no ffmpeg left running"


# -----------------------------------------------------------------------------------------------
# import-whatsapp: crafted archives


def test_a_bomb_of_many_small_entries_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for i in range(60):  # each exactly 1 MiB: under the per-entry bound of before
            zf.writestr(f"PTT-20240101-WA{i:04d}.opus", b"\0" * 1024**2)
    assert archive.stat().st_size < 200_000
    out = tmp_path / "out"
    result = run(tmp_path, "import-whatsapp", archive, "--out", out)
    stderr = no_traceback(result)
    assert result.returncode == 1
    assert "zip bomb" in stderr and "bomb.zip" in stderr
    assert not out.exists() or list(out.rglob("*.opus")) == []


def _set_method(archive: Path, member: str, method: int) -> None:
    """Rewrite ``member``'s compression method in both headers (zipfile cannot write Deflate64)."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    local = info.header_offset
    assert data[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<H", data, local + 8, method)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_length] == member.encode():
            struct.pack_into("<H", data, central + 10, method)
            archive.write_bytes(bytes(data))
            return
        central = data.find(b"PK\x01\x02", central + 4)
    raise AssertionError(f"{member} not in the central directory")


def _corrupt_data(archive: Path, member: str) -> None:
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    for i in range(start + 100, start + 400):
        data[i] ^= 0x5A
    archive.write_bytes(bytes(data))


@pytest.fixture
def export_with_three(notes: list[Path], tmp_path: Path) -> Path:
    archive = tmp_path / "WhatsApp Chat with Bob.zip"
    chat = "".join(
        f"02/01/24, 10:0{i} - Bob: PTT-20240102-WA000{i}.opus (file attached)\n" for i in range(3)
    )
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("WhatsApp Chat with Bob.txt", chat)
        for i in range(3):
            zf.write(notes[i], f"PTT-20240102-WA000{i}.opus")
    return archive


def test_deflate64_and_damaged_members_are_named_and_the_rest_imported(
    export_with_three: Path, tmp_path: Path
) -> None:
    _set_method(export_with_three, "PTT-20240102-WA0001.opus", 9)  # Deflate64
    _corrupt_data(export_with_three, "PTT-20240102-WA0002.opus")
    out = tmp_path / "out"
    result = run(tmp_path, "import-whatsapp", export_with_three, "--out", out)
    no_traceback(result)
    stdout = result.stdout.decode()
    assert result.returncode == 1
    assert "1 imported" in stdout and "2 unreadable" in stdout
    assert "PTT-20240102-WA0001.opus: That compression method is not supported" in stdout
    assert "PTT-20240102-WA0002.opus: damaged" in stdout
    assert len(list(out.glob("*.mp3"))) == 1


def test_a_failing_note_is_named_as_the_archives_member(notes: list[Path], tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(notes[0], "PTT-20240102-WA0000.opus")
        zf.writestr("PTT-20240102-WA0001.opus", b"OggS" + bytes(range(256)) * 20)
    result = run(tmp_path, "import-whatsapp", archive, "--out", tmp_path / "out")
    everything = result.stdout.decode() + no_traceback(result)
    assert result.returncode == 1
    assert "export.zip: PTT-20240102-WA0001.opus" in everything
    assert ".loopcap-import-" not in everything, everything


def test_an_import_that_cannot_fit_says_so_in_one_line(
    export_with_three: Path,
    tmp_path: Path,
    small_disk: SmallDisk,  # noqa: F811
) -> None:
    small_disk.fill(leave=20_000)
    result = run(tmp_path, "import-whatsapp", export_with_three, "--out", small_disk.mount / "o")
    stderr = no_traceback(result)
    assert result.returncode == 1
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "free" in stderr and str(small_disk.mount) in stderr
