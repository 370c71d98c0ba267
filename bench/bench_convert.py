"""Benchmark: `loopcap convert` against `xargs -P<cores> ffmpeg`, with the same settings.

    python bench/bench_convert.py [--notes 200] [--long 20] [--rounds 5] [--rss-files 10000]

1. Which ffmpeg is fastest here, for each workload: the bundled build and every other one
   present convert a sample of it with xargs, alternating; the faster one is the peer's binary.
2. 200 generated voice notes (3-8 s of espeak-ng speech as 16 kHz mono Ogg Opus, as WhatsApp
   records them) to MP3, then 20 recordings of 3 minutes each: loopcap convert (the CLI, as a
   user runs it) against xargs running the fastest ffmpeg, one process per core, each file with
   exactly the settings loopcap uses for it (bitrate, quality, output rate). Rounds alternate
   which goes first; the median of each is shown. Goals: >= 1.2x the throughput of xargs on the
   notes, >= 1.0x on the long files.
3. Memory: loopcap's peak RSS (its own process, and with its ffmpeg children) in the runs above,
   and on a batch of --rss-files one-second notes (hard links of a few), to show it stays flat.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from capture.batch.convert import Mp3Options, fitting_rate, mp3_command  # noqa: E402
from capture.ffmpeg import locate_ffmpeg  # noqa: E402

WORDS = (
    "please call me back when you get this message",
    "the train is running late so start without me",
    "remember to water the plants and feed the cat",
    "I found the documents you asked for yesterday",
    "let us meet at the usual place around seven",
    "the weather is lovely here, wish you were with us",
)
NOTE_ENCODING = ["-ac", "1", "-ar", "16000", "-c:a", "libopus", "-b:a", "24k"]


def _encode_note(wav: Path, target: Path, extra: list[str]) -> None:
    temp = target.with_name(f".{target.name}")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", *extra, "-i", str(wav), *NOTE_ENCODING,
         "-f", "ogg", str(temp)],
        check=True,
    )  # fmt: skip
    temp.rename(target)


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
        _encode_note(wav, path, [])
        wav.unlink()
        return path

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(one, range(count)))


def make_long(folder: Path, count: int, seconds: int, speech: list[Path]) -> list[Path]:
    """``count`` recordings of ``seconds`` each: the notes' speech looped, as 16 kHz Opus."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(count):
        path = folder / f"PTT-20240{1 + i % 9}{10 + i}-WA{i:04d}.opus"
        if not path.exists():
            listing = folder / f".{i}.txt"
            chosen = speech[i : i + 12]
            listing.write_text("".join(f"file '{p}'\n" for p in chosen))
            looped = ["-f", "concat", "-safe", "0", "-stream_loop", "-1", "-t", str(seconds)]
            _encode_note(listing, path, looped)
            listing.unlink()
        made.append(path)
    return made


def make_rss_batch(folder: Path, count: int) -> Path:
    """``count`` one-second notes (hard links of eight distinct ones) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = []
    for i in range(8):
        seed = folder.parent / f"seed-{i}.opus"
        if not seed.exists():
            wav = folder.parent / f".seed-{i}.wav"
            subprocess.run(["espeak-ng", "-w", str(wav), WORDS[i % len(WORDS)][:12]], check=True)
            _encode_note(wav, seed, [])
            wav.unlink()
        seeds.append(seed)
    for i in range(count):
        link = folder / f"PTT-20240101-WA{i:05d}.opus"
        if not link.exists():
            os.link(seeds[i % len(seeds)], link)
    return folder


# ---------------------------------------------------------------------------------------------
# Running and measuring


def _rss_kb(pid: int) -> int:
    try:
        with Path(f"/proc/{pid}/status").open() as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    """Child processes of every thread of ``pid`` (loopcap starts ffmpeg from worker threads)."""
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in children.read_text().split()]
        except OSError:
            continue
    return found


def run_loopcap(inputs: Path, out: Path, jobs: int) -> tuple[float, float, float]:
    """(seconds, peak RSS MB of loopcap itself, peak RSS MB of loopcap with its ffmpegs)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), LOOPCAP_CONFIG_DIR=str(out.parent / "cfg"))
    # Its output goes to a file: a pipe nobody reads while it runs would stall a long batch.
    log = out.parent / f"{out.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w+b") as output:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "capture", "convert", str(inputs), "--out", str(out),
             "--jobs", str(jobs)],
            env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        own = tree = 0
        while proc.poll() is None:
            main = _rss_kb(proc.pid)
            own = max(own, main)
            tree = max(tree, main + sum(_rss_kb(c) for c in _children(proc.pid)))
            time.sleep(0.1)  # sampling costs CPU too; loopcap should not pay for it
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            output.seek(0)
            raise SystemExit(f"loopcap convert failed:\n{output.read().decode()[-4000:]}")
    return elapsed, own / 1024, tree / 1024


def peer_command(binary: str, source: Path, options: Mp3Options) -> list[str]:
    """loopcap's own command for ``source``, pointed at ``binary``, with xargs' placeholders."""
    args = mp3_command(source, Path("/OUT/{}"), options)
    args[0] = binary
    return [
        "{}" if a == f"file:{source.absolute()}" else "/OUT/{}.mp3" if a == "file:/OUT/{}" else a
        for a in args
    ]


def run_xargs(binary: str, inputs: list[Path], out: Path, jobs: int) -> float:
    out.mkdir(parents=True, exist_ok=True)
    commands = {tuple(peer_command(binary, p, Mp3Options())) for p in inputs}
    if len(commands) != 1:
        raise SystemExit("the inputs need different settings; this peer runs one command line")
    command = [a.replace("/OUT/", f"{out}/") for a in commands.pop()]
    started = time.perf_counter()
    subprocess.run(
        ["xargs", "-0", f"-P{jobs}", "-I{}", *command],
        input=b"\0".join(p.name.encode() for p in inputs),
        cwd=inputs[0].parent,
        check=True,
    )
    elapsed = time.perf_counter() - started
    made = len(list(out.glob("*.mp3")))
    if made != len(inputs):
        raise SystemExit(f"xargs made {made} of {len(inputs)} MP3s")
    return elapsed


def version(binary: str) -> str:
    first = subprocess.run([binary, "-version"], capture_output=True, text=True, check=True)
    return first.stdout.split("\n", 1)[0].split(" Copyright")[0]


def fastest_ffmpeg(label: str, inputs: list[Path], work: Path) -> str:
    """The ffmpeg present that runs ``inputs`` fastest the way the peer runs them (xargs -P)."""
    cores = os.cpu_count() or 1
    builds = {"bundled": _bundled(), "path": shutil.which("ffmpeg") or ""}
    present = {n: p for n, p in builds.items() if p and Path(p).exists()}
    times: dict[str, list[float]] = {n: [] for n in present}
    for round_ in range(3):
        for name in present if round_ % 2 == 0 else reversed(list(present)):
            out = work / f"pick-{name}-{round_}"
            times[name].append(run_xargs(present[name], inputs, out, cores))
            shutil.rmtree(out)
    print(f"\nfastest ffmpeg for {label}: {len(inputs)} of them, xargs -P{cores}, median of 3:")
    for name, path in present.items():
        print(f"  {name:8s} {statistics.median(times[name]):6.2f} s  {version(path)}")
    fastest = min(present, key=lambda n: statistics.median(times[n]))
    print(f"  fastest: {fastest} ({present[fastest]}), used by the xargs peer")
    return present[fastest]


def compare(
    label: str, inputs: list[Path], folder: Path, peer: str, work: Path, rounds: int, goal: float
) -> list[float]:
    cores = os.cpu_count() or 1
    rate, recorded = fitting_rate(inputs[0], Mp3Options())
    settings = " ".join(peer_command(peer, inputs[0], Mp3Options())[6:-1])
    print(f"\n{label}: {len(inputs)} files, {recorded or '?'} Hz sources -> MP3 at "
          f"{rate or 'the source rate'}; both run: {settings}")  # fmt: skip
    loopcap_times, xargs_times, own_rss, tree_rss = [], [], [], []
    for round_ in range(rounds):
        out = work / f"{label}-r{round_}"
        order = ("xargs", "loopcap") if round_ % 2 == 0 else ("loopcap", "xargs")
        for who in order:
            if who == "xargs":
                xargs_times.append(run_xargs(peer, inputs, out / "xargs", cores))
            else:
                seconds, own, tree = run_loopcap(folder, out / "loopcap", cores)
                loopcap_times.append(seconds)
                own_rss.append(own)
                tree_rss.append(tree)
        print(
            f"  round {round_ + 1} ({order[0]} first): xargs -P{cores} {xargs_times[-1]:.2f} s, "
            f"loopcap convert --jobs {cores} {loopcap_times[-1]:.2f} s",
            flush=True,
        )
        shutil.rmtree(out)
    med_l, med_x = statistics.median(loopcap_times), statistics.median(xargs_times)
    ratio = med_x / med_l
    print(
        f"  median: loopcap {med_l:.2f} s ({len(inputs) / med_l:.1f} files/s), "
        f"xargs ffmpeg {med_x:.2f} s ({len(inputs) / med_x:.1f} files/s)"
    )
    verdict = "meets" if ratio >= goal else "MISSES"
    print(f"  throughput ratio loopcap/xargs: {ratio:.3f}x ({verdict} the {goal:.1f}x goal)")
    print(
        f"  peak RSS: loopcap {max(own_rss):.1f} MB, "
        f"with its ffmpeg processes {max(tree_rss):.1f} MB"
    )
    return [max(own_rss), max(tree_rss)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--long", type=int, default=20)
    parser.add_argument("--long-seconds", type=int, default=180)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sample-notes", type=int, default=40)
    parser.add_argument("--rss-files", type=int, default=10000)
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    cache = Path(tempfile.gettempdir()) / "loopcap-bench-convert"
    print(f"generating/caching test files in {cache} …", flush=True)
    notes = make_notes(cache / f"notes-{args.notes}", args.notes)
    long_files = make_long(
        cache / f"long-{args.long}x{args.long_seconds}", args.long, args.long_seconds, notes
    )
    binary = locate_ffmpeg().path
    print(f"ffmpeg used by loopcap: {version(binary)} ({locate_ffmpeg().origin}: {binary})")
    print(f"cores: {cores}")

    work = Path(tempfile.mkdtemp(prefix="loopcap-bench-"))
    try:
        peer = fastest_ffmpeg("voice notes", notes[: args.sample_notes], work)
        compare("voice notes", notes, notes[0].parent, peer, work, args.rounds, 1.2)
        peer = fastest_ffmpeg("3-minute files", long_files[:4], work)
        compare("3-minute files", long_files, long_files[0].parent, peer, work, args.rounds, 1.0)
        if args.rss_files:
            batch = make_rss_batch(cache / f"rss-{args.rss_files}", args.rss_files)
            seconds, own, tree = run_loopcap(batch, work / "rss" / "out", cores)
            print(
                f"\nmemory, {args.rss_files} one-second notes in {seconds:.1f} s: peak RSS "
                f"loopcap {own:.1f} MB, with its ffmpeg processes {tree:.1f} MB"
            )
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
