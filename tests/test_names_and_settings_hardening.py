"""Settings and file names that used to end in a traceback or a file in the wrong place, through
the real ``loopcap`` command (and a real recording where a file must come out)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from capture.recording.atomic import unique_path
from tests.helpers import Loopcap, assert_one_clear_line
from tests.rig import PulseRig, ffprobe


def _with_settings(loopcap: Loopcap, text: str | bytes) -> None:
    folder = Path(loopcap.env["LOOPCAP_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    (folder / "settings.toml").write_bytes(data)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("[audio]\ngap_threshold_s = nan\n", "'audio.gap_threshold_s' = nan is not a number"),
        ("[notes]\nsilence_s = inf\n", "'notes.silence_s' = inf is not a number"),
        (b"[output]\nfolder = '/tmp/caf\xe9'\n", "not UTF-8 text"),
        ('[output]\nname_template = "../x"\n', "'output.name_template' = '../x' makes a path"),
        ('[output]\nname_template = "/tmp/x"\n', "makes a path"),
        ('[output]\nnote_name_template = "a/b"\n', "'output.note_name_template'"),
        ('[output]\nname_template = ""\n', "'output.name_template' = '' is empty"),
    ],
)
def test_bad_settings_are_one_line(loopcap: Loopcap, settings: str | bytes, expected: str) -> None:
    _with_settings(loopcap, settings)
    result = loopcap.run("record", "--audio-only", "--duration", "1", timeout=30)
    assert result.returncode == 1, result
    assert_one_clear_line(result.stderr)
    assert expected in result.stderr
    assert "settings.toml" in result.stderr


def _name_bytes(path: Path) -> int:
    return len(os.fsencode(path.name))


@pytest.mark.parametrize("template", ["x" * 300, "é" * 200 + "-%Y", "%D-%H"])
def test_a_name_template_always_makes_one_file_in_the_output_folder(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path, template: str
) -> None:
    out = tmp_path / "out"
    _with_settings(loopcap, f'[output]\nfolder = "{out}"\nname_template = "{template}"\n')
    result = loopcap.run("record", "--audio-only", "--duration", "0.5", timeout=60)
    assert result.returncode == 0, result.stderr
    saved = Path(result.stdout.strip())
    assert saved.parent == out and list(out.iterdir()) == [saved]
    assert saved.suffix == ".mp3" and _name_bytes(saved) <= 255
    assert float(ffprobe(saved)["format"]["duration"]) > 0.3  # type: ignore[index]


def test_an_output_name_of_255_bytes_is_written(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path
) -> None:
    """The temporary name beside it would be longer: it is shortened, the output is not."""
    target = tmp_path / ("n" * 251 + ".wav")
    result = loopcap.run("record", "--audio-only", "--duration", "0.5", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == target
    assert float(ffprobe(target)["format"]["duration"]) > 0.3  # type: ignore[index]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    second = unique_path(target)  # where a second recording with that name would go
    assert second.name.endswith(" (2).wav") and _name_bytes(second) == 255


def test_a_recording_too_short_for_one_sample_leaves_nothing_behind(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path
) -> None:
    result = loopcap.run("record", "--audio-only", "--duration", "1e-9", "-o", str(tmp_path / "a"))
    assert result.returncode == 1
    assert_one_clear_line(result.stderr)
    assert "nothing saved" in result.stderr
    assert not loopcap.sessions.exists() or list(loopcap.sessions.iterdir()) == []
    again = loopcap.run("record", "--audio-only", "--duration", "0.3", "-o", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    assert "interrupted" not in again.stderr


@pytest.fixture
def x_server_that_hangs_up() -> Iterator[str]:
    """A Unix socket where an X server would be, which closes every connection at once."""
    folder = Path("/tmp/.X11-unix")
    folder.mkdir(exist_ok=True)
    number = next(n for n in range(180, 400) if not (folder / f"X{n}").exists())
    path = folder / f"X{number}"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(8)
    stopping = threading.Event()

    def hang_up() -> None:
        while not stopping.is_set():
            with contextlib.suppress(OSError):
                client, _ = server.accept()
                client.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        yield f":{number}"
    finally:
        stopping.set()
        server.close()
        path.unlink()


def test_devices_with_an_x_server_that_hangs_up_is_one_line(
    loopcap: Loopcap, pulse: PulseRig, x_server_that_hangs_up: str
) -> None:
    result = loopcap.run("devices", timeout=60, DISPLAY=x_server_that_hangs_up)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "screen: not available" in result.stdout
    assert "closed by server" in result.stdout
    listed = loopcap.run("devices", "--json", timeout=60, DISPLAY=x_server_that_hangs_up)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr


@pytest.mark.parametrize("suffix", [".mp3", ".ogg", ".m4a"])
def test_a_recording_to_a_non_utf8_name_is_saved_under_those_bytes(
    loopcap: Loopcap, pulse: PulseRig, tmp_path: Path, suffix: str
) -> None:
    """A file name in Latin-1 (an old disk, a copied folder): ffmpeg encodes to it through its
    temporary name, and the name printed is the same bytes."""
    name = b"caf\xe9 \xff note" + suffix.encode()
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / os.fsdecode(name)
    result = subprocess.run(
        loopcap.command("record", "--audio-only", "--duration", "1", "-o", str(target)),
        env=loopcap.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert [os.fsencode(p.name) for p in folder.iterdir()] == [name], "one file, its own bytes"
    assert result.stdout.strip() == os.fsencode(target)
    assert 0.8 < float(ffprobe(target)["format"]["duration"]) < 1.3  # type: ignore[index]
