"""Screen + audio recording: loopcap against plain ffmpeg, in one run.

Run: ``python bench/bench_screen.py [--seconds 60] [--frame-paths i420,bgra]``

On a private Xvfb (1920x1080) and PulseAudio, with moving content, a flash + beep every 2 s and
sound playing, it records ``--seconds`` twice at 30 fps, libx264 ultrafast crf 23, AAC:
``loopcap record`` and ``ffmpeg -f x11grab … -f pulse …`` (the same ffmpeg binary loopcap uses,
the same encoder settings). It prints for each: CPU time (the process and its children), the
CPU ratio, frames delivered (grabbed for their own slot, not repeated or duplicated), the file's
duration against the time asked for, and the A/V skew: how far each flash and its beep drift
apart in the file compared with the truth measured at the source (tests/avsync.py).
Goals (issue 3): CPU ratio ≤ 1.0, frames ≥ 99.5 %, duration within one frame, skew ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capture.ffmpeg import locate_ffmpeg
from tests.avsync import Observer, file_events, pair_skews
from tests.rig import PulseRig, noise, pulse_rig, tone, write_wav, xvfb_rig

WIDTH, HEIGHT, FPS = 1920, 1080, 30
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    name: str
    cpu_s: float
    delivered: float
    duration_s: float
    video_s: float
    skew_errors_ms: list[float]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def probe(path: Path) -> tuple[float, float, int]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    info = json.loads(out)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    return float(info["format"]["duration"]), float(video["duration"]), int(video["nb_frames"])


class Show:
    """The scene: a full-screen pattern that flashes white with a beep, and a moving window."""

    def __init__(self, display: str, pulse: PulseRig, folder: Path) -> None:
        env = {**os.environ, "DISPLAY": display}
        self.beep = write_wav(folder / "beep.wav", tone(0.1, 1000, level=0.6))
        self.pulse = pulse
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.scene", title, geometry],
                env=env,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for title, geometry in (("flasher", f"{WIDTH}x{HEIGHT}+0+0"), ("mover", "300x200+0+0"))
        ]
        for proc in self.procs:
            assert proc.stdout is not None
            proc.stdout.readline()
        self.players: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _send(self, index: int, command: str) -> None:
        stdin = self.procs[index].stdin
        assert stdin is not None
        stdin.write(command + "\n")
        stdin.flush()

    def _run(self, seconds: float) -> None:
        start = time.monotonic()
        step = 0
        next_flash = start + 1.0
        while not self._stop.is_set() and time.monotonic() - start < seconds:
            step += 1
            self._send(1, f"move {(step * 23) % (WIDTH - 300)} {(step * 13) % (HEIGHT - 200)}")
            if time.monotonic() >= next_flash:
                self._send(0, "flash")
                self.players.append(self.pulse.play(self.beep))
                next_flash += 2.0
            time.sleep(1 / 60)

    def play(self, seconds: float) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(seconds,), daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def close(self) -> None:
        self._stop.set()
        self.wait()
        for index, proc in enumerate(self.procs):
            self._send(index, "quit")
            proc.wait(timeout=10)
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
        for player in self.players:
            player.wait(timeout=10)


def measure(
    name: str, command: list[str], env: dict[str, str], output: Path, seconds: float,
    show: Show, display: str, stats: re.Pattern[str],
) -> Result:  # fmt: skip
    with Observer(display, WIDTH // 4, HEIGHT // 4) as observer:
        before = children_cpu()
        proc = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        show.play(seconds + 1)
        _, stderr = proc.communicate(timeout=seconds * 3 + 120)
        cpu = children_cpu() - before
        show.wait()
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed: {stderr[-2000:]}")
    duration, video_s, frames = probe(output)
    matches = list(stats.finditer(stderr))
    match = matches[-1] if matches else None
    if name == "ffmpeg":  # x11grab: frames it wrote, minus the ones it duplicated (if it says)
        dup = float(match.group(1)) if match else 0.0
        delivered = (frames - dup) / (seconds * FPS)
    else:
        delivered = float(match.group(1)) / 100 if match else float("nan")
    start = float(json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-select_streams",
         "v", str(output)], capture_output=True, text=True, check=True,
    ).stdout)["streams"][0].get("start_time", 0))  # fmt: skip
    flashes, beeps = file_events(output, fps=FPS, start_s=start)
    truth = observer.skews()
    recorded = pair_skews(flashes, beeps)
    errors = [1000 * (r - t) for r, t in zip(recorded, truth, strict=False)]
    return Result(name, cpu, delivered, duration, video_s, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--frame-paths", default="i420", help="loopcap frame paths to measure")
    args = parser.parse_args()
    seconds = args.seconds
    ffmpeg = locate_ffmpeg()
    print(f"ffmpeg: {ffmpeg.path} ({ffmpeg.version}); {WIDTH}x{HEIGHT} at {FPS} fps, "
          f"ultrafast crf 23, {seconds:.0f} s, {os.cpu_count()} cores")  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="bench-screen-") as temp,
        xvfb_rig(WIDTH, HEIGHT) as xvfb,
        pulse_rig(Path(temp) / "pulse") as pulse,
    ):
        folder = Path(temp)
        music = write_wav(folder / "music.wav", noise(seconds * 4 + 30, level=0.05))
        background = pulse.play(music)
        os.environ.update(pulse.env)  # the observer listens to the same server
        show = Show(xvfb.display, pulse, folder)
        results: list[Result] = []
        try:
            out = folder / "ffmpeg.mp4"
            results.append(measure(
                "ffmpeg",
                [ffmpeg.path, "-hide_banner", "-nostdin", "-y", "-f", "x11grab", "-framerate",
                 str(FPS), "-video_size", f"{WIDTH}x{HEIGHT}", "-i", f"{xvfb.display}+0,0",
                 "-f", "pulse", "-i", "virt.monitor", "-c:v", "libx264", "-preset", "ultrafast",
                 "-crf", "23", "-pix_fmt", "yuv420p", "-g", str(FPS), "-c:a", "aac", "-b:a",
                 "192k", "-t", str(seconds), str(out)],
                {**xvfb.environ(), **pulse.env}, out, seconds, show, xvfb.display,
                re.compile(r"dup=(\d+)"),
            ))  # fmt: skip
            for frame_path in args.frame_paths.split(","):
                config = folder / f"config-{frame_path}"
                config.mkdir()
                (config / "settings.toml").write_text(f'[screen]\nframe_path = "{frame_path}"\n')
                out = folder / f"loopcap-{frame_path}.mp4"
                env = {
                    **xvfb.environ(), **pulse.env, "PYTHONPATH": str(ROOT),
                    "LOOPCAP_CONFIG_DIR": str(config), "LOOPCAP_STATE_DIR": str(folder / "state"),
                    "LOOPCAP_FFMPEG": ffmpeg.path,
                }  # fmt: skip
                results.append(measure(
                    f"loopcap ({frame_path})",
                    [sys.executable, "-m", "capture", "-v", "record", "--fps", str(FPS),
                     "--preset", "ultrafast", "--crf", "23", "--duration", str(seconds),
                     "-o", str(out)],
                    env, out, seconds, show, xvfb.display,
                    re.compile(r"\(([\d.]+)% delivered\)"),
                ))  # fmt: skip
        finally:
            show.close()
            background.terminate()
            background.wait()
    base = results[0]
    print(f"\n{'':18} {'CPU s':>7} {'ratio':>6} {'frames':>8} {'duration':>9} {'video':>7} "
          f"{'skew error ms (each flash)':>30}")  # fmt: skip
    for r in results:
        skews = ", ".join(f"{e:+.0f}" for e in r.skew_errors_ms)
        worst = max((abs(e) for e in r.skew_errors_ms), default=float("nan"))
        print(f"{r.name:18} {r.cpu_s:7.1f} {r.cpu_s / base.cpu_s:5.2f}x {100 * r.delivered:7.2f}% "
              f"{r.duration_s - seconds:+8.3f}s {r.video_s - seconds:+6.3f}s  "
              f"worst {worst:.0f} [{skews}]")  # fmt: skip
    print(
        "\nratio: CPU against ffmpeg; duration/video: the file's (and its video stream's) length "
        "minus the time asked for; skew error: (beep − flash in the file) − (the same at the "
        f"source), median of loopcap's: "
        f"{statistics.median([e for r in results[1:] for e in r.skew_errors_ms] or [0]):+.0f} ms"
    )


if __name__ == "__main__":
    main()
