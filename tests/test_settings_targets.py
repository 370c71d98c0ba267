"""Settings, output naming and the ffmpeg locator: pure logic and small real runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.audio._coreaudio import CoreAudioLoopback, is_loopback_device
from capture.audio._native import native_backend
from capture.audio._pulse import PulseLoopback
from capture.audio._wasapi import WasapiLoopback
from capture.cli import error_line
from capture.errors import AudioSourceError, FfmpegError, OutputError, SettingsError, UsageError
from capture.ffmpeg import AUDIO_FORMATS
from capture.recording.atomic import publish, temp_path_for, write_atomically
from capture.recording.targets import resolve_output
from capture.settings import (
    Settings,
    load_settings,
    settings_from_dict,
    write_default_settings,
)

ROOT = Path(__file__).resolve().parent.parent


def test_missing_settings_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "none.toml") == Settings()


def test_default_settings_file_round_trips(tmp_path: Path) -> None:
    path = write_default_settings(tmp_path / "settings.toml")
    assert load_settings(path) == Settings()
    path.write_text("[audio]\nsamplerate = 44100\n[output]\naudio_format = 'flac'\n")
    settings = load_settings(path)
    assert settings.audio.samplerate == 44100
    assert settings.output.audio_format == "flac"
    assert write_default_settings(path) == path
    assert "44100" in path.read_text(), "an existing settings file is never overwritten"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"audio": {"samplerate": "fast"}}, "'audio.samplerate' must be int"),
        ({"audio": {"samplerate": -5}}, "'audio.samplerate' = -5 is below the minimum"),
        ({"audio": {"gap_threshold_s": 1e9}}, "'audio.gap_threshold_s' = 1000000000.0 is above"),
        ({"output": {"audio_format": "aiff"}}, "'output.audio_format' = 'aiff'; choose one of"),
        ({"audio": {"samplrate": 1}}, "unknown key 'audio.samplrate'"),
        ({"sound": {}}, "unknown key 'sound'"),
        ({"audio": 3}, r"\[audio\] must be a table"),
        ({"audio": {"channels": True}}, "'audio.channels' must be int, not a boolean"),
    ],
)
def test_bad_settings_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings_from_dict(data)


def test_broken_toml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[audio\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(path)


def test_bad_settings_file_stops_the_cli_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text("[audio]\nblock_ms = 0\n")
    env = {**os.environ, "LOOPCAP_CONFIG_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "capture", "record", "--audio-only"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "'audio.block_ms' = 0 is below the minimum 5" in result.stderr


# -----------------------------------------------------------------------------------------------
# Output names


def resolve(output: str | None, fmt: str | None, tmp: Path, **kw: object) -> tuple[Path, str]:
    return resolve_output(
        output,
        fmt,
        default_folder=tmp / "Music" / "loopcap",
        default_format="mp3",
        name_template="loopcap-%Y-%m-%d_%H-%M-%S",
        formats=AUDIO_FORMATS,
        now=datetime(2025, 3, 4, 5, 6, 7),
        **kw,  # type: ignore[arg-type]
    )


def test_default_name_in_default_folder(tmp_path: Path) -> None:
    target, fmt = resolve(None, None, tmp_path)
    assert target == tmp_path / "Music/loopcap/loopcap-2025-03-04_05-06-07.mp3"
    assert fmt == "mp3"
    assert target.parent.is_dir()
    target.write_bytes(b"x")
    again, _ = resolve(None, None, tmp_path)
    assert again.name == "loopcap-2025-03-04_05-06-07 (2).mp3"


def test_format_from_extension_or_flag(tmp_path: Path) -> None:
    assert resolve(str(tmp_path / "a.FLAC"), None, tmp_path)[1] == "flac"
    assert resolve(str(tmp_path / "a"), "opus", tmp_path)[0].name == "a.opus"
    assert resolve(str(tmp_path), "wav", tmp_path)[0].parent == tmp_path
    with pytest.raises(UsageError, match="does not match"):
        resolve(str(tmp_path / "a.wav"), "mp3", tmp_path)
    with pytest.raises(UsageError, match=r"unknown format '\.xyz'"):
        resolve(str(tmp_path / "a.xyz"), None, tmp_path)


def test_ogg_names_are_ogg_opus_kept_as_written(tmp_path: Path) -> None:
    assert resolve(str(tmp_path / "a.ogg"), None, tmp_path) == (tmp_path / "a.ogg", "opus")
    assert resolve(str(tmp_path / "a.OGA"), None, tmp_path) == (tmp_path / "a.OGA", "opus")
    note = resolve(str(tmp_path / "a.ogg"), "voice-note", tmp_path)
    assert note == (tmp_path / "a.ogg", "voice-note")
    with pytest.raises(UsageError, match="does not match"):
        resolve(str(tmp_path / "a.ogg"), "mp3", tmp_path)


def test_existing_file_is_not_overwritten_unless_asked(tmp_path: Path) -> None:
    existing = tmp_path / "keep.mp3"
    existing.write_bytes(b"precious")
    with pytest.raises(OutputError, match="already exists; choose another name") as caught:
        resolve(str(existing), None, tmp_path)
    assert "--" not in str(caught.value)  # the library names no flags; the CLI adds its own
    assert error_line(caught.value).endswith("(--overwrite replaces it)")
    assert resolve(str(existing), None, tmp_path, overwrite=True)[0] == existing


def test_missing_or_unwritable_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        resolve(str(tmp_path / "nope" / "a.mp3"), None, tmp_path)
    with pytest.raises(OutputError, match="cannot write to folder /proc"):
        resolve("/proc/a.mp3", None, tmp_path)


@settings(max_examples=50)
@given(
    st.text(min_size=1, max_size=40).filter(
        lambda s: "/" not in s and "\0" not in s and s not in (".", "..")
    )
)
def test_temporary_files_are_hidden_siblings(name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"{name}.mp3"
        temp = temp_path_for(target)
        assert temp.parent == target.parent
        assert temp.name.startswith(".") and temp.name.endswith(".part")
        assert temp != target and not target.exists()


def test_publish_never_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "note.mp3"
    target.write_bytes(b"old")
    temp = temp_path_for(target)
    temp.write_bytes(b"new")
    final = publish(temp, target, overwrite=False, keep_both=True)
    assert target.read_bytes() == b"old"
    assert final.name == "note (2).mp3" and final.read_bytes() == b"new"
    assert not temp.exists()


def test_write_atomically_leaves_nothing_when_producing_fails(tmp_path: Path) -> None:
    def fail(temp: Path) -> None:
        temp.write_bytes(b"half")
        raise RuntimeError("encoder died")

    with pytest.raises(RuntimeError):
        write_atomically(tmp_path / "x.mp3", fail)
    assert list(tmp_path.iterdir()) == []


# -----------------------------------------------------------------------------------------------
# Backends that cannot run here: their pure logic


def test_backend_is_chosen_by_platform_in_one_place() -> None:
    assert isinstance(native_backend("linux"), PulseLoopback)
    assert isinstance(native_backend("win32"), WasapiLoopback)
    assert isinstance(native_backend("darwin"), CoreAudioLoopback)


def test_macos_loopback_devices_are_recognized_by_name() -> None:
    assert is_loopback_device("BlackHole 2ch")
    assert is_loopback_device("Loopback Audio")
    assert is_loopback_device("Soundflower (2ch)")
    assert not is_loopback_device("MacBook Pro Microphone")


def test_macos_without_loopback_device_says_what_to_install() -> None:
    class FakeSoundcard:
        @staticmethod
        def all_microphones() -> list[object]:
            class Mic:
                name = "MacBook Pro Microphone"
                id = "BuiltIn"

            return [Mic()]

    with pytest.raises(AudioSourceError, match="install BlackHole"):
        CoreAudioLoopback().loopback_microphones(FakeSoundcard())


@pytest.mark.skipif(sys.platform != "win32", reason="WASAPI loopback exists only on Windows")
def test_wasapi_lists_the_default_speakers_loopback() -> None:
    sources = WasapiLoopback().list_sources()
    assert any(s.is_default for s in sources)


@pytest.mark.skipif(sys.platform != "darwin", reason="CoreAudio exists only on macOS")
def test_coreaudio_lists_installed_loopback_devices() -> None:
    assert CoreAudioLoopback().list_sources()


# -----------------------------------------------------------------------------------------------
# ffmpeg


def test_bad_ffmpeg_override_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from capture import ffmpeg

    ffmpeg.locate_ffmpeg.cache_clear()
    monkeypatch.setenv("LOOPCAP_FFMPEG", "/nonexistent/ffmpeg")
    with pytest.raises(FfmpegError, match="LOOPCAP_FFMPEG=/nonexistent/ffmpeg is not a working"):
        ffmpeg.locate_ffmpeg()
    ffmpeg.locate_ffmpeg.cache_clear()


def test_located_ffmpeg_reports_version_and_encoders() -> None:
    from capture.ffmpeg import locate_ffmpeg

    info = locate_ffmpeg()
    # The version is the one the binary states, and it looks like one (n7.1, 5.1.6-0+deb12u1).
    said = subprocess.run([info.path, "-version"], capture_output=True, text=True, check=True)
    assert said.stdout.startswith(f"ffmpeg version {info.version} ")
    assert re.match(r"n?\d+\.\d+", info.version), info.version
    for encoder in ("libmp3lame", "libopus", "aac", "libx264"):
        assert info.has_encoder(encoder)
    with pytest.raises(FfmpegError, match="has no 'nonexistent_enc' encoder"):
        info.require_encoder("nonexistent_enc")


def test_media_duration_reads_a_file_named_like_a_log_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from capture.ffmpeg import media_duration
    from tests.rig import tone, write_wav

    monkeypatch.chdir(tmp_path)
    write_wav(tmp_path / "error", tone(1.5, 440))
    assert media_duration(Path("error")) == pytest.approx(1.5, abs=0.05)


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\nfrom capture.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('numpy', 'soundcard', 'mss', 'cv2', 'ffmpeg', 'mutagen', 'rich', 'filelock')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
