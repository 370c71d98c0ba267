"""Benchmark: `loopcap convert` against `xargs -P<cores> ffmpeg`, and bundled vs Debian ffmpeg.

    python bench/bench_convert.py [--notes 200] [--rounds 2]

1. 200 generated voice notes (3-8 s of espeak-ng speech as 16 kHz mono Ogg Opus, cached in the
   temp folder) to MP3: loopcap convert (the CLI, as a user runs it) against xargs running the
   same ffmpeg binary with the same settings, one process per core. Best of --rounds, alternated.
   Goal: loopcap reaches >= 0.95x the throughput of xargs.
2. Sequential Opus -> MP3 of 40 notes with imageio-ffmpeg's bundled binary and with
   /usr/bin/ffmpeg: which is faster decides PREFERENCE in capture/ffmpeg.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from capture.batch.convert import Mp3Options, mp3_command  # noqa: E402
from capture.ffmpeg import locate_ffmpeg  # noqa: E402

WORDS = (
    "please call me back when you get this message",
    "the train is running late so start without me",
    "remember to water the plants and feed the cat",
    "I found the documents you asked for yesterday",
    "let us meet at the usual place around seven",
    "the weather is lovely here, wish you were with us",
)


def make_notes(folder: Path, count: int) -> list[Path]:
    """``count`` notes of 3-8 s, made once and kept in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)

    def one(i: int) -> Path:
        path = folder / f"PTT-20240{1 + i % 9}{10 + i % 18}-WA{i:04d}.opus"
        if path.exists():
            return path
        text = ". ".join(WORDS[(i + k) % len(WORDS)] for k in range(1 + i % 3))
        wav = folder / f".{i}.wav"
        subprocess.run(["espeak-ng", "-s", str(140 + i % 40), "-w", str(wav), text], check=True)
        temp = folder / f".{i}.opus"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(wav), "-ac", "1", "-ar", "16000",
             "-c:a", "libopus", "-b:a", "24k", str(temp)],
            check=True,
        )  # fmt: skip
        wav.unlink()
        temp.rename(path)
        return path

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(one, range(count)))


def ffmpeg_args(binary: str, source: Path, target: Path) -> list[str]:
    """The exact command loopcap runs for one file, pointed at ``binary``."""
    args = mp3_command(source, target, Mp3Options()).compile(cmd=binary, overwrite_output=True)
    return [args[0], "-hide_banner", "-nostdin", "-loglevel", "error", *args[1:]]


def run_loopcap(notes_dir: Path, out: Path, jobs: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO), LOOPCAP_CONFIG_DIR=str(out.parent / "cfg"))
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "capture", "convert", str(notes_dir), "--out", str(out),
         "--jobs", str(jobs)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"loopcap convert failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def run_xargs(binary: str, notes: list[Path], out: Path, jobs: int) -> float:
    out.mkdir(parents=True, exist_ok=True)
    # Same flags as loopcap (from ffmpeg_args), the output name filled in by the shell.
    template = ffmpeg_args(binary, Path("/IN"), Path("/OUT"))
    script = " ".join(
        '"$1"' if a == "/IN" else '"$OUT/$(basename "$1" .opus).mp3"' if a == "/OUT" else f"'{a}'"
        for a in template
    )
    started = time.perf_counter()
    subprocess.run(
        ["xargs", "-0", "-n1", f"-P{jobs}", "sh", "-c", script, "_"],
        input=b"\0".join(str(p).encode() for p in notes),
        env=dict(os.environ, OUT=str(out)),
        check=True,
    )
    elapsed = time.perf_counter() - started
    made = len(list(out.glob("*.mp3")))
    if made != len(notes):
        raise SystemExit(f"xargs made {made} of {len(notes)} MP3s")
    return elapsed


def run_sequential(binary: str, notes: list[Path], out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for note in notes:
        subprocess.run(ffmpeg_args(binary, note, out / (note.stem + ".mp3")), check=True)
    return time.perf_counter() - started


def version(binary: str) -> str:
    first = subprocess.run([binary, "-version"], capture_output=True, text=True, check=True)
    return first.stdout.split("\n", 1)[0].split(" Copyright")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sequential-notes", type=int, default=40)
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    cache = Path(tempfile.gettempdir()) / "loopcap-bench-convert" / f"notes-{args.notes}"
    print(f"generating/caching {args.notes} notes in {cache} …", flush=True)
    notes = make_notes(cache, args.notes)
    binary = locate_ffmpeg().path
    print(f"ffmpeg used by loopcap: {version(binary)} ({locate_ffmpeg().origin}: {binary})")
    print(f"cores: {cores}")

    work = Path(tempfile.mkdtemp(prefix="loopcap-bench-"))
    try:
        loopcap_times, xargs_times = [], []
        for round_ in range(args.rounds):
            out = work / f"r{round_}"
            xargs_times.append(run_xargs(binary, notes, out / "xargs", cores))
            loopcap_times.append(run_loopcap(cache, out / "loopcap", cores))
            print(
                f"round {round_ + 1}: xargs -P{cores} {xargs_times[-1]:.2f} s, "
                f"loopcap convert --jobs {cores} {loopcap_times[-1]:.2f} s",
                flush=True,
            )
            shutil.rmtree(out)
        best_l, best_x = min(loopcap_times), min(xargs_times)
        ratio = best_x / best_l
        print(
            f"\n{args.notes} notes -> MP3: loopcap {best_l:.2f} s "
            f"({args.notes / best_l:.1f} files/s), xargs ffmpeg {best_x:.2f} s "
            f"({args.notes / best_x:.1f} files/s)"
        )
        verdict = "meets" if ratio >= 0.95 else "MISSES"
        print(f"throughput ratio loopcap/xargs: {ratio:.3f}x ({verdict} the 0.95x goal)")

        subset = notes[: args.sequential_notes]
        builds = {"bundled": _bundled(), "debian": "/usr/bin/ffmpeg"}
        print(f"\nsequential Opus -> MP3, {len(subset)} notes, one ffmpeg at a time:")
        times = {}
        for name, path in builds.items():
            if not path or not Path(path).exists():
                print(f"  {name}: not available")
                continue
            times[name] = min(
                run_sequential(path, subset, work / f"seq-{name}-{i}") for i in range(2)
            )
            print(f"  {name:8s} {times[name]:6.2f} s  {version(path)}")
        if len(times) == 2:
            fast, slow = sorted(times, key=times.__getitem__)
            print(f"  faster: {fast} ({times[slow] / times[fast]:.2f}x {slow})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bundled() -> str:
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        return ""


if __name__ == "__main__":
    main()
