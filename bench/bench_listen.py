"""Benchmark: loopcap listening with a 5-minute replay ring, on a real audio server.

    python bench/bench_listen.py [--minutes 10]

1. Memory: RSS of the whole of loopcap (the main process and its capture worker) while
   ``loopcap listen`` keeps a 5-minute ring, sampled over --minutes with sound playing.
   Goal: <= 150 MB and flat (the last sample within 5 % of the one at 6 minutes, once the ring
   is full).
2. CPU of listening, against ``ffmpeg -f pulse -i virt.monitor -f null -`` reading the same
   source for the same time (the cheapest thing that listens). Goal: < 2 % of a core.
3. Onset: real notes played with a known start, caught with ``loopcap ctl catch-note --wait``
   pressed mid-note; how far the saved file's first sound is from the pre-roll it should have.
   Goal: within 50 ms.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_record import timed  # noqa: E402
from capture.ffmpeg import locate_ffmpeg  # noqa: E402
from capture.settings import NoteSettings  # noqa: E402
from tests.rig import (  # noqa: E402
    PulseRig,
    best_alignment,
    decode_to_array,
    noise,
    pulse_rig,
    read_wav,
    speech_wav,
    write_wav,
)

RATE = 48000


def tree_pids(pid: int) -> list[int]:
    """A process and its children (loopcap and its capture worker), from /proc."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(p) for p in children.read_text().split())] if children.exists() else [pid]


def tree_rss_mb(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def tree_cpu_s(pid: int) -> float:
    ticks = 0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def onset_errors(rig: PulseRig, env: dict[str, str], folder: Path, notes: int = 5) -> list[float]:
    spoken, _ = read_wav(speech_wav(folder / "speech.wav", "Hello, this note starts right here."))
    played = spoken.astype(np.float32).mean(axis=1) / 32768
    loud = np.flatnonzero(np.abs(played) > 10 ** (NoteSettings().min_threshold_db / 20))
    first_sound = loud[0] / RATE
    clip = write_wav(folder / "note.wav", spoken)
    errors = []
    for _ in range(notes):
        player = rig.play(clip)
        time.sleep(1.0)
        result = subprocess.run(
            [sys.executable, "-m", "capture", "ctl", "catch-note", "--wait"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        player.wait()
        recorded = decode_to_array(Path(result.stdout.strip()))
        offset, _ = best_alignment(recorded, played)
        # Where the first sound is in the file, against where the pre-roll says it should be.
        errors.append(abs((offset / RATE + first_sound) - NoteSettings().preroll_s) * 1000)
        time.sleep(2.0)
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="loopcap-bench-") as tmp:
        folder = Path(tmp)
        (folder / "config").mkdir()
        (folder / "config" / "settings.toml").write_text("[replay]\nseconds = 300\n")
        with pulse_rig(folder / "pulse") as rig:
            env = {
                **rig.environ(),
                "LOOPCAP_STATE_DIR": str(folder / "state"),
                "LOOPCAP_CONFIG_DIR": str(folder / "config"),
                "LOOPCAP_RUNTIME_DIR": str(folder / "run"),
                "XDG_MUSIC_DIR": str(folder / "music"),
                "PYTHONPATH": str(REPO),
            }
            clip = write_wav(folder / "noise.wav", noise(60, level=0.05))
            listen = subprocess.Popen(
                [sys.executable, "-m", "capture", "listen", "--no-hotkeys"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(2.0)
                print(
                    f"loopcap listen, 5-minute ring, {args.minutes:.0f} minutes with sound playing"
                )
                start_cpu, start = tree_cpu_s(listen.pid), time.monotonic()
                samples: list[tuple[float, float]] = []
                player = rig.play(clip)
                while time.monotonic() - start < seconds:
                    if player.poll() is not None:
                        player = rig.play(clip)
                    time.sleep(10)
                    samples.append((time.monotonic() - start, tree_rss_mb(listen.pid)))
                player.terminate()
                player.wait()
                cpu = tree_cpu_s(listen.pid) - start_cpu
                elapsed = time.monotonic() - start
                for at, rss in samples[:: max(1, len(samples) // 10)]:
                    print(f"  {at / 60:5.1f} min: RSS {rss:6.1f} MB")
                peak = max(r for _, r in samples)
                full = [r for t, r in samples if t >= 360] or [samples[-1][1]]
                print(
                    f"  peak RSS {peak:.1f} MB (goal <= 150 MB); after the ring filled: "
                    f"{full[0]:.1f} → {full[-1]:.1f} MB"
                )
                share = 100 * cpu / elapsed
                probe_seconds = min(elapsed, 60.0)
                probe_cpu, _ = timed(
                    [
                        locate_ffmpeg().path,
                        "-v",
                        "error",
                        "-f",
                        "pulse",
                        "-i",
                        "virt.monitor",
                        "-t",
                        str(probe_seconds),
                        "-f",
                        "null",
                        "-",
                    ],
                    rig.environ(),
                )
                probe_share = 100 * probe_cpu / probe_seconds
                print(
                    f"  listening CPU: {share:.2f} % of a core (goal < 2 %); "
                    f"ffmpeg -f pulse to null: {probe_share:.2f} %; "
                    f"ratio {share / probe_share:.1f}x"
                )
                errors = onset_errors(rig, env, folder)
                print(
                    f"  onset of caught notes vs pre-roll: median {np.median(errors):.1f} ms, "
                    f"max {max(errors):.1f} ms (goal <= 50 ms)"
                )
            finally:
                listen.terminate()
                listen.wait(timeout=30)


if __name__ == "__main__":
    main()
