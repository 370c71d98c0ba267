"""A chain of voice notes played by a real player (headless Chromium), recorded from the
virtual speaker, with where each note's speech really is in the recording.

Other apps play at the same time where asked (``paplay``: a notification in a gap, music),
so the recording is what loopcap would hear. Where each note landed is found by its 10 ms
loudness envelope (the browser time-stretches at 1.5x / 2x, so waveforms do not compare),
searched near where the page said it started playing.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tests.browser import envelope_match, loudness_envelope, play_chain, wait_for_sink_input
from tests.corpus import PLAY_RATE, NoteFile, Placed, decode

ENVELOPE_MS = 10.0
SEARCH_S = 1.5  # how far from the page's timing a note may land


@dataclass(frozen=True)
class Extra:
    """Another app's sound: ``path`` played by paplay ``after_s`` after note ``after_note`` ends
    (``after_note`` = -1: that long after the chain started; len(notes)-1: after the last)."""

    path: Path
    after_note: int
    after_s: float


@dataclass
class ChainRecording:
    pcm: npt.NDArray[np.int16]  # 48 kHz stereo, as the speaker's monitor gave it
    placed: list[Placed]
    rate: float
    extras_at_s: list[tuple[str, float]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)  # what the page reported

    def save(self, folder: Path, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.raw").write_bytes(self.pcm.astype("<i2").tobytes())
        meta = {
            "rate": self.rate,
            "placed": [
                {"note": p.note.to_json(), "at_s": p.at_s, "first_s": p.first_s, "last_s": p.last_s}
                for p in self.placed
            ],
            "extras": self.extras_at_s,
            "events": self.events,
        }
        (folder / f"{name}.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, folder: Path, name: str, corpus_folder: Path) -> ChainRecording:
        meta = json.loads((folder / f"{name}.json").read_text())
        pcm = np.frombuffer((folder / f"{name}.raw").read_bytes(), dtype="<i2").reshape(-1, 2)
        placed = [
            Placed(
                NoteFile.from_json(corpus_folder, p["note"]), p["at_s"], p["first_s"], p["last_s"]
            )
            for p in meta["placed"]
        ]
        extras = [(str(name), float(at)) for name, at in meta["extras"]]
        return cls(pcm.copy(), placed, meta["rate"], extras, meta.get("events", []))


def record_chain(
    env: Mapping[str, str],
    notes: Sequence[NoteFile],
    gaps_s: Sequence[float],
    *,
    rate: float,
    extras: Sequence[Extra] = (),
    lead_s: float = 1.5,
    end_s: float = 2.0,
    workdir: Path,
    nice: int = 0,
) -> ChainRecording:
    """Play ``notes`` in Chromium at ``rate`` with ``gaps_s`` between them, record the speaker."""
    raw = workdir / f"chain-{rate:g}.raw"
    expected = sum(n.duration_s for n in notes) / rate + sum(gaps_s) + lead_s + 60
    players: list[subprocess.Popen[bytes]] = []
    extras_at: list[tuple[str, float]] = []
    with raw.open("wb") as sink:
        recorder = subprocess.Popen(
            ["parec", "-d", "virt.monitor", "--raw", "--format=s16le", f"--rate={PLAY_RATE}",
             "--channels=2", "--latency-msec=20"],
            env=dict(env), stdout=sink,
        )  # fmt: skip
        started = time.monotonic()
        try:
            with play_chain([n.path for n in notes], env, rate=rate, gaps_s=gaps_s,
                            lead_s=lead_s, nice=nice) as chain:  # fmt: skip
                wait_for_sink_input(env, "Chromium")
                pending = sorted(extras, key=lambda e: (e.after_note, e.after_s))
                while not chain.events.done.wait(0.02):
                    if time.monotonic() - started > expected:
                        seen = [(e.get("kind"), e.get("index")) for e in chain.events.items]
                        raise TimeoutError(f"the chain did not finish playing; page said {seen}")
                    pending = _start_due(pending, chain.events.items, env, started, players,
                                         extras_at)  # fmt: skip
                events = chain.wait(1)
                # The last note's extras (music after the chain) play out before we stop.
                while pending:
                    pending = _start_due(pending, events, env, started, players, extras_at)
                    time.sleep(0.02)
                for player in players:
                    player.wait(timeout=120)
                time.sleep(end_s)
        finally:
            for player in players:
                if player.poll() is None:
                    player.terminate()
                    player.wait()
            recorder.terminate()
            recorder.wait()
    pcm = np.frombuffer(raw.read_bytes(), dtype="<i2").reshape(-1, 2).copy()
    raw.unlink()
    placed = locate_notes(pcm, notes, events, rate)
    return ChainRecording(pcm, placed, rate, extras_at, list(events))


def _start_due(
    pending: list[Extra],
    events: list[dict[str, object]],
    env: Mapping[str, str],
    started: float,
    players: list[subprocess.Popen[bytes]],
    extras_at: list[tuple[str, float]],
) -> list[Extra]:
    ended = {int(str(e["index"])): float(str(e["t"])) for e in events if e.get("kind") == "ended"}
    first = next((float(e["t"]) for e in events if e.get("kind") == "playing"), None)  # type: ignore[arg-type]
    left = []
    now_page = None
    for extra in pending:
        if extra.after_note >= 0 and extra.after_note not in ended:
            left.append(extra)
            continue
        if extra.after_note < 0 and first is None:
            left.append(extra)
            continue
        # Page times are ms on the page's clock; wall time passed since is measured here.
        base = ended[extra.after_note] if extra.after_note >= 0 else first
        assert base is not None
        if now_page is None:
            now_page = _page_now(events, started)
        if now_page - base < extra.after_s * 1000:
            left.append(extra)
            continue
        players.append(
            subprocess.Popen(
                ["paplay", "-d", "virt", str(extra.path)],
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        extras_at.append((extra.path.name, time.monotonic() - started))
    return left


_PAGE_OFFSET: dict[int, float] = {}


def _page_now(events: list[dict[str, object]], started: float) -> float:
    """The page's clock now (ms), from the newest event's time and when it arrived here."""
    if not events:
        return 0.0
    last = events[-1]
    key = id(last)
    if key not in _PAGE_OFFSET:
        _PAGE_OFFSET.clear()
        _PAGE_OFFSET[key] = time.monotonic() * 1000 - float(last["t"])  # type: ignore[arg-type]
    return time.monotonic() * 1000 - _PAGE_OFFSET[key]


def locate_notes(
    pcm: npt.NDArray[np.int16],
    notes: Sequence[NoteFile],
    events: Sequence[dict[str, object]],
    rate: float,
) -> list[Placed]:
    """Where each note's speech is in the recording, by loudness envelope near the page's times."""
    mono = pcm.astype(np.float32).mean(axis=1) / 32768
    heard = loudness_envelope(mono, PLAY_RATE, ENVELOPE_MS)
    # A stalled element fires "playing" again when it resumes: the first one of each note counts.
    first_playing: dict[int, float] = {}
    for e in events:
        if e.get("kind") == "playing":
            first_playing.setdefault(int(str(e["index"])), float(str(e["t"])))
    starts = [first_playing[i] for i in range(len(notes))]
    per_s = 1000 / ENVELOPE_MS
    placed: list[Placed] = []
    offset_s: float | None = None  # recording time minus page time
    for i, note in enumerate(notes):
        played = loudness_envelope(decode(note.path, PLAY_RATE, 1, tempo=rate), PLAY_RATE)
        if offset_s is None:
            # Before the first note the player was silent (zeros) and no other app played.
            sounding = np.flatnonzero(pcm.any(axis=1))
            guess = float(sounding[0]) / PLAY_RATE if len(sounding) else None
        else:
            guess = starts[i] / 1000 + offset_s
        # The head (to 1 s past the first syllable) and the tail (the last second of speech) are
        # placed apart: a player's dropout in between shifts what follows it.
        first = round(note.first_s / rate * per_s)
        last = round(note.last_s / rate * per_s)
        head = played[: first + round(per_s)]
        head_at = _after_player_silence(pcm, heard, head, guess, per_s)
        if head_at is None:
            head_at = _place(heard, head, guess, per_s)
        if offset_s is None:
            offset_s = head_at - starts[i] / 1000
        tail_from = max(0, last - round(0.5 * per_s))
        tail_guess = head_at + tail_from / per_s
        tail_at = _place(heard, played[tail_from : last + round(0.2 * per_s)], tail_guess, per_s)
        placed.append(
            Placed(note, head_at, head_at + first / per_s, tail_at + (last - tail_from) / per_s)
        )
    return placed


def _after_player_silence(
    pcm: npt.NDArray[np.int16],
    heard: npt.NDArray[np.float64],
    head: npt.NDArray[np.float64],
    guess: float | None,
    per_s: float,
) -> float | None:
    """A note starts where the player's silence before it ends: of the ends of zero runs of at
    least 0.5 s near ``guess``, the one where the note's head envelope fits best (seconds)."""
    block = PLAY_RATE // 100
    usable = pcm[: len(pcm) // block * block].reshape(-1, block * pcm.shape[1])
    zero = np.asarray(~usable.any(axis=1), dtype=bool)
    edges = np.flatnonzero(zero[:-1] & ~zero[1:]) + 1  # first sounding 10 ms after zeros
    best: tuple[float, float] | None = None
    for edge in (int(e) for e in edges):
        at = edge / per_s
        run = edge - 1
        while run > 0 and zero[run - 1]:
            run -= 1
        if edge - run < 0.5 * per_s or (guess is not None and abs(at - guess) > 3.0):
            continue
        lo = max(0, edge - 3)
        hi = min(len(heard), edge + 3 + len(head))
        offset, fit = envelope_match(heard[lo:hi], head)
        if best is None or fit > best[1]:
            best = ((lo + offset) / per_s, fit)
    return None if best is None or best[1] < 0.5 else best[0]


def _place(
    heard: npt.NDArray[np.float64],
    piece: npt.NDArray[np.float64],
    guess: float | None,
    per_s: float,
) -> float:
    """Where ``piece`` sits in ``heard`` (seconds), within SEARCH_S of ``guess`` if given."""
    if guess is None:
        return envelope_match(heard, piece)[0] / per_s
    lo = max(0, round((guess - SEARCH_S) * per_s))
    hi = min(len(heard), round((guess + SEARCH_S) * per_s) + len(piece))
    return (lo + envelope_match(heard[lo:hi], piece)[0]) / per_s
