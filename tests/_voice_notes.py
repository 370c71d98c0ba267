"""Test data for conversion and WhatsApp import: real speech (espeak-ng) encoded as Ogg Opus the
way WhatsApp sends it (16 kHz mono), and helpers that look at outputs with Debian's ffprobe."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
FFPROBE = shutil.which("ffprobe")
ESPEAK = shutil.which("espeak-ng")

SENTENCES = (
    "Hi, it is me. Call me back when you can.",
    "The meeting moved to four o'clock on Thursday.",
    "Can you buy bread and milk on the way home?",
    "I am on the train, I will be there in twenty minutes.",
    "Happy birthday! I hope you have a wonderful day.",
    "Do not forget the keys, they are on the kitchen table.",
)


def require_tools() -> None:
    if not (FFPROBE and ESPEAK and shutil.which("ffmpeg")):
        pytest.skip("needs ffmpeg, ffprobe and espeak-ng (apt install ffmpeg espeak-ng)")


def make_note(path: Path, text: str, *, speed: int = 175) -> Path:
    """Speak ``text`` into an Ogg Opus voice note at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run([ESPEAK or "espeak-ng", "-s", str(speed), "-w", str(wav), text], check=True)
        subprocess.run(
            [FFMPEG, "-v", "error", "-nostdin", "-y", "-i", str(wav), "-ac", "1", "-ar", "16000",
             "-c:a", "libopus", "-b:a", "24k", "-application", "voip", str(path)],
            check=True,
        )  # fmt: skip
    return path


def make_notes(folder: Path, count: int, *, prefix: str = "note") -> list[Path]:
    """``count`` different voice notes, made two at a time."""
    jobs = [
        (folder / f"{prefix}-{i:03d}.opus", f"Note {i}. {SENTENCES[i % len(SENTENCES)]}", 150 + i)
        for i in range(count)
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda job: make_note(job[0], job[1], speed=job[2]), jobs))


def probe(path: Path, entries: str, stream: bool = False) -> str:
    what = "stream" if stream else "format"
    args = [FFPROBE or "ffprobe", "-v", "error", "-show_entries", f"{what}={entries}"]
    if stream:
        args += ["-select_streams", "a:0"]
    result = subprocess.run(
        [*args, "-of", "default=nw=1:nk=1", str(path)], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def duration(path: Path) -> float:
    return float(probe(path, "duration"))


def codec(path: Path) -> str:
    return probe(path, "codec_name", stream=True)


def packet_hashes(path: Path) -> list[str]:
    """MD5 of every audio packet, as ffmpeg's framemd5 muxer lists them (stream copy)."""
    result = subprocess.run(
        [FFMPEG, "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a", "-c", "copy",
         "-f", "framemd5", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [line for line in result.stdout.splitlines() if line and not line.startswith("#")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}
