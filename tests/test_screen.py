"""``loopcap record`` of the screen on Xvfb (openbox), a real PulseAudio and real ffmpeg."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.conftest import Desktop
from tests.helpers import ROOT, Loopcap, assert_one_clear_line
from tests.rig import PulseRig, ffprobe, tone, write_wav
from tests.scene import QUADRANTS


class Scene:
    """A window painted with the four-quadrant pattern, driven through its stdin."""

    def __init__(self, desktop: Desktop, title: str, geometry: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.scene", title, geometry],
            env={**os.environ, **desktop.env},
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # ValueError: closed already
            self.send("quit")
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


@contextlib.contextmanager
def scene(desktop: Desktop, title: str, geometry: str) -> Iterator[Scene]:
    window = Scene(desktop, title, geometry)
    try:
        yield window
    finally:
        window.close()


def video_stream(path: Path) -> dict[str, object]:
    streams = ffprobe(path)["streams"]
    assert isinstance(streams, list)
    return next(s for s in streams if s["codec_type"] == "video")


def codecs(path: Path) -> list[str]:
    streams = ffprobe(path)["streams"]
    assert isinstance(streams, list)
    return sorted(str(s["codec_name"]) for s in streams)


def decode_frames(path: Path) -> npt.NDArray[np.uint8]:
    stream = video_stream(path)
    width, height = int(str(stream["width"])), int(str(stream["height"]))
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width, 3)


def frame_count(path: Path) -> int:
    return int(str(video_stream(path)["nb_frames"]))


def assert_pattern_edge_to_edge(frame: npt.NDArray[np.uint8]) -> None:
    """Every border pixel has its quadrant's colour: nothing of the desktop or a title bar."""
    height, width, _ = frame.shape
    margin = 4  # the encoder blurs colours across the quadrants' seams a little
    border = [(x, y) for x in range(width) for y in (0, height - 1)]
    border += [(x, y) for y in range(height) for x in (0, width - 1)]
    for x, y in border:
        if abs(x - width // 2) < margin or abs(y - height // 2) < margin:
            continue
        quadrant = ("t" if y < height // 2 else "b") + ("l" if x < width // 2 else "r")
        expected = QUADRANTS[quadrant]
        error = max(abs(int(frame[y, x, c]) - expected[c]) for c in range(3))
        assert error < 60, f"pixel {x},{y} is {frame[y, x]}, not {expected} ({quadrant})"


def record(
    loopcap: Loopcap, desktop: Desktop, output: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return loopcap.run("record", "-o", str(output), *args, env=desktop.env)


# -----------------------------------------------------------------------------------------------
# Monitor with sound


def test_five_seconds_at_15_fps_have_h264_aac_full_length_and_every_frame(
    loopcap: Loopcap, pulse: PulseRig, desktop: Desktop, tmp_path: Path
) -> None:
    sound = write_wav(tmp_path / "tone.wav", tone(6.0, 440))
    output = tmp_path / "screen.mp4"
    with scene(desktop, "moving", "120x90+10+10") as window:
        proc = loopcap.start(
            "record", "--fps", "15", "--duration", "5", "-o", str(output), env=desktop.env
        )
        player = pulse.play(sound)
        for step in range(40):  # moving content while it records
            window.send(f"move {10 + step * 10} {10 + step * 7}")
            time.sleep(0.15)
        stdout, stderr = proc.communicate(timeout=60)
        player.wait(timeout=30)
    assert proc.returncode == 0, stderr
    assert stdout.strip() == str(output)
    assert codecs(output) == ["aac", "h264"]
    info = ffprobe(output)
    duration = float(str(info["format"]["duration"]))  # type: ignore[index]
    assert abs(duration - 5.0) <= 0.2
    video = video_stream(output)
    assert video["pix_fmt"] == "yuv420p"
    assert (video["width"], video["height"]) == (desktop.width, desktop.height)
    assert frame_count(output) >= 0.99 * 5 * 15
    frames = decode_frames(output)
    assert not np.array_equal(frames[5], frames[-5]), "the recording does not move"


# -----------------------------------------------------------------------------------------------
# Windows and regions


def test_window_by_title_shows_its_pattern_edge_to_edge_also_after_moving(
    loopcap: Loopcap, desktop: Desktop, tmp_path: Path
) -> None:
    output = tmp_path / "window.mp4"
    # An odd size on purpose: libx264 refuses odd sizes, so the capture rounds down to even.
    with scene(desktop, "WhatsApp", "201x151+30+40") as window:
        proc = loopcap.start(
            "record",
            "--window",
            "whatsapp",
            "--no-audio",
            "--fps",
            "10",
            "--duration",
            "3",
            "-o",
            str(output),
            env=desktop.env,
        )
        time.sleep(1.5)
        window.send("move 300 200")
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert codecs(output) == ["h264"]
    stream = video_stream(output)
    assert (stream["width"], stream["height"]) == (200, 150)
    frames = decode_frames(output)
    assert len(frames) >= 29
    assert_pattern_edge_to_edge(frames[3])
    assert_pattern_edge_to_edge(frames[-1])  # after the move


def test_region_of_odd_size_records_rounded_to_even(
    loopcap: Loopcap, desktop: Desktop, tmp_path: Path
) -> None:
    output = tmp_path / "region.mkv"
    with scene(desktop, "pattern", "201x151+30+40"):
        result = record(
            loopcap, desktop, output, "--region", "100,100,101,81", "--no-audio", "--duration", "1"
        )
    assert result.returncode == 0, result.stderr
    stream = video_stream(output)
    assert (stream["width"], stream["height"]) == (100, 80)
    assert ffprobe(output)["format"]["format_name"].startswith("matroska")  # type: ignore[index]


def test_window_closed_mid_recording_keeps_recording_and_warns_once(
    loopcap: Loopcap, desktop: Desktop, tmp_path: Path
) -> None:
    output = tmp_path / "closed.mp4"
    with scene(desktop, "WhatsApp closing", "120x90+20+20") as window:
        proc = loopcap.start(
            "record", "--window", "closing", "--no-audio", "--fps", "10", "--duration", "2.5",
            "-o", str(output), env=desktop.env,
        )  # fmt: skip
        loopcap.wait_until_recording(proc)
        time.sleep(0.5)
        window.close()
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stderr.count("closed or minimized") == 1, stderr
    assert abs(float(str(video_stream(output)["duration"])) - 2.5) < 0.2


# -----------------------------------------------------------------------------------------------
# Crash safety


def test_kill_9_then_recover_gives_a_playable_mp4_with_both_streams(
    loopcap: Loopcap, pulse: PulseRig, desktop: Desktop, tmp_path: Path
) -> None:
    sound = write_wav(tmp_path / "tone.wav", tone(8.0, 330))
    output = tmp_path / "killed.mp4"
    proc = loopcap.start("record", "--fps", "15", "-o", str(output), env=desktop.env)
    loopcap.wait_until_recording(proc)
    player = pulse.play(sound)
    recorded_for = 5.0
    time.sleep(recorded_for)
    # The harshest case: loopcap and its live ffmpeg die at once, nothing gets to finish a file.
    children = [
        int(pid)
        for tasks in Path(f"/proc/{proc.pid}/task").glob("*/children")
        for pid in tasks.read_text().split()
    ]
    proc.send_signal(signal.SIGKILL)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    proc.communicate(timeout=10)
    player.wait(timeout=30)
    assert children, "loopcap had no ffmpeg child to kill"
    assert not output.exists()
    result = loopcap.run("recover", env=desktop.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(output)
    assert codecs(output) == ["aac", "h264"]
    assert float(str(video_stream(output)["duration"])) >= recorded_for - 2
    assert len(decode_frames(output)) >= (recorded_for - 2) * 15
    assert list(loopcap.sessions.iterdir()) == []


# -----------------------------------------------------------------------------------------------
# Bad input: one clear line, non-zero exit, nothing left behind


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--window", "no such window here"), {}, "no visible window's title contains"),
        (("--region", "600,400,200,200"), {}, "is not on the screen"),
        (("--region", "1,2,three"), {}, "is not X,Y,WIDTH,HEIGHT"),
        (("--monitor", "3"), {}, "there is no monitor 3"),
        ((), {"DISPLAY": ""}, "no X display"),
        ((), {"DISPLAY": ":4321"}, "cannot open the X display"),
    ],
)
def test_bad_screen_input_is_one_clear_line(
    loopcap: Loopcap,
    desktop: Desktop,
    tmp_path: Path,
    args: tuple[str, ...],
    env: dict[str, str],
    message: str,
) -> None:
    output = tmp_path / "bad.mp4"
    result = loopcap.run(
        "record", "--duration", "1", "-o", str(output), *args, env={**desktop.env, **env}
    )
    assert result.returncode != 0
    assert_one_clear_line(result.stderr)
    assert message in result.stderr
    assert not output.exists()
    assert not loopcap.sessions.exists() or list(loopcap.sessions.iterdir()) == []


def test_devices_lists_monitors_and_windows(loopcap: Loopcap, desktop: Desktop) -> None:
    import json

    with scene(desktop, "WhatsApp listing", "101x81+50+60"):
        listed = json.loads(loopcap.run("devices", "--json", env=desktop.env).stdout)
        text = loopcap.run("devices", env=desktop.env).stdout
    monitors = [d for d in listed if d.get("kind") == "monitor"]
    windows = [d for d in listed if d.get("kind") == "window"]
    assert monitors[0]["id"] == 1 and monitors[0]["width"] == desktop.width
    window = next(w for w in windows if w["title"] == "WhatsApp listing")
    assert (window["width"], window["height"]) == (101, 81)
    assert "WhatsApp listing" in text and "monitor 1" in text


# -----------------------------------------------------------------------------------------------
# A/V sync


def test_flash_and_beep_stay_within_40_ms_of_each_other(
    loopcap: Loopcap, pulse: PulseRig, desktop: Desktop, tmp_path: Path
) -> None:
    """The scene's own skew is measured (tests/avsync.py); the file must keep it within 40 ms,
    and within one frame's sampling (plus the clock's small error) of the truth."""
    from tests.avsync import Observer, assert_in_sync, sync_errors

    beep = write_wav(tmp_path / "beep.wav", tone(0.1, 1000, level=0.6))
    output = tmp_path / "sync.mp4"
    fps = 30
    with (
        scene(desktop, "flasher", f"{desktop.width}x{desktop.height}+0+0") as window,
        Observer(desktop.display, desktop.width // 4, desktop.height // 2) as observer,
    ):
        time.sleep(0.5)
        proc = loopcap.start(
            "record", "--fps", str(fps), "--duration", "6", "-o", str(output), env=desktop.env
        )
        loopcap.wait_until_recording(proc)
        time.sleep(0.5)
        players = []
        for _ in range(4):
            window.send("flash")
            players.append(pulse.play(beep))
            # 1.1 s alone is 33 frames: each flash would fall at the same place between slots.
            time.sleep(1.1 + 1 / (4 * fps))
        _, stderr = proc.communicate(timeout=60)
        for player in players:
            player.wait(timeout=10)
    assert proc.returncode == 0, stderr
    errors = sync_errors(observer, output, fps)
    assert len(errors) == 4
    assert_in_sync(errors, fps)
