"""Benchmark: per-application capture against whole-mix capture, in one run.

    python bench/bench_perapp.py [--seconds 6] [--rounds 3]

On a private PulseAudio (and PipeWire for the second figure) with two stand-in apps playing:
1. CPU (user + system, the whole process tree) of ``loopcap record --audio-only --app MusicApp``
   against ``loopcap record --audio-only`` (the whole mix), alternating rounds, median ratio,
   on PulseAudio and on PipeWire. Goal: <= 1.2x.
2. Lost audio at a new stream's start: a stand-in app opens a new stream six times; each time,
   how much of its start is not in the recording (sample-exact comparison). Goal: 0 ms, at most
   20 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_record import loopcap_env, timed  # noqa: E402
from tests.rig import (  # noqa: E402
    RATE,
    PulseRig,
    best_alignment,
    noise,
    pulse_rig,
    this_process_on,
    write_wav,
)


def cpu_ratio(rig: PulseRig, folder: Path, seconds: float, rounds: int) -> None:
    music = write_wav(folder / "music.wav", noise(seconds * 2 * rounds + 30, seed=1))
    other = write_wav(folder / "other.wav", noise(seconds * 2 * rounds + 30, seed=2))
    players = [rig.play(music, app="MusicApp"), rig.play(other, app="OtherApp")]
    env = loopcap_env(rig, folder)
    base = [sys.executable, "-m", "capture", "record", "--audio-only", "--duration", str(seconds)]
    whole: list[float] = []
    per_app: list[float] = []
    try:
        for n in range(rounds):
            runs: list[tuple[list[str], list[float]]] = [
                ([], whole),
                (["--app", "MusicApp"], per_app),
            ]
            # Each goes first every other round: whatever else the machine does then is shared.
            for flags, results in runs if n % 2 == 0 else runs[::-1]:
                output = folder / f"cpu-{n}-{len(flags)}.wav"
                cpu, _ = timed([*base, "-o", str(output), *flags], env)
                results.append(cpu)
    finally:
        for player in players:
            player.kill()
    ratio = statistics.median(a / b for a, b in zip(per_app, whole, strict=True))
    print(
        f"CPU for {seconds:.0f} s: whole mix median {statistics.median(whole):.2f} s, "
        f"per app median {statistics.median(per_app):.2f} s "
        f"(rounds: {', '.join(f'{a:.2f}/{b:.2f}' for a, b in zip(per_app, whole, strict=True))})"
    )
    print(f"per-app / whole-mix CPU: {ratio:.2f}x (goal <= 1.2x)")


def lost_at_start(rig: PulseRig, folder: Path, streams: int = 6) -> list[float]:
    """Milliseconds missing from the start of each new stream."""
    from capture.audio import AppFilter, LoopbackSource

    clip = noise(0.5, seed=5)
    path = write_wav(folder / "voice.wav", clip)
    with this_process_on(rig):
        source = LoopbackSource(app=AppFilter("VoiceApp"))
        source.start()
        blocks = []
        started = time.monotonic()
        played = 0
        while time.monotonic() - started < 1.0 * streams + 1.5:
            if played < streams and time.monotonic() - started > 0.6 + played:
                rig.play(path, app="VoiceApp")
                played += 1
            block = source.read(0.05)
            if block is not None:
                blocks.append(block.frames)
        source.close()
    recorded = np.concatenate(blocks)[:, 0].astype(np.float32)
    reference = clip[:, 0].astype(np.float32)
    lost = []
    rest = recorded.copy()
    for _ in range(streams):
        offset, _score = best_alignment(rest, reference[RATE // 10 :])  # placed by its middle
        start = offset - RATE // 10
        got = recorded[max(0, start) : start + len(reference)]
        if start < 0 or len(got) < len(reference):
            lost.append(float("nan"))
            continue
        # The first sample from which recording and clip agree (within 2 LSB) for 10 ms.
        same = np.abs(got - reference) <= 2
        window = RATE // 100
        run = np.convolve(same.astype(np.int32), np.ones(window, dtype=np.int32), "valid")
        first = int(np.argmax(run == window)) if (run == window).any() else len(reference)
        lost.append(1000 * first / RATE)
        rest[max(0, start) : start + len(reference)] = 0
    return lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("cpu", "lost"), help="run one of the two parts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-perapp-") as tmp:
        folder = Path(tmp)
        for kind in ("pulseaudio", "pipewire") if args.only != "lost" else ():
            # On PipeWire the other apps' streams are followed too (to take them out of the mix).
            with pulse_rig(folder / f"{kind}-cpu", kind=kind) as rig:
                print(f"{kind}:", end=" ")
                (folder / kind).mkdir()
                cpu_ratio(rig, folder / kind, args.seconds, args.rounds)
        for kind in ("pulseaudio", "pipewire") if args.only != "cpu" else ():
            with pulse_rig(folder / f"{kind}-lost", kind=kind) as rig:
                lost = lost_at_start(rig, folder)
            shown = ", ".join(f"{ms:.1f}" for ms in lost)
            worst = max(lost) if lost else float("nan")
            print(
                f"{kind}: lost at a new stream's start: {shown} ms; worst {worst:.1f} ms "
                "(goal 0 ms, at most 20 ms)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
