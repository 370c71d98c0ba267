"""The tray's start-up time and idle cost. Run: python bench/bench_tray.py

On the headless rig (Xvfb, trayer, a private D-Bus session with dunst, PulseAudio):
- ``loopcap tray`` until its icon is on the screen (seen in a screenshot of the tray strip),
  goal ≤ 1 s; ``loopcap --help``, goal ≤ 0.3 s. Both are set against ``python -c pass`` measured
  in the same run, so the ratios hold on any machine.
- CPU of the running tray (with its worker processes) while idle with the replay ring on,
  goal < 2 % of one core.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import make_loopcap  # noqa: E402 - after the path is set
from tests.rig import pulse_rig, xvfb_rig  # noqa: E402
from tray.host import xembed_host  # noqa: E402

WIDTH, HEIGHT, TRAY_HEIGHT = 800, 600, 32
IDLE_GREY = np.array((128, 134, 140))  # assets/make_icons.py
CLK_TCK = os.sysconf("SC_CLK_TCK")


def timed(command: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of a command, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def icon_visible(display: str) -> bool:
    import mss

    with mss.MSS(display=display) as grabber:
        shot = grabber.grab({"left": 0, "top": 0, "width": WIDTH, "height": TRAY_HEIGHT})
    rgb = np.frombuffer(shot.bgra, dtype=np.uint8).reshape(shot.height, shot.width, 4)[:, :, 2::-1]
    return int((np.abs(rgb.astype(np.int16) - IDLE_GREY).max(axis=2) <= 12).sum()) >= 30


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLK_TCK


TRAY_COMMAND = (sys.executable, "-m", "capture", "tray")


class Tray:
    def __init__(self, env: dict[str, str], runtime: Path) -> None:
        self.runtime = runtime
        script = 'dunst >/dev/null 2>&1 & d=$!; "$@"; rc=$?; kill $d; exit $rc'
        self.proc = subprocess.Popen(
            ["dbus-run-session", "--", "sh", "-c", script, "sh", *TRAY_COMMAND],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # dbus-daemon, dunst and loopcap: one group to stop
        )

    @property
    def pid(self) -> int:
        """The loopcap process itself, as the running instance records it."""
        return int((self.runtime / "instance.pid").read_text().strip())

    def stop(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
            self.proc.wait(20)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this run started
            self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="loopcap-bench-tray-") as tmp,
        pulse_rig(Path(tmp) / "pulse") as pulse,
        xvfb_rig(WIDTH, HEIGHT) as xvfb,
    ):
        loopcap = make_loopcap(Path(tmp), pulse.env)
        env = {**loopcap.env, "DISPLAY": xvfb.display, "NO_AT_BRIDGE": "1"}
        trayer = subprocess.Popen(
            [
                *("trayer", "--edge", "top", "--align", "right", "--widthtype", "request"),
                *("--height", str(TRAY_HEIGHT)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not xembed_host(xvfb.display):
                time.sleep(0.05)
            python = timed([sys.executable, "-c", "pass"], env, args.runs)
            help_time = timed([sys.executable, "-m", "capture", "--help"], env, args.runs)
            print("== start-up (median of", args.runs, "runs)")
            print(f"python -c pass            {python * 1000:7.0f} ms")
            print(
                f"loopcap --help            {help_time * 1000:7.0f} ms  "
                f"({help_time / python:.1f}x python; goal ≤ 300 ms)"
            )
            ready_times = []
            tray = None
            for run in range(args.runs):
                start = time.perf_counter()
                tray = Tray(env, loopcap.runtime)
                while not icon_visible(xvfb.display):
                    if tray.proc.poll() is not None:
                        raise SystemExit("loopcap tray exited before showing its icon")
                    time.sleep(0.01)
                ready_times.append(time.perf_counter() - start)
                if run < args.runs - 1:
                    tray.stop()
            ready = statistics.median(ready_times)
            print(
                f"loopcap tray → icon shown {ready * 1000:7.0f} ms  "
                f"({ready / python:.1f}x python; goal ≤ 1000 ms; "
                f"runs {', '.join(f'{t * 1000:.0f}' for t in ready_times)})"
            )

            assert tray is not None
            try:
                time.sleep(2.0)  # let start-up settle
                pids = process_tree(tray.pid)
                before, t0 = cpu_seconds(pids), time.perf_counter()
                time.sleep(args.idle_seconds)
                used, elapsed = cpu_seconds(pids) - before, time.perf_counter() - t0
                print(f"== idle, replay ring on, {elapsed:.0f} s, {len(pids)} process(es)")
                share = 100 * used / elapsed
                print(f"CPU                       {share:7.2f} % of a core (goal < 2 %)")
            finally:
                tray.stop()
        finally:
            trayer.terminate()
            trayer.wait()


if __name__ == "__main__":
    main()
