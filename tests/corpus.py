"""A corpus of realistic voice notes, and the sounds around them, made on this machine.

Every note is built the way a phone makes one: a speaker says a few sentences with thinking
pauses between them (0.3-2.5 s), over the room tone of the microphone (pink or brown noise at
-65 ... -48 dBFS, or none), and the result is encoded as WhatsApp sends it (Ogg Opus, 16 kHz
mono). Speakers: several espeak-ng voices and variants, festival's kal voice (a different
engine, with its own timing), and the real recorded speech of sound-theme-freedesktop. Around
the notes: notification sounds (freedesktop), a ring, and a music bed (synthesized here).

Deterministic: the same seed gives the same notes, byte for byte of the speech plan and level
plan (the encoder is the system's libopus). Files are cached in the folder the corpus is given,
so a test session or a benchmark builds each one once. Nothing downloads.

Each :class:`NoteFile` knows where its speech is (first and last syllable, in seconds of the
file), measured on the clean speech before room tone and encoding: the truth a segmenter is
scored against.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

NOTE_RATE = 16000  # WhatsApp voice notes: Opus from a 16 kHz input, mono
PLAY_RATE = 48000  # what a player outputs into the virtual speaker
FREEDESKTOP = Path("/usr/share/sounds/freedesktop/stereo")
FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
ESPEAK = shutil.which("espeak-ng")
TEXT2WAVE = shutil.which("text2wave")

# The level below the speech's own loudness where a syllable counts as begun (truth only).
SYLLABLE_BELOW_SPEECH_DB = 30.0

SENTENCES = (
    "Hi, it's me.",
    "So, about tomorrow.",
    "The meeting moved to four o'clock on Thursday.",
    "Can you buy bread and milk on the way home?",
    "I am on the train, I will be there in twenty minutes.",
    "Do not forget the keys, they are on the kitchen table.",
    "Hmm, what else.",
    "Call me back when you can.",
    "Tell your sister I said hello.",
    "The car needs a new tyre, I think.",
    "Anyway, that was it.",
    "Let me know what you think.",
    "We could also go on Sunday instead.",
    "Okay, bye!",
    "Wait, one more thing.",
    "The package arrived this morning.",
)

ESPEAK_VOICES = ("en-us", "en+f3", "en-gb+m3", "en-us+f4", "en-gb-scotland", "en+klatt2")
# Real recorded words (a person at a microphone): "front left", "rear center", ...
RECORDED_WORDS = tuple(
    f"audio-channel-{name}.oga"
    for name in (
        "front-left",
        "front-right",
        "front-center",
        "rear-left",
        "rear-right",
        "rear-center",
        "side-left",
        "side-right",
    )
)
# Sounds that are not notes, from other apps.
BLIPS = ("message-new-instant.oga", "bell.oga", "complete.oga", "message.oga")
RING = "phone-incoming-call.oga"

Audio = npt.NDArray[np.float64]


def tools_missing() -> list[str]:
    """What the corpus needs and this machine lacks (Debian package names)."""
    missing = []
    if ESPEAK is None:
        missing.append("espeak-ng")
    if TEXT2WAVE is None:
        missing.append("festival festvox-kallpc16k")
    if not (FREEDESKTOP / RECORDED_WORDS[0]).exists():
        missing.append("sound-theme-freedesktop")
    if shutil.which("ffmpeg") is None:
        missing.append("ffmpeg")
    return missing


@dataclass(frozen=True)
class NoteFile:
    """One encoded voice note and where its speech is, in seconds of the file."""

    path: Path
    speaker: str
    first_s: float  # first syllable
    last_s: float  # end of the last syllable
    duration_s: float
    pauses_s: tuple[float, ...]
    room_tone: str  # "pink -55 dBFS", "none", ...

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["path"] = self.path.name
        return data

    @classmethod
    def from_json(cls, folder: Path, data: dict[str, object]) -> NoteFile:
        return cls(
            path=folder / str(data["path"]),
            speaker=str(data["speaker"]),
            first_s=float(data["first_s"]),  # type: ignore[arg-type]
            last_s=float(data["last_s"]),  # type: ignore[arg-type]
            duration_s=float(data["duration_s"]),  # type: ignore[arg-type]
            pauses_s=tuple(data["pauses_s"]),  # type: ignore[arg-type]
            room_tone=str(data["room_tone"]),
        )


# -----------------------------------------------------------------------------------------------
# Sound sources


def _run(args: Sequence[str]) -> None:
    subprocess.run(list(args), check=True, capture_output=True)


def decode(path: Path, rate: int, channels: int = 1, *, tempo: float = 1.0) -> Audio:
    """Any file ffmpeg reads, as float samples in [-1, 1], shaped (frames,) or (frames, ch)."""
    args = [FFMPEG, "-v", "error", "-nostdin", "-i", str(path)]
    if tempo != 1.0:
        args += ["-af", f"atempo={tempo:g}"]
    args += ["-f", "f32le", "-ac", str(channels), "-ar", str(rate), "-"]
    raw = subprocess.run(args, capture_output=True, check=True).stdout
    samples = np.frombuffer(raw, dtype=np.float32).astype(np.float64)
    return samples if channels == 1 else samples.reshape(-1, channels)


def _speak_espeak(text: str, voice: str, speed: int, folder: Path) -> Audio:
    wav = folder / "espeak.wav"
    _run([ESPEAK or "espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text])
    return decode(wav, NOTE_RATE)


def _speak_festival(text: str, folder: Path) -> Audio:
    wav = folder / "festival.wav"
    subprocess.run(
        [TEXT2WAVE or "text2wave", "-o", str(wav)], input=text.encode(), check=True,
        capture_output=True,
    )  # fmt: skip
    return decode(wav, NOTE_RATE)


def _recorded_words(name: str) -> Audio:
    return decode(FREEDESKTOP / name, NOTE_RATE)


def _trim(speech: Audio, below_db: float = 50.0) -> Audio:
    """Cut the synthesizer's own leading and trailing silence."""
    env = _envelope_db(speech, NOTE_RATE)
    loud = np.flatnonzero(env > env.max() - below_db)
    if not len(loud):
        return speech
    window = NOTE_RATE // 100
    return speech[loud[0] * window : (loud[-1] + 1) * window]


def _envelope_db(mono: Audio, rate: int, window_ms: float = 10.0) -> Audio:
    window = max(1, round(rate * window_ms / 1000))
    usable = len(mono) // window * window
    power = (mono[:usable].reshape(-1, window) ** 2).mean(axis=1)
    db: Audio = 10 * np.log10(np.maximum(power, 1e-14))
    return db


def colored_noise(rng: np.random.Generator, frames: int, color: str) -> Audio:
    """Pink (1/f) or brown (1/f^2) noise of unit RMS."""
    white = rng.standard_normal(frames + 1)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(len(white), 1 / NOTE_RATE)
    freqs[0] = freqs[1]
    spectrum /= freqs ** (0.5 if color == "pink" else 1.0)
    spectrum[freqs < 20] = 0  # a microphone's high-pass: no DC, no rumble
    noise: Audio = np.fft.irfft(spectrum, len(white))[:frames]
    return noise / (np.sqrt((noise**2).mean()) or 1.0)


def music_bed(seconds: float, seed: int, level_db: float = -22.0) -> Audio:
    """Synthesized music (chords, bass, a beat) at ``PLAY_RATE`` stereo, RMS ``level_db``."""
    rng = np.random.default_rng(seed)
    frames = round(seconds * PLAY_RATE)
    t = np.arange(frames) / PLAY_RATE
    beat = 60 / 104
    out = np.zeros(frames)
    roots = [220.0, 174.6, 261.6, 196.0]
    for bar in range(int(seconds / (4 * beat)) + 1):
        root = roots[bar % len(roots)]
        for step in range(4):
            start = (bar * 4 + step) * beat
            a, b = round(start * PLAY_RATE), min(frames, round((start + beat) * PLAY_RATE))
            if a >= frames:
                break
            local = t[a:b] - start
            decay = np.exp(-local * 2.5)
            chord = sum(
                np.sin(2 * np.pi * root * ratio * local) / (k + 1)
                for k, ratio in enumerate((1.0, 1.26, 1.5, 2.0))
            )
            bass = np.sin(2 * np.pi * root / 4 * local) * 0.8
            kick = np.sin(2 * np.pi * (60 + 80 * np.exp(-local * 30)) * local) * np.exp(-local * 12)
            hat = rng.standard_normal(b - a) * np.exp(-local * 60) * 0.3
            out[a:b] += chord * decay * 0.5 + bass * decay + kick * (step % 2 == 0) + hat
    out /= np.sqrt((out**2).mean())
    out *= 10 ** (level_db / 20)
    return np.stack([out, out * 0.9], axis=1)


# -----------------------------------------------------------------------------------------------
# The corpus


class Corpus:
    """Voice notes and distractor sounds, made once into ``folder`` and reused from there."""

    def __init__(self, folder: Path, seed: int = 13) -> None:
        self.folder = folder
        self.seed = seed
        folder.mkdir(parents=True, exist_ok=True)

    # -- notes

    def note(self, index: int) -> NoteFile:
        """Note number ``index``: its speaker, sentences, pauses and room tone follow from it."""
        path = self.folder / f"note-{self.seed}-{index:03d}.opus"
        meta = path.with_suffix(".json")
        if path.exists() and meta.exists():
            return NoteFile.from_json(self.folder, json.loads(meta.read_text()))
        rng = np.random.default_rng([self.seed, index])
        with tempfile.TemporaryDirectory(prefix="loopcap-corpus-") as tmp:
            speaker, phrases = self._phrases(rng, index, Path(tmp))
        pauses = tuple(round(float(rng.uniform(0.3, 2.5)), 2) for _ in phrases[1:])
        lead = rng.uniform(0.15, 0.6)
        trail = rng.uniform(0.2, 0.6)
        parts: list[Audio] = [np.zeros(round(lead * NOTE_RATE))]
        for i, phrase in enumerate(phrases):
            parts.append(phrase)
            parts.append(np.zeros(round((pauses[i] if i < len(pauses) else trail) * NOTE_RATE)))
        speech = np.concatenate(parts)
        speech_db = float(rng.uniform(-26, -16))
        speech *= 10 ** (speech_db / 20) / _active_rms(speech)
        kind = ("pink", "brown", "none")[index % 3]
        tone_db = float(rng.uniform(-65, -48))
        room = (
            0.0 if kind == "none" else colored_noise(rng, len(speech), kind) * 10 ** (tone_db / 20)
        )
        mixed = np.clip(speech + room, -1, 1)
        # A syllable is where the clean speech comes within 30 dB of its level and above the
        # room tone (what is under the room tone cannot be heard, nor found).
        env = _envelope_db(speech, NOTE_RATE)
        audible = speech_db - SYLLABLE_BELOW_SPEECH_DB
        if kind != "none":
            audible = max(audible, tone_db)
        spoken = np.flatnonzero(env >= audible)
        first, last = spoken[0] / 100, (spoken[-1] + 1) / 100
        self._encode(mixed, path)
        note = NoteFile(
            path=path,
            speaker=speaker,
            first_s=first,
            last_s=last,
            duration_s=len(mixed) / NOTE_RATE,
            pauses_s=pauses,
            room_tone="none" if kind == "none" else f"{kind} {tone_db:.0f} dBFS",
        )
        meta.write_text(json.dumps(note.to_json()))
        return note

    def notes(self, count: int, first: int = 0) -> list[NoteFile]:
        return [self.note(i) for i in range(first, first + count)]

    def _phrases(self, rng: np.random.Generator, index: int, tmp: Path) -> tuple[str, list[Audio]]:
        kind = index % 5
        count = int(rng.integers(2, 5))
        texts = [SENTENCES[int(i)] for i in rng.choice(len(SENTENCES), count, replace=False)]
        if kind == 4:  # a real person: recorded words, "front left ... rear center"
            names = [RECORDED_WORDS[int(i)] for i in rng.choice(len(RECORDED_WORDS), count)]
            return "recorded (freedesktop)", [_trim(_recorded_words(n)) for n in names]
        if kind == 3:
            return "festival kal", [_trim(_speak_festival(t, tmp)) for t in texts]
        voice = ESPEAK_VOICES[(index // 5 + kind) % len(ESPEAK_VOICES)]
        speed = int(rng.integers(140, 190))
        return f"espeak-ng {voice} {speed} wpm", [
            _trim(_speak_espeak(t, voice, speed, tmp)) for t in texts
        ]

    @staticmethod
    def _encode(mono: Audio, path: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="loopcap-corpus-") as tmp:
            wav = Path(tmp) / "note.wav"
            _write_wav(wav, mono, NOTE_RATE)
            temp = path.with_name(path.name + ".tmp.opus")
            _run([FFMPEG, "-v", "error", "-nostdin", "-y", "-i", str(wav), "-ac", "1", "-ar",
                  str(NOTE_RATE), "-c:a", "libopus", "-b:a", "24k", "-application", "voip",
                  "-metadata", "encoder=WhatsApp", str(temp)])  # fmt: skip
            temp.replace(path)

    # -- what else plays

    def sound(self, name: str) -> Path:
        """A freedesktop sound by file name (a blip, the ring, recorded words)."""
        return FREEDESKTOP / name

    def music(self, seconds: float, seed: int = 0, level_db: float = -22.0) -> Path:
        path = self.folder / f"music-{self.seed}-{seed}-{seconds:g}s-{level_db:g}.wav"
        if not path.exists():
            _write_wav(path, music_bed(seconds, self.seed * 1000 + seed, level_db), PLAY_RATE)
        return path


def _active_rms(speech: Audio) -> float:
    """RMS over the parts that are speech (louder than 40 dB under the peak window)."""
    env = _envelope_db(speech, NOTE_RATE)
    active = env > env.max() - 40
    window = NOTE_RATE // 100
    frames = speech[: len(env) * window].reshape(-1, window)[active]
    return float(np.sqrt((frames**2).mean())) or 1.0


def _write_wav(path: Path, samples: Audio, rate: int) -> None:
    import wave

    data = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    if data.ndim == 1:
        data = data[:, None]
    temp = path.with_name(path.name + ".tmp")
    with wave.open(str(temp), "wb") as out:
        out.setnchannels(data.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(data).tobytes())
    temp.replace(path)


# -----------------------------------------------------------------------------------------------
# A player's output, without a player: for quick tests of the segmenter


@dataclass(frozen=True)
class Placed:
    """A note inside a rendered stream: its speech from ``first_s`` to ``last_s`` (stream time)."""

    note: NoteFile
    at_s: float  # where the file starts playing
    first_s: float
    last_s: float


def render_chain(
    notes: Sequence[NoteFile],
    gaps_s: Sequence[float],
    *,
    rate: float = 1.0,
    lead_s: float = 1.0,
    end_s: float = 3.0,
    extras: Sequence[tuple[float, Audio]] = (),
) -> tuple[npt.NDArray[np.int16], list[Placed]]:
    """What a player such as a browser outputs: each note decoded (time-stretched at ``rate``
    by ffmpeg's atempo, pitch kept), digital silence between notes, 48 kHz stereo int16.
    ``extras`` (start second, float stereo audio) are mixed in, as other apps would be."""
    pieces: list[Audio] = [np.zeros((round(lead_s * PLAY_RATE), 2))]
    placed: list[Placed] = []
    at = lead_s
    for i, note in enumerate(notes):
        audio = decode(note.path, PLAY_RATE, 2, tempo=rate)
        placed.append(Placed(note, at, at + note.first_s / rate, at + note.last_s / rate))
        pieces.append(audio)
        at += len(audio) / PLAY_RATE
        gap = gaps_s[i] if i < len(gaps_s) else end_s
        pieces.append(np.zeros((round(gap * PLAY_RATE), 2)))
        at += round(gap * PLAY_RATE) / PLAY_RATE
    stream = np.concatenate(pieces)
    for start, audio in extras:
        a = round(start * PLAY_RATE)
        b = min(len(stream), a + len(audio))
        stream[a:b] += audio[: b - a]
    pcm: npt.NDArray[np.int16] = np.clip(np.round(stream * 32767), -32768, 32767).astype(np.int16)
    return pcm, placed


# -----------------------------------------------------------------------------------------------
# Scoring what a segmenter found against what was played

ONSET_TOLERANCE_S = 0.05  # the saved note's onset vs the first syllable
END_TOLERANCE_S = 0.3  # its last sound, after the last syllable


@dataclass(frozen=True)
class Found:
    """A note the segmenter found, in seconds of the stream (from a capture.notes.Note)."""

    start_s: float
    onset_s: float
    last_sound_s: float
    end_s: float


@dataclass
class Score:
    exact: int = 0
    total: int = 0
    false_notes: int = 0
    problems: list[str] | None = None

    def add(self, other: Score) -> None:
        self.exact += other.exact
        self.total += other.total
        self.false_notes += other.false_notes
        self.problems = (self.problems or []) + (other.problems or [])


def score(found: Sequence[Found], played: Sequence[Placed], label: str = "") -> Score:
    """Each played note is caught exactly when one found note covers it and no other: its onset
    within 50 ms of the first syllable, its last sound from 50 ms before to 300 ms after the last
    syllable, nothing of a neighbour's speech in what is saved. Found notes overlapping no
    played note are false notes (blips, music)."""
    result = Score(total=len(played), problems=[])
    assert result.problems is not None
    for i, note in enumerate(played):
        mine = [f for f in found if f.onset_s < note.last_s and f.last_sound_s > note.first_s]
        name = f"{label}note {i} ({note.note.speaker}, {note.note.room_tone})"
        if len(mine) != 1:
            spans = ", ".join(f"{f.onset_s:.2f}-{f.last_sound_s:.2f}" for f in mine)
            result.problems.append(
                f"{name} at {note.first_s:.2f}-{note.last_s:.2f} s: "
                f"{len(mine)} notes found [{spans}]"
            )
            continue
        got = mine[0]
        others = [p for p in played if p is not note]
        neighbour = any(got.start_s < p.last_s and got.end_s > p.first_s for p in others)
        onset_error = got.onset_s - note.first_s
        end_error = got.last_sound_s - note.last_s
        if (
            neighbour
            or abs(onset_error) > ONSET_TOLERANCE_S
            or not (-ONSET_TOLERANCE_S <= end_error <= END_TOLERANCE_S)
        ):
            result.problems.append(
                f"{name}: onset {onset_error * 1000:+.0f} ms, end {end_error * 1000:+.0f} ms"
                + (", holds a neighbour's speech" if neighbour else "")
            )
            continue
        result.exact += 1
    for f in found:
        if not any(f.onset_s < p.last_s and f.last_sound_s > p.first_s for p in played):
            result.false_notes += 1
            result.problems.append(f"{label}false note at {f.onset_s:.2f}-{f.last_sound_s:.2f} s")
    return result


def found_notes(notes: Iterable[Any], samplerate: int = PLAY_RATE) -> list[Found]:
    """capture.notes.Note objects (frames) as :class:`Found` (seconds)."""
    return [
        Found(
            n.start_frame / samplerate,
            n.onset_frame / samplerate,
            n.last_sound_frame / samplerate,
            n.end_frame / samplerate,
        )
        for n in notes
    ]
