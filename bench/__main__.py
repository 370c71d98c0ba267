"""``make bench``: every benchmark in turn, each printing its ratios against plain ffmpeg.

``python -m bench convert perapp`` (or ``bench_convert``) runs only the benchmarks named.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        wanted = {name.removeprefix("bench_").removesuffix(".py") for name in names}
        unknown = wanted - {script.stem.removeprefix("bench_") for script in scripts}
        if unknown:
            known = ", ".join(script.stem.removeprefix("bench_") for script in scripts)
            print(
                f"no benchmark named {', '.join(sorted(unknown))}; there are: {known}",
                file=sys.stderr,
            )
            return 2
        scripts = [script for script in scripts if script.stem.removeprefix("bench_") in wanted]
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
