"""Finding ffmpeg, building its command lines (with ffmpeg-python) and running it.

This is the only module that starts ffmpeg. Which binary is used:

1. ``LOOPCAP_FFMPEG`` when set (an error if it is not a working ffmpeg);
2. otherwise the first working one in :data:`PREFERENCE` (the bundled build, measured converting
   voice notes to MP3 faster than Debian's in ``python -m bench convert``, comes first; both
   have every encoder loopcap uses);
3. none found: :class:`FfmpegError` saying how to get one.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from capture.errors import FfmpegError
from capture.processes import stop_process

#: Encoders loopcap knows how to use, and what each is for.
ENCODERS_OF_INTEREST = {
    "libmp3lame": "MP3 output (voice notes, conversion)",
    "libopus": "Opus output",
    "aac": "M4A and MP4 audio",
    "libx264": "MP4 screen recordings",
    "flac": "FLAC output",
}

#: Order in which installed ffmpeg builds are tried when LOOPCAP_FFMPEG is not set.
PREFERENCE = ("bundled", "path")

# Sample format of loopcap's raw session audio, in ffmpeg's words.
PCM_FORMAT = "s16le"


@dataclass(frozen=True, slots=True)
class FfmpegInfo:
    path: str
    version: str
    origin: str  # "LOOPCAP_FFMPEG", "path" or "bundled"
    encoders: frozenset[str]

    def has_encoder(self, name: str) -> bool:
        return name in self.encoders

    def require_encoder(self, name: str) -> None:
        if name not in self.encoders:
            raise FfmpegError(
                f"ffmpeg at {self.path} has no '{name}' encoder (needed for "
                f"{ENCODERS_OF_INTEREST.get(name, name)}); install a full ffmpeg build "
                "or point LOOPCAP_FFMPEG at one"
            )


def _candidates() -> Iterator[tuple[str, str]]:
    for origin in PREFERENCE:
        if origin == "path":
            found = shutil.which("ffmpeg")
            if found:
                yield origin, found
        elif origin == "bundled":
            try:
                import imageio_ffmpeg

                yield origin, imageio_ffmpeg.get_ffmpeg_exe()
            except (ImportError, RuntimeError):
                continue


def _probe(path: str, origin: str) -> FfmpegInfo | None:
    """Version and encoders of the ffmpeg at ``path``; remembered per binary between runs."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}"
    cached = _read_probe_cache().get(key)
    if cached is not None:
        return FfmpegInfo(path, cached["version"], origin, frozenset(cached["encoders"]))
    info = _run_probe(path, origin)
    if info is not None:
        _write_probe_cache(key, info)
    return info


def _probe_cache_path() -> Path:
    from capture.paths import state_dir

    return state_dir() / "ffmpeg-probe.json"


def _read_probe_cache() -> dict[str, Any]:
    try:
        data = json.loads(_probe_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_probe_cache(key: str, info: FfmpegInfo) -> None:
    # Two ffmpeg runs cost ~0.1 s at every start; the answer only changes with the binary.
    path = _probe_cache_path()
    entry = {"version": info.version, "encoders": sorted(info.encoders)}
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temp.write_text(json.dumps({key: entry}), encoding="utf-8")
        temp.replace(path)


def _run_probe(path: str, origin: str) -> FfmpegInfo | None:
    try:
        version_out = subprocess.run(
            [path, "-hide_banner", "-version"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
        encoders_out = subprocess.run(
            [path, "-hide_banner", "-encoders"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"ffmpeg version (\S+)", version_out)
    if not match:
        return None
    encoders = frozenset(
        m.group(1) for m in re.finditer(r"^\s*[VAS][A-Z.]{5}\s+(\S+)", encoders_out, re.M)
    )
    return FfmpegInfo(path=path, version=match.group(1), origin=origin, encoders=encoders)


@functools.lru_cache(maxsize=1)
def locate_ffmpeg() -> FfmpegInfo:
    """The ffmpeg loopcap will use, probed once per process."""
    override = os.environ.get("LOOPCAP_FFMPEG")
    if override:
        info = _probe(override, "LOOPCAP_FFMPEG")
        if info is None:
            raise FfmpegError(
                f"LOOPCAP_FFMPEG={override} is not a working ffmpeg; fix the path or unset it"
            )
        return info
    for origin, path in _candidates():
        info = _probe(path, origin)
        if info is not None:
            return info
    raise FfmpegError(
        "no ffmpeg found: install one (e.g. 'apt install ffmpeg'), reinstall loopcap with "
        "'pip install imageio-ffmpeg', or set LOOPCAP_FFMPEG to its path"
    )


# ---------------------------------------------------------------------------------------------
# Output formats


#: Ogg Opus as WhatsApp's own voice notes are: 16 kHz mono, a speech bitrate, the encoder tuned
#: for speech, and the vendor string WhatsApp's clients look for (written by capture.tags).
VOICE_NOTE_RATE = 16000
VOICE_NOTE_KBPS = 24
VOICE_NOTE_VENDOR = "WhatsApp"


@dataclass(frozen=True, slots=True)
class AudioFormat:
    extension: str
    muxer: str
    codec: str
    encoder_options: tuple[tuple[str, str], ...] = ()
    #: Forced output rate and channel count (a voice note is always 16 kHz mono), else the source's.
    sample_rate: int | None = None
    channels: int | None = None
    #: Ogg vendor string written into the tags, when the format asks for one.
    ogg_vendor: str = ""

    def output_options(self) -> list[str]:
        """The ffmpeg output options of this format (codec, muxer, encoder settings)."""
        options = ["-c:a", self.codec, "-f", self.muxer]
        for key, value in self.encoder_options:
            options += [f"-{key}", value]
        if self.sample_rate is not None:
            options += ["-ar", str(self.sample_rate)]
        if self.channels is not None:
            options += ["-ac", str(self.channels)]
        return options


def file_extension(fmt: str) -> str:
    """The file name extension of format ``fmt`` (audio or video), without the dot."""
    return "opus" if fmt == "voice-note" else fmt


#: Every audio format loopcap writes, by name: (ffmpeg muxer, encoder). The one table: the
#: settings and the command line take their choices from :data:`AUDIO_FORMATS`. "voice-note" is
#: Ogg Opus as WhatsApp's own voice notes are (see :func:`audio_format`), saved as .opus.
_AUDIO_ENCODERS = {
    "wav": ("wav", "pcm_s16le"),
    "flac": ("flac", "flac"),
    "mp3": ("mp3", "libmp3lame"),
    "m4a": ("ipod", "aac"),
    "opus": ("ogg", "libopus"),
    "voice-note": ("ogg", "libopus"),
}
AUDIO_FORMATS = tuple(_AUDIO_ENCODERS)
#: Other names a file of an audio format goes by: Ogg Opus is as often ``.ogg`` or ``.oga``.
EXTENSION_ALIASES = {"ogg": "opus", "oga": "opus"}


def same_container(fmt: str, other: str) -> bool:
    """Whether two audio formats write the same kind of file (e.g. voice-note and opus)."""
    return _AUDIO_ENCODERS.get(fmt, ("?",))[0] == _AUDIO_ENCODERS.get(other, ("!",))[0]


#: Screen recordings: H.264 (and AAC) in MP4 or Matroska.
VIDEO_FORMATS = ("mp4", "mkv")
#: Encoders every ffmpeg has built in: nothing to check before using them.
_BUILT_IN_ENCODERS = frozenset({"pcm_s16le"})


def audio_format(
    name: str, *, mp3_quality: int = 2, aac_kbps: int = 192, opus_kbps: int = 96
) -> AudioFormat:
    try:
        muxer, codec = _AUDIO_ENCODERS[name]
    except KeyError:
        raise FfmpegError(
            f"unknown audio format '{name}'; choose one of {', '.join(AUDIO_FORMATS)}"
        ) from None
    if name == "voice-note":
        return AudioFormat(
            "opus",
            muxer,
            codec,
            (("b:a", f"{VOICE_NOTE_KBPS}k"), ("vbr", "on"), ("application", "voip")),
            sample_rate=VOICE_NOTE_RATE,
            channels=1,
            ogg_vendor=VOICE_NOTE_VENDOR,
        )
    options = {
        "libmp3lame": (("q:a", str(mp3_quality)),),
        "aac": (("b:a", f"{aac_kbps}k"),),
        "libopus": (("b:a", f"{opus_kbps}k"),),
    }.get(codec, ())
    return AudioFormat(name, muxer, codec, options)


def encoders_for(fmt: str, *, audio: bool = True) -> tuple[str, ...]:
    """The encoders a recording to ``fmt`` needs (video: H.264, and AAC with ``audio``)."""
    if fmt in _AUDIO_ENCODERS:
        needed: tuple[str, ...] = (_AUDIO_ENCODERS[fmt][1],)
    else:
        needed = ("libx264", "aac") if audio else ("libx264",)
    return tuple(e for e in needed if e not in _BUILT_IN_ENCODERS)


def require_encoders_for(fmt: str, *, audio: bool = True) -> None:
    """FfmpegError now, naming what is missing, if ffmpeg cannot write ``fmt``."""
    needed = encoders_for(fmt, audio=audio)
    if needed:
        info = locate_ffmpeg()
        for encoder in needed:
            info.require_encoder(encoder)


# ---------------------------------------------------------------------------------------------
# Running


def _last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


# ffmpeg-python hashes its graph's arguments as UTF-8, which a Linux file name need not be (its
# bytes come to Python as surrogate escapes). Such a path enters the graph as a placeholder that
# compile_args swaps back; subprocess then hands ffmpeg the name's original bytes.
_PLACEHOLDERS: dict[str, str] = {}
_PLACEHOLDERS_LOCK = threading.Lock()


def path_arg(path: Path) -> str:
    """``path`` as a file argument of an ffmpeg-python graph, whatever bytes its name holds."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        import secrets

        token = f"loopcap-path-{secrets.token_hex(8)}"
        with _PLACEHOLDERS_LOCK:
            _PLACEHOLDERS[token] = text
        return token
    return text


def compile_args(stream: Any, *, overwrite: bool = True, loglevel: str = "error") -> list[str]:
    """The full command line of an ffmpeg-python stream, run with the located binary."""
    info = locate_ffmpeg()
    args: list[str] = stream.compile(cmd=info.path, overwrite_output=overwrite)
    with _PLACEHOLDERS_LOCK:
        args = [_PLACEHOLDERS.pop(arg, arg) for arg in args]
    # Quiet, non-interactive: no banner, no reading of our stdin unless a pipe is the input.
    return [args[0], "-hide_banner", "-nostdin", "-loglevel", loglevel, *args[1:]]


def run(
    stream: Any,
    *,
    what: str,
    cancel: threading.Event | None = None,
    timeout: float | None = None,
) -> None:
    """Run an ffmpeg-python stream to completion; raise FfmpegError naming ``what`` on failure.

    ``cancel`` stops ffmpeg early (the caller then removes the partial output).
    """
    run_args(compile_args(stream), what=what, cancel=cancel, timeout=timeout)


def base_args() -> list[str]:
    """The located ffmpeg with loopcap's quiet, non-interactive, overwriting flags."""
    return [locate_ffmpeg().path, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def run_args(
    args: list[str],
    *,
    what: str,
    cancel: threading.Event | None = None,
    timeout: float | None = None,
) -> None:
    """Run a full ffmpeg command line (from :func:`base_args` or :func:`compile_args`).

    Batch conversion builds its lists directly: many inputs per run, and no graph hashing.
    On failure the :class:`FfmpegError` carries ffmpeg's whole stderr in ``details``.
    """
    with subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as proc:
        stderr = _wait(proc, cancel, timeout)
    if cancel is not None and cancel.is_set():
        raise FfmpegError(f"{what}: cancelled")
    if proc.returncode != 0:
        error = FfmpegError(f"{what}: ffmpeg failed: {_last_error_line(stderr)}")
        error.details = stderr
        raise error


def _wait(
    proc: subprocess.Popen[bytes], cancel: threading.Event | None, timeout: float | None
) -> str:
    assert proc.stderr is not None
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    # The reader ends when ffmpeg exits (its stderr closes), so joining it notices the exit at
    # once; Popen.wait(timeout) polls with growing sleeps, which cost short jobs ~20 % of time.
    deadline = None if timeout is None else time.monotonic() + timeout
    while reader.is_alive():
        reader.join(timeout=0.1)
        if not reader.is_alive():
            break
        if (cancel is not None and cancel.is_set()) or (
            deadline is not None and time.monotonic() > deadline
        ):
            stop_process(proc, grace=5)
            break
    proc.wait()
    reader.join(timeout=5)
    return b"".join(chunks).decode("utf-8", "replace")


@contextmanager
def open_pipe(stream: Any, *, what: str) -> Iterator[IO[bytes]]:
    """Start ffmpeg reading from a pipe; yields its stdin. Closing waits for it to finish."""
    args = compile_args(stream)
    with subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdin is not None
        try:
            yield proc.stdin
        finally:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            stderr = _wait(proc, None, 120)
    if proc.returncode != 0:
        raise FfmpegError(f"{what}: ffmpeg failed: {_last_error_line(stderr)}")


def encode_pcm_file(
    pcm_path: Path,
    *,
    samplerate: int,
    channels: int,
    target: Path,
    fmt: AudioFormat,
    frames: int | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Encode loopcap's raw session audio into ``target`` (which the caller makes atomic)."""
    import ffmpeg as ffmpeg_python

    if fmt.codec not in _BUILT_IN_ENCODERS:
        locate_ffmpeg().require_encoder(fmt.codec)
    source = ffmpeg_python.input(str(pcm_path), f=PCM_FORMAT, ar=samplerate, ac=channels)
    options: dict[str, Any] = {"f": fmt.muxer, "acodec": fmt.codec, **dict(fmt.encoder_options)}
    if frames is not None:
        options["t"] = f"{frames / samplerate:.6f}"
    if fmt.sample_rate is not None:
        options["ar"] = fmt.sample_rate
    elif fmt.codec == "libopus" and samplerate not in (8000, 12000, 16000, 24000, 48000):
        options["ar"] = 48000
    if fmt.channels is not None:
        options["ac"] = fmt.channels
    # ffmpeg's own encoder tag is replaced by loopcap's in capture.tags.
    options["map_metadata"] = -1
    run(source.output(path_arg(target), **options), what=f"encoding {target.name}", cancel=cancel)


def media_duration(path: Path) -> float:
    """Duration in seconds of any file ffmpeg reads, by decoding it (no ffprobe needed)."""
    import ffmpeg as ffmpeg_python

    # The progress lines that carry the time are printed at the "info" level.
    args = compile_args(ffmpeg_python.input(path_arg(path)).output("-", f="null"), loglevel="info")
    result = subprocess.run(
        args, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if result.returncode != 0:
        raise FfmpegError(f"{path}: not readable by ffmpeg: {_last_error_line(result.stderr)}")
    times = re.findall(r"time=(\d+):(\d+):(\d+\.\d+)", result.stderr)
    if not times:
        raise FfmpegError(f"{path}: ffmpeg found no audio or video in it")
    h, m, s = times[-1]
    return int(h) * 3600 + int(m) * 60 + float(s)


def decode_pcm(path: Path, *, samplerate: int, channels: int) -> Any:
    """Any file ffmpeg reads, decoded to an int16 numpy array shaped (frames, channels)."""
    import ffmpeg as ffmpeg_python
    import numpy as np

    if not path.is_file():
        raise FfmpegError(f"{path}: no such file")
    args = compile_args(
        ffmpeg_python.input(str(path)).output("-", f="s16le", ac=channels, ar=samplerate)
    )
    result = subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        message = _last_error_line(result.stderr.decode(errors="replace"))
        raise FfmpegError(f"{path}: not readable by ffmpeg: {message}")
    return np.frombuffer(result.stdout, dtype="<i2").reshape(-1, channels).copy()


def version_line(info: FfmpegInfo) -> str:
    return f"ffmpeg {info.version} ({info.origin}: {info.path})"


# ---------------------------------------------------------------------------------------------
# The final mux of a screen recording


def mux(
    video: Path,
    target: Path,
    *,
    container: str,
    offset_s: float,
    duration_s: float,
    audio: Path | None = None,
    samplerate: int = 48000,
    channels: int = 2,
    aac_kbps: int = 192,
    cancel: threading.Event | None = None,
) -> None:
    """One ffmpeg run: the live video copied, the raw session audio encoded to AAC."""
    import ffmpeg as ffmpeg_python

    video_options: dict[str, Any] = {"itsoffset": f"{offset_s:.6f}"} if offset_s > 0 else {}
    streams = [ffmpeg_python.input(str(video), **video_options)["v"]]
    options: dict[str, Any] = {
        "vcodec": "copy",
        "t": f"{duration_s:.6f}",
        "map_metadata": -1,
    }
    if audio is not None:
        locate_ffmpeg().require_encoder("aac")
        streams.append(
            ffmpeg_python.input(str(audio), f=PCM_FORMAT, ar=samplerate, ac=channels)["a"]
        )
        options.update({"acodec": "aac", "b:a": f"{aac_kbps}k"})
    if container == "mkv":
        options["f"] = "matroska"
    else:
        options.update({"f": "mp4", "movflags": "+faststart"})
    run(
        ffmpeg_python.output(*streams, path_arg(target), **options),
        what=f"saving {target.name}",
        cancel=cancel,
    )
