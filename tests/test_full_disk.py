"""A real full disk: a small tmpfs mounted for the test (root only), filled with a real file.

What loopcap promises when a disk fills: the recording stops cleanly, what reached the disk is
saved (or kept for 'loopcap recover', and the message says which), one line names the disk, the
service goes on listening, and the next start works once there is space.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import Loopcap, assert_one_clear_line
from tests.rig import PulseRig, decode_to_array, ffprobe, tone, write_wav
from tests.test_service import listening

RATE = 48000
SECOND_OF_PCM = RATE * 2 * 2


class SmallDisk:
    def __init__(self, mount: Path) -> None:
        self.mount = mount
        self.filler = mount / "filler"

    def fill(self, leave: int = 0) -> None:
        """Fill the disk up, then free about ``leave`` bytes."""
        chunk = b"\xff" * 65536
        with self.filler.open("ab") as out, contextlib.suppress(OSError):
            while True:
                out.write(chunk)
                out.flush()
        size = self.filler.stat().st_size
        os.truncate(self.filler, max(0, size - leave))

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield SmallDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def long_tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_wav(tmp_path_factory.mktemp("tone") / "tone.wav", tone(60.0, 440, level=0.4))


def _sessions_on(loopcap: Loopcap, disk: SmallDisk) -> None:
    loopcap.env["LOOPCAP_STATE_DIR"] = str(disk.mount / "state")


def _duration(path: Path) -> float:
    return float(ffprobe(path)["format"]["duration"])  # type: ignore[index]


def test_sessions_disk_fills_the_recording_is_saved_up_to_there(
    loopcap: Loopcap, pulse: PulseRig, small_disk: SmallDisk, tmp_path: Path, long_tone: Path
) -> None:
    _sessions_on(loopcap, small_disk)
    small_disk.fill(leave=2 * SECOND_OF_PCM)
    output = tmp_path / "cut-short.wav"
    player = pulse.play(long_tone)
    try:
        result = loopcap.run("record", "--audio-only", "-o", str(output), timeout=60)
    finally:
        player.terminate()
        player.wait(timeout=10)
    assert result.returncode == 1, result.stderr
    assert_one_clear_line(result.stderr)
    assert "no space left on the disk holding" in result.stderr
    assert str(small_disk.mount / "state") in result.stderr
    assert f"saved as {output}" in result.stderr
    assert result.stdout.strip() == str(output)
    assert 0.8 < _duration(output) < 2.5
    recorded = decode_to_array(output)
    assert np.sqrt(np.mean(recorded[RATE // 2 :] ** 2)) > 0.1, "the tone, not silence"
    assert list((small_disk.mount / "state" / "sessions").iterdir()) == []


def test_one_full_disk_for_both_keeps_the_recording_for_recover(
    loopcap: Loopcap, pulse: PulseRig, small_disk: SmallDisk, long_tone: Path
) -> None:
    _sessions_on(loopcap, small_disk)
    output = small_disk.mount / "out.wav"
    small_disk.fill(leave=2 * SECOND_OF_PCM)
    result = loopcap.run("record", "--audio-only", "-o", str(output), timeout=60)
    assert result.returncode == 1, result.stderr
    assert_one_clear_line(result.stderr)
    assert "no space left" in result.stderr and "kept for 'loopcap recover'" in result.stderr
    assert not output.exists()
    assert [p for p in small_disk.mount.iterdir() if p.name.endswith(".part")] == []
    small_disk.free()
    recovered = loopcap.run("recover", timeout=60)
    assert recovered.returncode == 0, recovered.stderr
    assert Path(recovered.stdout.strip()) == output
    assert 0.8 < _duration(output) < 2.5


def test_output_disk_full_at_stop_says_the_recording_is_kept_for_recover(
    loopcap: Loopcap, pulse: PulseRig, small_disk: SmallDisk
) -> None:
    output = small_disk.mount / "at-stop.wav"
    small_disk.fill(leave=0)
    result = loopcap.run("record", "--audio-only", "--duration", "1.5", "-o", str(output))
    assert result.returncode == 1, result.stderr
    assert_one_clear_line(result.stderr)
    assert f"no space left on the disk holding {small_disk.mount}" in result.stderr
    assert "kept for 'loopcap recover'" in result.stderr
    small_disk.free()
    recovered = loopcap.run("recover", timeout=60)
    assert recovered.returncode == 0, recovered.stderr
    assert 1.4 < _duration(output) < 1.7


def _wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_the_service_survives_a_full_disk_and_records_again_after(
    loopcap: Loopcap, pulse: PulseRig, small_disk: SmallDisk, tmp_path: Path
) -> None:
    _sessions_on(loopcap, small_disk)
    out = tmp_path / "out"
    config = Path(loopcap.env["LOOPCAP_CONFIG_DIR"])
    config.mkdir(parents=True)
    (config / "settings.toml").write_text(f'[output]\nfolder = "{out}"\naudio_format = "wav"\n')
    small_disk.fill(leave=2 * SECOND_OF_PCM)
    with listening(loopcap) as proc:
        started = loopcap.run("ctl", "start", timeout=30)
        assert started.returncode == 0, started.stderr
        _wait_until(lambda: loopcap.status()["state"] == "listening", 30, "the recording to end")
        message = str(loopcap.status()["message"])
        assert "no space left on the disk holding" in message and "saved as" in message
        stopped = loopcap.run("ctl", "stop", timeout=30)
        assert stopped.returncode == 1
        assert_one_clear_line(stopped.stderr)
        assert "no space left" in stopped.stderr, "the first stop tells what happened"

        # The ring still follows what plays now (not stale audio from before the disk filled).
        player = pulse.play(write_wav(tmp_path / "late.wav", tone(3.0, 880, level=0.4)))
        player.wait(timeout=30)
        saved = loopcap.run("ctl", "save-last", "2", timeout=30)
        assert saved.returncode == 0, saved.stderr
        late = decode_to_array(Path(saved.stdout.strip()))
        assert np.sqrt(np.mean(late**2)) > 0.1, "the tone that played after the disk filled"

        # With the disk still full, a start is one clear refusal; after freeing, it works.
        refused = loopcap.run("ctl", "start", timeout=30)
        if refused.returncode == 0:  # the manifest fit; then the first block did not
            _wait_until(lambda: loopcap.status()["state"] == "listening", 30, "the end")
            loopcap.run("ctl", "stop", timeout=30)
        else:
            assert_one_clear_line(refused.stderr)
            assert "no space left" in refused.stderr
        small_disk.free()
        again = loopcap.run("ctl", "start", timeout=30)
        assert again.returncode == 0, again.stderr
        time.sleep(1.5)
        stopped = loopcap.run("ctl", "stop", timeout=30)
        assert stopped.returncode == 0, stopped.stderr
        assert _duration(Path(stopped.stdout.strip())) > 1.0
        assert proc.poll() is None
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert "Traceback" not in stderr, stderr
