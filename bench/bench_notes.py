"""Replay ring memory, note detection cost, and onset accuracy. Run: python bench/bench_notes.py

Detection cost is set against plain ffmpeg measuring the same audio's volume
(``ffmpeg -f s16le -i - -af volumedetect -f null -``) in the same run, so the ratio holds on
any machine. Goals (issue 4): a 5-minute ring and the process far under 150 MB and flat;
a saved note starts within 50 ms of the true onset, pre-roll accounted for.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capture.levels import levels_db
from capture.notes.detector import NoteDetector, NoteEnded
from capture.notes.ring import ReplayRing
from capture.settings import NoteSettings

RATE = 48000
CHANNELS = 2
BLOCK = RATE * 40 // 1000  # 40 ms, as the capture side hands them over
MB = 1024 * 1024


def rss_bytes() -> int:
    with Path("/proc/self/statm").open() as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def synthetic_minute(rng: np.random.Generator) -> np.ndarray:
    """60 s of notes: speech-like noise with pauses, a tone, over a -60 dBFS floor."""
    audio = rng.standard_normal((60 * RATE, CHANNELS)) * 32768 * 10**-3
    t = 0.0
    while t < 55:
        t += rng.uniform(2.5, 5)
        for _ in range(rng.integers(1, 4)):
            length = rng.uniform(0.3, 3)
            a, b = round(t * RATE), round(min(t + length, 59.5) * RATE)
            audio[a:b] += (
                rng.standard_normal((b - a, CHANNELS)) * 32768 * 10 ** (rng.uniform(-40, -12) / 20)
            )
            t += length + rng.uniform(0.1, 1.0)
    return np.clip(audio, -32768, 32767).astype(np.int16)


def bench_ring_memory(minute: np.ndarray) -> None:
    print("== replay ring, 5 minutes of 48 kHz stereo")
    blocks = [minute[i : i + BLOCK] for i in range(0, len(minute), BLOCK)]
    rss_before = rss_bytes()
    tracemalloc.start()
    ring = ReplayRing(300, RATE, CHANNELS)
    position = 0
    rss_series = []
    started = time.perf_counter()
    for minute_index in range(30):  # 30 min through a 5 min ring
        for block in blocks:
            ring.append(block, position)
            position += len(block)
        if minute_index in (4, 9, 19, 29):
            rss_series.append((minute_index + 1, rss_bytes()))
    append_s = time.perf_counter() - started
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    snap_started = time.perf_counter()
    snapshot = ring.last(120)
    snap_ms = (time.perf_counter() - snap_started) * 1000
    print(f"ring nbytes:            {ring.nbytes / MB:8.1f} MB")
    print(f"tracemalloc after 30 min: {current / MB:6.1f} MB (peak {peak / MB:.1f} MB)")
    for minutes, rss in rss_series:
        print(f"RSS delta after {minutes:2d} min: {(rss - rss_before) / MB:6.1f} MB")
    print(f"process RSS:            {rss_bytes() / MB:8.1f} MB (numpy, the audio, the ring)")
    print(f"append cost:            {append_s / 0.5:8.3f} s per hour of audio")
    print(f"snapshot of 120 s:      {snap_ms:8.1f} ms ({snapshot.nbytes / MB:.1f} MB copied)")


def find_ffmpeg() -> str | None:
    try:
        from capture.ffmpeg import locate_ffmpeg

        return locate_ffmpeg().path
    except Exception:  # noqa: BLE001 - any failure: fall back to the system binary
        return shutil.which("ffmpeg") or (
            "/usr/bin/ffmpeg" if Path("/usr/bin/ffmpeg").exists() else None
        )


def bench_detection(minute: np.ndarray, minutes: int) -> None:
    print(f"\n== detection cost ({minutes} min of 48 kHz stereo, 40 ms blocks)")
    blocks = [minute[i : i + BLOCK] for i in range(0, len(minute), BLOCK)]
    detector = NoteDetector(NoteSettings(), RATE)
    notes = 0
    position = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(minutes):
        for block in blocks:
            for event in detector.feed_block(block, position):
                notes += isinstance(event, NoteEnded)
            position += len(block)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    per_hour = 60 / minutes
    print(
        f"loopcap level+detector: {cpu * per_hour:7.2f} s CPU per hour "
        f"({wall * per_hour:.2f} s wall), {notes} notes found"
    )
    levels_only0 = time.process_time()
    for block in blocks:
        levels_db(block, 960)
    levels_cpu = (time.process_time() - levels_only0) * 60
    print(f"  of which levels alone: {levels_cpu:6.2f} s CPU per hour")

    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        print("ffmpeg: not found, no ratio")
        return
    data = minute.tobytes()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            ffmpeg,
            "-hide_banner",
            "-nostats",
            "-f",
            "s16le",
            "-ar",
            str(RATE),
            "-ac",
            str(CHANNELS),
            "-i",
            "-",
            "-af",
            "volumedetect",
            "-f",
            "null",
            "-",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    for _ in range(minutes):
        proc.stdin.write(data)
    proc.stdin.close()
    stderr = proc.stderr.read() if proc.stderr else b""
    proc.wait()
    ff_wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ff_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    mean = [line for line in stderr.decode(errors="replace").splitlines() if "mean_volume" in line]
    print(
        f"ffmpeg volumedetect:    {ff_cpu * per_hour:7.2f} s CPU per hour "
        f"({ff_wall * per_hour:.2f} s wall) [{ffmpeg}]"
    )
    if mean:
        print(f"  {mean[0].split(']')[-1].strip()}")
    print(f"ratio loopcap/ffmpeg:   {cpu / ff_cpu:7.2f} x CPU, {wall / ff_wall:.2f} x wall")


def bench_onset_accuracy(rng: np.random.Generator, count: int) -> None:
    print(f"\n== onset accuracy ({count} synthetic notes, 40 ms blocks)")
    settings = NoteSettings()
    preroll = round(settings.preroll_s * RATE)
    onset_errors, start_errors = [], []
    missed = 0
    for i in range(count):
        lead = round(rng.uniform(1, 3) * RATE)
        db = rng.uniform(-45, -10)
        length = round(rng.uniform(0.5, 4) * RATE)
        audio = rng.standard_normal((lead + length + 3 * RATE, CHANNELS)) * 32768 * 10**-3
        t = np.arange(length) / RATE
        if i % 2:  # a tone with a 30 ms attack, like a voiced syllable
            shape = np.sin(2 * np.pi * 180 * t) * np.minimum(1, t / 0.03) * np.sqrt(2)
            signal = np.stack([shape, shape], axis=1)
        else:  # a noisy (unvoiced) start
            signal = rng.standard_normal((length, CHANNELS))
        audio[lead : lead + length] += signal * 32768 * 10 ** (db / 20)
        pcm = np.clip(audio, -32768, 32767).astype(np.int16)
        detector = NoteDetector(settings, RATE)
        found = []
        for at in range(0, len(pcm), BLOCK):
            found += [
                e.note
                for e in detector.feed_block(pcm[at : at + BLOCK], at)
                if isinstance(e, NoteEnded)
            ]
        if len(found) != 1:
            missed += 1
            continue
        onset_errors.append(abs(found[0].onset_frame - lead) / RATE * 1000)
        start_errors.append(abs(found[0].start_frame + preroll - lead) / RATE * 1000)
    print(
        f"onset error:  median {statistics.median(onset_errors):5.1f} ms, "
        f"max {max(onset_errors):5.1f} ms"
    )
    print(
        f"saved start vs. onset - {settings.preroll_s * 1000:.0f} ms: median "
        f"{statistics.median(start_errors):5.1f} ms, max {max(start_errors):5.1f} ms "
        f"(goal: within 50 ms)"
    )
    print(f"notes not found exactly once: {missed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=60, help="audio for the cost test")
    parser.add_argument("--notes", type=int, default=100, help="notes for the accuracy test")
    args = parser.parse_args()
    rng = np.random.default_rng(4)
    minute = synthetic_minute(rng)
    bench_ring_memory(minute)
    bench_detection(minute, args.minutes)
    bench_onset_accuracy(rng, args.notes)


if __name__ == "__main__":
    main()
