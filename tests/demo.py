"""``make demo``: loopcap end to end on this machine, no sound card or display needed.

A private PulseAudio plays the sample voice note (assets/sample-note.opus) into a virtual
speaker; loopcap records the speaker's loopback, then catches the note as a note. Prints each
file and how well it matches what was played.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "assets" / "sample-note.opus"


def main() -> int:
    from tests.rig import best_alignment, decode_to_array, pulse_rig

    played = decode_to_array(SAMPLE)
    seconds = len(played) / 48000
    with (
        tempfile.TemporaryDirectory(prefix="loopcap-demo-") as tmp,
        pulse_rig(Path(tmp) / "pulse") as rig,
    ):
        env = {
            **rig.environ(),
            "LOOPCAP_STATE_DIR": f"{tmp}/state",
            "LOOPCAP_CONFIG_DIR": f"{tmp}/config",
            "PYTHONPATH": str(REPO),
        }
        out = REPO / "out"
        out.mkdir(exist_ok=True)
        loopcap = [sys.executable, "-m", "capture"]

        print(
            f"1. loopcap record --audio-only: a {seconds:.1f} s sample note plays into a "
            "virtual speaker"
        )
        record = subprocess.Popen(
            [
                *loopcap,
                "record",
                "--audio-only",
                "--duration",
                f"{seconds + 2:.1f}",
                "-o",
                str(out),
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        rig.play(SAMPLE).wait()
        recorded_path = Path(record.communicate()[0].strip())
        _, score = best_alignment(decode_to_array(recorded_path), played)
        print(f"   saved {recorded_path}\n   correlation with what was played: {score:.4f}")

        print("2. loopcap note: the same note, caught as a note, trimmed to its sound")
        note = subprocess.Popen(
            [*loopcap, "note", "--out", str(out), "--timeout", "30"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        rig.play(SAMPLE).wait()
        note_path = Path(note.communicate()[0].strip())
        recorded = decode_to_array(note_path)
        _, score = best_alignment(recorded, played)
        print(f"   saved {note_path} ({len(recorded) / 48000:.2f} s)")
        print(f"   correlation with what was played: {score:.4f}")
        ok = record.returncode == 0 and note.returncode == 0 and score > 0.95
        print("demo OK" if ok else "demo FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
