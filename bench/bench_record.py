"""Benchmark: loopback capture to MP3, loopcap against plain ``ffmpeg -f pulse``, in one run.

    python bench/bench_record.py [--seconds 60]

On a private PulseAudio with a virtual speaker playing noise:
1. CPU (user + system, the whole process tree) of ``loopcap record --audio-only`` to MP3 against
   ``ffmpeg -f pulse -i virt.monitor`` with the same LAME settings. Goal: ratio <= 2.0x.
2. Lost samples: the same noise recorded to WAV must be found bit-exact; counted with the
   machine idle and with one core kept busy. Goal: 0 lost.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from capture.ffmpeg import locate_ffmpeg  # noqa: E402
from tests.rig import PulseRig, noise, pulse_rig, read_wav, write_wav  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds and wall seconds of a command and everything it started."""
    cpu, wall = children_cpu(), time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return children_cpu() - cpu, time.monotonic() - wall


def loopcap_env(rig: PulseRig, folder: Path) -> dict[str, str]:
    return {
        **rig.environ(),
        "LOOPCAP_STATE_DIR": str(folder / "state"),
        "LOOPCAP_CONFIG_DIR": str(folder / "config"),
        "PYTHONPATH": str(REPO),
    }


def lost_samples(rig: PulseRig, folder: Path, seconds: float, busy: bool) -> tuple[int, int]:
    """Record noise to WAV; count played samples missing from the recording (exact match)."""
    played = noise(seconds, seed=11)
    clip = write_wav(folder / "noise-exact.wav", played)
    output = folder / f"exact-{int(busy)}.wav"
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "capture",
                "record",
                "--audio-only",
                "--duration",
                str(seconds + 2),
                "-o",
                str(output),
                "--overwrite",
            ],
            env=loopcap_env(rig, folder),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.8)
        rig.play(clip).wait()
        proc.wait()
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
    recorded, _ = read_wav(output)
    # Find the first played frame in the recording, then compare everything after it.
    first = played[0]
    candidates = np.flatnonzero((recorded == first).all(axis=1))
    best = 0
    for start in candidates[:50]:
        segment = recorded[start : start + len(played)]
        matched = int((segment == played[: len(segment)]).all(axis=1).sum())
        best = max(best, matched)
    return len(played) - best, len(played)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    seconds = args.seconds
    ffmpeg = locate_ffmpeg()
    print(f"loopback capture, {seconds:.0f} s to MP3 (LAME V2), {ffmpeg.version} ({ffmpeg.origin})")
    with tempfile.TemporaryDirectory(prefix="loopcap-bench-") as tmp:
        folder = Path(tmp)
        with pulse_rig(folder / "pulse") as rig:
            clip = write_wav(folder / "noise.wav", noise(seconds + 5, seed=5))
            player = rig.play(clip)
            time.sleep(0.5)
            ours, ours_wall = timed(
                [
                    sys.executable,
                    "-m",
                    "capture",
                    "record",
                    "--audio-only",
                    "--duration",
                    str(seconds),
                    "-o",
                    str(folder / "loopcap.mp3"),
                ],
                loopcap_env(rig, folder),
            )
            player.wait()
            player = rig.play(clip)
            time.sleep(0.5)
            plain, plain_wall = timed(
                [
                    ffmpeg.path,
                    "-v",
                    "error",
                    "-f",
                    "pulse",
                    "-i",
                    "virt.monitor",
                    "-t",
                    str(seconds),
                    "-c:a",
                    "libmp3lame",
                    "-q:a",
                    "2",
                    "-y",
                    str(folder / "ffmpeg.mp3"),
                ],
                rig.environ(),
            )
            player.wait()
            for name, cpu, wall in (("loopcap", ours, ours_wall), ("ffmpeg", plain, plain_wall)):
                share = 100 * cpu / seconds
                print(f"  {name:8}: {cpu:6.2f} s CPU in {wall:5.1f} s  ({share:.1f} % of a core)")
            print(f"  CPU ratio loopcap / ffmpeg: {ours / plain:.2f}x  (goal <= 2.0x)")
            for busy in (False, True):
                lost, total = lost_samples(rig, folder, seconds, busy)
                load = "one core busy" if busy else "idle machine"
                print(f"  lost samples, {load}: {lost} of {total}  (goal 0)")


if __name__ == "__main__":
    main()
