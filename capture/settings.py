"""loopcap's settings: one frozen dataclass tree, defaults written here and nowhere else.

The settings live in ``settings.toml`` in the platform's config folder (``loopcap paths`` shows
where). Every key is optional; a key that is unknown, of the wrong type or out of range is a
:class:`SettingsError` naming the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capture.errors import SettingsError
from capture.ffmpeg import AUDIO_FORMATS, VIDEO_FORMATS
from capture.paths import music_dir, settings_path

if TYPE_CHECKING:
    from capture.audio._apps import AppFilter

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
)  # fmt: skip


def _limits(
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    *,
    file_name_template: bool = False,
) -> dict[str, Any]:
    return {
        "low": low,
        "high": high,
        "choices": choices,
        "file_name_template": file_name_template,
    }


@dataclass(frozen=True, slots=True)
class AudioSettings:
    # Empty: the loopback of the default speaker, followed when the default changes.
    source: str = ""
    # Record only this application's sound (part of its name or executable, any case), every
    # stream it opens; empty: all sound. exclude_app: all sound but this application's.
    app: str = ""
    exclude_app: str = ""
    samplerate: int = field(default=48000, metadata=_limits(8000, 192000))
    channels: int = field(default=2, metadata=_limits(1, 8))
    # How much audio the capture worker hands over at once; smaller is lower latency, more CPU.
    # 100 ms: bench_record measured 2.3 % of a core at 40 ms against 1.7 % here, and nothing
    # needs it finer (positions come from the sample count, not from block arrival).
    block_ms: int = field(default=100, metadata=_limits(5, 500))
    # A stall longer than this (no data at all) is treated as a gap and filled with silence.
    gap_threshold_s: float = field(default=0.5, metadata=_limits(0.1, 10))
    # How long to keep trying to reach the audio server again before giving up on a recording.
    reconnect_timeout_s: float = field(default=120.0, metadata=_limits(1, 3600))


@dataclass(frozen=True, slots=True)
class OutputSettings:
    # Empty: the platform's music folder / loopcap.
    folder: str = ""
    audio_format: str = field(default="mp3", metadata=_limits(choices=AUDIO_FORMATS))
    # strftime pattern of new recordings' names (without extension).
    # A file name, never a path; a name too long for the disk is shortened.
    name_template: str = field(
        default="loopcap-%Y-%m-%d_%H-%M-%S", metadata=_limits(file_name_template=True)
    )
    # strftime pattern of saved voice notes, applied to the note's start.
    note_name_template: str = field(
        default="note-%Y-%m-%d_%H-%M-%S", metadata=_limits(file_name_template=True)
    )
    # LAME VBR quality, 0 (best) to 9 (smallest).
    mp3_quality: int = field(default=2, metadata=_limits(0, 9))
    aac_bitrate_kbps: int = field(default=192, metadata=_limits(32, 512))
    opus_bitrate_kbps: int = field(default=96, metadata=_limits(6, 510))


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    # Recent audio kept in memory while listening, so a note can be saved after it began.
    # Memory is seconds x rate x channels x 2 bytes: 120 s of 48 kHz stereo is 23 MB, 30 min 346 MB.
    seconds: float = field(default=120.0, metadata=_limits(5, 1800))


@dataclass(frozen=True, slots=True)
class NoteSettings:
    """How voice notes are told apart from silence, from each other and from blips.

    The level is the RMS loudness (dBFS) of each ``window_ms`` of audio. A note starts when it
    rises ``margin_db`` above the noise floor (never below ``min_threshold_db``) and a voice
    activity detector (``vad``) hears speech in it. It ends automatically: after
    ``player_silence_s`` of digital silence (a player between notes outputs exact zeros, while
    a pause inside a recorded note still carries the microphone's room tone), or after
    ``max_pause_s`` without sound of any kind. ``silence_s`` > 0 replaces both with one fixed
    silence. A note is saved from ``preroll_s`` before its onset to ``tail_s`` after its last
    sound. Sound lasting less than ``min_note_s`` (a notification blip) is no note.
    """

    window_ms: int = field(default=20, metadata=_limits(5, 100))
    margin_db: float = field(default=10.0, metadata=_limits(1, 60))
    # Quiet speech must still count, hiss and dither must not.
    min_threshold_db: float = field(default=-50.0, metadata=_limits(-90, -6))
    # Once a note sounds, the level may dip this far below the start threshold and still count.
    hysteresis_db: float = field(default=3.0, metadata=_limits(0, 30))
    # The noise floor is this low percentile of the levels over the last floor_window_s: a sound
    # that goes on this long without pauses (music starting) becomes the floor, not a note.
    floor_percentile: float = field(default=5.0, metadata=_limits(0, 50))
    floor_window_s: float = field(default=20.0, metadata=_limits(1, 300))
    # 0: end notes automatically (player silence / max_pause_s). More than 0: a note ends after
    # this long without sound, whatever the silence is made of (the behaviour of loopcap 0.1).
    silence_s: float = field(default=0.0, metadata=_limits(0, 30))
    # Digital silence (exact zeros) this long ends a note: players output it between notes
    # (0.9 s or more when they autoplay 1 s apart). Shorter runs happen inside notes when a busy
    # machine makes the player or the capture drop out (up to 0.8 s seen here).
    player_silence_s: float = field(default=0.8, metadata=_limits(0.1, 10))
    # Anything quieter than the threshold this long ends a note, zeros or not: longer than a
    # thinking pause (up to ~2.5 s at 1x; shorter when played faster).
    max_pause_s: float = field(default=3.0, metadata=_limits(0.5, 30))
    # Voice activity detection: "silero" keeps music and notification sounds from being notes
    # and tells where speech begins; "off" decides by level alone.
    vad: str = field(default="silero", metadata=_limits(choices=("silero", "off")))
    # Silero's speech probability from which a 32 ms frame counts as speech.
    vad_threshold: float = field(default=0.5, metadata=_limits(0.05, 0.95))
    # How long into each new sound the VAD listens for speech in its start. A sound that goes on
    # without speech (music) is still listened to: speech starting over it starts a note.
    vad_look_s: float = field(default=1.5, metadata=_limits(0.2, 30))
    min_note_s: float = field(default=0.3, metadata=_limits(0, 30))
    preroll_s: float = field(default=0.25, metadata=_limits(0, 5))
    # At most player_silence_s (or silence_s when set): a note is only known to have ended
    # that long after its last sound.
    tail_s: float = field(default=0.3, metadata=_limits(0, 30))
    # A note's last sound is held this much longer than the last syllable heard (never into
    # player silence): a final consonant too weak to stand out from the room tone, or smeared
    # away by a player's time-stretch, is kept.
    hangover_s: float = field(default=0.12, metadata=_limits(0, 2))
    # catch_note with nothing playing saves a note whose sound stopped this recently...
    recent_s: float = field(default=5.0, metadata=_limits(0, 120))
    # ...and otherwise waits this long for the next note.
    catch_timeout_s: float = field(default=60.0, metadata=_limits(1, 3600))


@dataclass(frozen=True, slots=True)
class ConvertSettings:
    """`loopcap convert` and `loopcap import-whatsapp`."""

    # LAME VBR quality, 0 (best) to 9 (smallest).
    mp3_quality: int = field(default=2, metadata=_limits(0, 9))
    # Files converted at once; 0 means one per CPU core.
    jobs: int = field(default=0, metadata=_limits(0, 64))
    # EBU R128 loudness normalization of every output (also `--normalize`).
    normalize: bool = False
    loudness_lufs: float = field(default=-16.0, metadata=_limits(-40, -5))


@dataclass(frozen=True, slots=True)
class HotkeySettings:
    """Global hotkeys of ``loopcap tray`` and ``loopcap listen``, in pynput's syntax."""

    enabled: bool = True
    catch_note: str = "<ctrl>+<alt>+n"
    save_last: str = "<ctrl>+<alt>+s"
    toggle_recording: str = "<ctrl>+<alt>+r"
    save_last_seconds: float = field(default=120.0, metadata=_limits(1, 1800))


@dataclass(frozen=True, slots=True)
class ScreenSettings:
    """Screen recording: H.264 (libx264) at a constant frame rate, audio as AAC."""

    fps: int = field(default=30, metadata=_limits(1, 120))
    preset: str = field(default="ultrafast", metadata=_limits(choices=X264_PRESETS))
    # Quality: 0 lossless, 23 libx264's default, 51 worst.
    crf: int = field(default=23, metadata=_limits(0, 51))
    cursor: bool = False
    video_format: str = field(default="mp4", metadata=_limits(choices=VIDEO_FORMATS))
    # How frames reach the encoder: "i420" (converted by OpenCV, 1.5 bytes a pixel through the
    # pipe) or "bgra" (as grabbed, 4 bytes a pixel, converted by ffmpeg). bench/bench_screen.py
    # measures both.
    frame_path: str = field(default="i420", metadata=_limits(choices=("i420", "bgra")))


@dataclass(frozen=True, slots=True)
class Settings:
    audio: AudioSettings = field(default_factory=AudioSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    replay: ReplaySettings = field(default_factory=ReplaySettings)
    notes: NoteSettings = field(default_factory=NoteSettings)
    hotkeys: HotkeySettings = field(default_factory=HotkeySettings)
    convert: ConvertSettings = field(default_factory=ConvertSettings)
    screen: ScreenSettings = field(default_factory=ScreenSettings)


# ---------------------------------------------------------------------------------------------
# Where things live


def output_folder(settings: Settings) -> Path:
    if settings.output.folder:
        return Path(settings.output.folder).expanduser()
    return music_dir()


# ---------------------------------------------------------------------------------------------
# Loading and validating


def load_settings(path: Path | None = None) -> Settings:
    """Read the settings file; a missing file means all defaults."""
    path = path or settings_path()
    text, mode = _read_settings_text(path)
    if mode is None:
        return Settings()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc}); fix or delete the file") from exc
    return settings_from_dict(data, source=str(path))


def settings_from_dict(data: dict[str, Any], source: str = "settings") -> Settings:
    settings: Settings = _build(Settings, data, prefix="", source=source)
    return settings


def _build(cls: type[Any], data: Any, prefix: str, source: str) -> Any:
    where = prefix.rstrip(".") or "top level"
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: [{where}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields))
        raise SettingsError(f"{source}: unknown key '{prefix}{unknown[0]}' (known here: {known})")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}{name}"
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(typing.cast(type[Any], hint), value, f"{key}.", source)
        else:
            values[name] = _check_value(key, hint, value, fields[name].metadata, source)
    return cls(**values)


def _check_value(
    key: str, hint: Any, value: Any, limits: typing.Mapping[str, Any], source: str
) -> Any:
    expected = _plain_type(hint)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and expected is not bool:
        raise SettingsError(f"{source}: '{key}' must be {expected.__name__}, not a boolean")
    if expected is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{source}: '{key}' must be a list of strings")
        value = tuple(value)
    elif not isinstance(value, expected):
        raise SettingsError(
            f"{source}: '{key}' must be {expected.__name__}, not {type(value).__name__} ({value!r})"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingsError(f"{source}: '{key}' = {value} is not a number; give a plain number")
    if limits.get("file_name_template"):
        problem = name_template_problem(value)
        if problem:
            raise SettingsError(f"{source}: '{key}' = {value!r} {problem}")
    low, high, choices = limits.get("low"), limits.get("high"), limits.get("choices", ())
    if low is not None and value < low:
        raise SettingsError(f"{source}: '{key}' = {value} is below the minimum {low}")
    if high is not None and value > high:
        raise SettingsError(f"{source}: '{key}' = {value} is above the maximum {high}")
    if choices and value not in choices:
        raise SettingsError(f"{source}: '{key}' = {value!r}; choose one of {', '.join(choices)}")
    return value


def name_template_problem(template: str) -> str:
    """What is wrong with a file name template ('' when nothing): said for the user."""
    if not template.strip():
        return "is empty; give a name such as loopcap-%Y-%m-%d_%H-%M-%S"
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    if any(sep in template for sep in separators) or template in (".", ".."):
        return "makes a path, not a file name; leave folders out (the folder is output.folder)"
    if "\0" in template:
        return "holds a NUL character"
    if template.startswith("."):
        return "starts with '.', which would hide the files; start it with a letter"
    return ""


def _plain_type(hint: Any) -> type[Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _plain_type(args[0])
    if origin is tuple:
        return tuple
    return typing.cast(type[Any], hint)


def settings_to_dict(settings: Any) -> dict[str, Any]:
    """The settings as plain TOML-ready values (tuples become lists)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = settings_to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def write_default_settings(path: Path | None = None) -> Path:
    """Create the settings file with every default written out, unless it exists."""
    import tomli_w

    path = path or settings_path()
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# loopcap settings. Every key is optional; delete one to get its default back.\n"
        "# Reference: the Settings section of loopcap's README.\n\n"
    )
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(header + tomli_w.dumps(settings_to_dict(Settings())), encoding="utf-8")
    temp.replace(path)
    return path


def app_filter(audio: AudioSettings) -> AppFilter | None:
    """The application the settings follow (``app``, or all but ``exclude_app``), if any."""
    from capture.audio._apps import AppFilter

    if audio.app.strip() and audio.exclude_app.strip():
        raise SettingsError(
            "[audio] app and exclude_app are both set; keep one of them (or neither: all sound)"
        )
    if audio.app.strip():
        return AppFilter(audio.app.strip())
    if audio.exclude_app.strip():
        return AppFilter(audio.exclude_app.strip(), exclude=True)
    return None


def remember_app(app: AppFilter | None, path: Path | None = None) -> Path:
    """Write the followed application into the settings file's ``[audio]`` (None: all sound).

    Only ``app`` and ``exclude_app`` change (an empty one means "not set"); the rest of the
    file stays as the user wrote it (see :func:`update_settings_file`).
    """
    wanted = {"app": "", "exclude_app": ""}
    if app is not None:
        wanted["exclude_app" if app.exclude else "app"] = app.name

    def changes(current: dict[str, Any]) -> dict[str, Any]:
        audio = current.get("audio", {})
        # A key that is not in the file and would be empty stays out of it.
        return {f"audio.{key}": value for key, value in wanted.items() if value or audio.get(key)}

    return update_settings_file(changes, path)


def _read_settings_text(path: Path, *, to_change: bool = False) -> tuple[str, int | None]:
    """The settings file's text and permission bits ("" and None when it does not exist).
    ``to_change``: it was read to be changed, which its error then says did not happen."""
    try:
        return path.read_text(encoding="utf-8"), path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return "", None
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        unchanged = ", so it was not changed" if to_change else ""
        raise SettingsError(
            f"{path}: not UTF-8 text (a stray byte at offset {exc.start}){unchanged}; "
            "save it as UTF-8 or delete it"
        ) from None


def update_settings_file(
    changes: Callable[[dict[str, Any]], dict[str, Any]], path: Path | None = None
) -> Path:
    """Set the ``"section.key": value`` pairs that ``changes`` gives for the file's current
    settings (a plain dict of what it holds), changing nothing else.

    Comments, the order of tables and keys, blank lines and the way values are written all stay
    as the user wrote them (tomlkit edits the document instead of dumping data). The file is
    written under a temporary name and renamed (a symlink's target is what changes; its
    permissions are kept). A file that cannot be read, is not valid TOML or holds settings
    loopcap refuses is never written: SettingsError says what is wrong with it.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    from capture.recording.atomic import write_atomically

    path = path or settings_path()
    if path.is_symlink():  # settings kept elsewhere (a dotfiles repository): keep the link
        path = path.resolve()
    text, mode = _read_settings_text(path, to_change=True)
    try:
        current = tomllib.loads(text)
        settings_from_dict(current, source=str(path))
        document = tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, TOMLKitError) as exc:
        raise SettingsError(
            f"{path}: not valid TOML ({exc}), so it was not changed; fix or delete it"
        ) from None
    except SettingsError as exc:
        raise SettingsError(f"{exc}; the file was not changed") from None
    for dotted, value in changes(current).items():
        section, key = dotted.split(".", 1)
        if section not in document:
            document[section] = tomlkit.table()
        table = document[section]
        if table.get(key) != value:
            table[key] = value
    updated = tomlkit.dumps(document)
    if updated == text:
        return path
    # What loopcap reads back must be what was meant, and a file it would load.
    settings_from_dict(tomllib.loads(updated), source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(temp: Path) -> None:
        temp.write_text(updated, encoding="utf-8")
        if mode is not None:
            temp.chmod(mode)

    return write_atomically(path, write, overwrite=True)
