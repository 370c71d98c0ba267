"""`loopcap convert` with real ffmpeg: batch results, bad inputs, Ctrl+C, full disk."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capture.batch.convert import (
    ConversionJob,
    ConversionResult,
    Mp3Options,
    Outcome,
    convert_batch,
    parse_bitrate,
    plan_conversions,
)
from capture.errors import UsageError
from capture.tags import read_tags
from tests._voice_notes import (
    FFMPEG,
    codec,
    duration,
    make_notes,
    require_tools,
    tree_hashes,
)
from tests.helpers import ROOT, cli_env, run_cli

NON_ASCII = "Ñandú café – 日本語 voz.opus"


@pytest.fixture(scope="session")
def notes_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 generated voice notes, a corrupt one, an empty one, a text file, a non-ASCII name."""
    require_tools()
    folder = tmp_path_factory.mktemp("inbox")
    notes = make_notes(folder, 30)
    shutil.copy(notes[0], folder / NON_ASCII)
    data = notes[1].read_bytes()
    # Corrupt: the Ogg header survives, the audio pages are garbage.
    (folder / "corrupt.opus").write_bytes(data[:200] + bytes(range(256)) * 40)
    (folder / "empty.opus").write_bytes(b"")
    (folder / "readme.txt").write_text("not audio at all\n", encoding="utf-8")
    return folder


def test_batch_converts_good_files_and_names_bad_ones(notes_folder: Path, tmp_path: Path) -> None:
    before = tree_hashes(notes_folder)
    out = tmp_path / "mp3"
    result = run_cli(tmp_path, "convert", notes_folder, "--out", out, "--jobs", "2")
    assert result.returncode == 1, result.stderr
    good = [p for p in notes_folder.iterdir() if p.name.startswith("note-") or p.name == NON_ASCII]
    assert len(good) == 31
    for source in good:
        target = out / (source.stem + ".mp3")
        assert target.is_file(), f"{target} missing\n{result.stdout}"
        assert codec(target) == "mp3"
        assert abs(duration(target) - duration(source)) <= 0.1, source.name
        tags = read_tags(target)
        assert tags["title"] == source.stem
        assert tags["encodedby"].startswith("loopcap")
        assert re.match(r"\d{4}-\d{2}-\d{2}", tags["date"])
    summary = result.stdout[result.stdout.index("failed:") :]
    for bad in ("corrupt.opus", "empty.opus", "readme.txt"):
        assert bad in summary
        assert not (out / (Path(bad).stem + ".mp3")).exists()
    assert "31 converted, 0 skipped, 3 failed" in result.stdout
    # Each failure carries ffmpeg's reason, not just "failed".
    assert re.search(r"empty\.opus: .*(Invalid data|no audio)", summary)
    assert tree_hashes(notes_folder) == before, "inputs must never change"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left"

    # A second run keeps what exists.
    again = run_cli(tmp_path, "convert", notes_folder, "--out", out)
    assert "0 converted, 31 skipped, 3 failed" in again.stdout


def test_outputs_next_to_inputs_and_overwrite(notes_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "here"
    folder.mkdir()
    source = shutil.copy(notes_folder / "note-003.opus", folder / "PTT-20241202-WA0007.opus")
    result = run_cli(tmp_path, "convert", source, "--quality", "6")
    assert result.returncode == 0, result.stdout + result.stderr
    target = folder / "PTT-20241202-WA0007.mp3"
    assert read_tags(target)["date"] == "2024-12-02"  # from the WhatsApp name, not the mtime
    first = target.stat().st_mtime_ns
    assert run_cli(tmp_path, "convert", source).returncode == 0
    assert target.stat().st_mtime_ns == first  # skipped
    result = run_cli(tmp_path, "convert", source, "--overwrite", "--bitrate", "64k")
    assert result.returncode == 0
    assert target.stat().st_mtime_ns != first
    assert abs(int(_probe_bitrate(target)) - 64000) < 2000


def _probe_bitrate(path: Path) -> str:
    from tests._voice_notes import probe

    return probe(path, "bit_rate", stream=True)


def test_normalize_reaches_target_loudness(notes_folder: Path, tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.opus"
    subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(notes_folder / "note-005.opus"), "-af", "volume=-20dB",
         "-c:a", "libopus", str(quiet)],
        check=True,
    )  # fmt: skip
    result = run_cli(tmp_path, "convert", quiet, "--normalize")
    assert result.returncode == 0, result.stdout + result.stderr
    target = tmp_path / "quiet.mp3"
    assert abs(duration(target) - duration(quiet)) <= 0.1
    assert _loudness(target) == pytest.approx(-16, abs=2.5)
    assert _loudness(quiet) < -30


def _loudness(path: Path) -> float:
    result = subprocess.run(
        [FFMPEG, "-nostdin", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", result.stderr)[-1])


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "convert", tmp_path / "nope.opus").returncode == 2
    assert run_cli(tmp_path, "convert", tmp_path, "--quality", "12").returncode == 2
    bad_rate = run_cli(tmp_path, "convert", tmp_path, "--bitrate", "100k")
    assert bad_rate.returncode == 2
    assert "MP3 bitrates" in bad_rate.stderr
    assert (
        run_cli(tmp_path, "convert", tmp_path, "--quality", "2", "--bitrate", "64k").returncode == 2
    )


@pytest.fixture(scope="session")
def long_inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Six 3-minute WAVs: long enough that a batch is surely interrupted mid-way."""
    require_tools()
    folder = tmp_path_factory.mktemp("long")
    paths = []
    for i in range(6):
        path = folder / f"long-{i}.wav"
        subprocess.run(
            [FFMPEG, "-v", "error", "-f", "lavfi", "-i", f"sine=f={300 + 50 * i}:d=180",
             "-ac", "1", "-ar", "44100", str(path)],
            check=True,
        )  # fmt: skip
        paths.append(path)
    return paths


def test_ctrl_c_leaves_no_partial_files(long_inputs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "capture", "convert", *map(str, long_inputs), "--out", str(out),
         "--jobs", "2"],
        cwd=ROOT, env=cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (out.exists() and any(p.name.endswith(".part") for p in out.iterdir())):
        assert time.monotonic() < deadline and proc.poll() is None, "conversion never started"
        time.sleep(0.05)
    time.sleep(0.5)  # ffmpeg is now writing
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted" in stderr
    left = sorted(p.name for p in out.iterdir())
    assert not [name for name in left if name.endswith(".part") or name.startswith(".")], left
    for name in left:  # anything finished before Ctrl+C is whole
        assert abs(duration(out / name) - 180) <= 0.1
    assert len(left) < len(long_inputs)
    # No ffmpeg of ours survives.
    time.sleep(0.3)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert str(out) not in ps


def test_full_disk_stops_the_batch(notes_folder: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(small)],
        capture_output=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        result = run_cli(tmp_path, "convert", notes_folder, "--out", small, "--jobs", "2")
        assert result.returncode == 1
        assert "no space left" in result.stderr.lower()
        assert "not done" in result.stdout  # the rest of the batch was not attempted
        left = list(small.iterdir())
        assert not [p for p in left if p.name.startswith(".")], "temporary files left"
        for mp3 in left:
            assert abs(duration(mp3) - duration(notes_folder / (mp3.stem + ".opus"))) <= 0.1
    finally:
        subprocess.run(["umount", str(small)], check=False)


# ---------------------------------------------------------------------------------------------
# Library and pure parts


def test_convert_batch_library_reports_each_file(notes_folder: Path, tmp_path: Path) -> None:
    jobs = [
        ConversionJob(notes_folder / "note-010.opus", tmp_path / "a.mp3"),
        ConversionJob(notes_folder / "empty.opus", tmp_path / "b.mp3"),
    ]
    seen: list[ConversionResult] = []
    report = convert_batch(jobs, options=Mp3Options(quality=4), workers=2, on_result=seen.append)
    assert [r.outcome for r in report.results] == [Outcome.CONVERTED, Outcome.FAILED]
    assert len(seen) == 2
    assert not report.all_ok
    assert (tmp_path / "a.mp3").is_file()
    assert not (tmp_path / "b.mp3").exists()


def test_plan_names_and_collisions(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("a.opus", "a.m4a", "b.mp3", ".hidden.opus", "sub/c.wav"):
        (tmp_path / name).write_bytes(b"x")
    jobs, skipped = plan_conversions([tmp_path])
    assert sorted(j.target.name for j in jobs) == ["a.mp3", "a.opus.mp3"]  # a.m4a sorts first
    assert [s.job.source.name for s in skipped] == ["b.mp3"]
    jobs, _ = plan_conversions([tmp_path], out_dir=tmp_path / "o", recursive=True)
    targets = sorted(str(j.target.relative_to(tmp_path / "o")) for j in jobs)
    assert targets == ["a.mp3", "a.opus.mp3", "b.mp3", "sub/c.mp3"]
    with pytest.raises(UsageError):
        plan_conversions([tmp_path / "missing"])


def test_parse_bitrate() -> None:
    assert parse_bitrate("128k") == 128
    assert parse_bitrate("64") == 64
    for bad in ("100k", "abc", "", "1280k"):
        with pytest.raises(UsageError):
            parse_bitrate(bad)


def test_atomic_output_removes_temp_on_error(tmp_path: Path) -> None:
    from capture.recording.atomic import atomic_output

    target = tmp_path / "x.mp3"
    with pytest.raises(RuntimeError), atomic_output(target) as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with atomic_output(target) as temp:
        temp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)
