"""Saving a setting (the "Listen to" choice) edits the user's settings file in place: every
comment, the order and the layout stay; only the key changes. A file loopcap cannot read is
never overwritten."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from capture.audio import AppFilter
from capture.errors import SettingsError
from capture.settings import load_settings, remember_app

COMMENTED = """\
# My loopcap settings -- keep this header.
#   (written by hand, aligned by hand)

[output]
audio_format = "wav"      # lossless, for the archive
name_template = 'rec-%Y%m%d-%H%M%S'   # literal string on purpose

# The audio section.
[audio]
# Who to listen to; changed from the tray.
app = "WhatsApp"   # the notes app
samplerate    = 48000  # keep in step with the sink
block_ms = 100

[screen]
fps = 15  # enough for slides
"""


def changed_lines(before: str, after: str) -> list[str]:
    """The lines removed (-) and added (+) between two texts."""
    diff = difflib.ndiff(before.splitlines(), after.splitlines())
    return [line for line in diff if line[:1] in "+-"]


def settings_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "settings.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    return path


def test_a_change_keeps_every_comment_and_changes_only_that_key(tmp_path: Path) -> None:
    path = settings_file(tmp_path, COMMENTED)
    remember_app(AppFilter("Chromium"), path)
    after = path.read_text(encoding="utf-8")
    assert changed_lines(COMMENTED, after) == [
        '- app = "WhatsApp"   # the notes app',
        '+ app = "Chromium"   # the notes app',
    ]
    assert load_settings(path).audio.app == "Chromium"
    assert load_settings(path).output.audio_format == "wav"
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.toml"], "no temp left"


def test_all_sound_and_exclude_edit_the_keys_in_place(tmp_path: Path) -> None:
    path = settings_file(tmp_path, COMMENTED)
    remember_app(None, path)  # all sound: the key stays, empty, with its comment
    after_all = path.read_text(encoding="utf-8")
    assert changed_lines(COMMENTED, after_all) == [
        '- app = "WhatsApp"   # the notes app',
        '+ app = ""   # the notes app',
    ]
    remember_app(AppFilter("Music", exclude=True), path)
    after_exclude = path.read_text(encoding="utf-8")
    assert changed_lines(after_all, after_exclude) == ['+ exclude_app = "Music"']
    settings = load_settings(path)
    assert (settings.audio.app, settings.audio.exclude_app) == ("", "Music")
    # The added key goes into [audio], before the blank line that ends it.
    lines = after_exclude.splitlines()
    assert lines.index('exclude_app = "Music"') == lines.index("block_ms = 100") + 1


def test_nothing_to_change_leaves_the_file_untouched(tmp_path: Path) -> None:
    text = '# only a comment\n[output]\naudio_format = "wav"\n'
    path = settings_file(tmp_path, text)
    os.utime(path, (1_000_000, 1_000_000))
    remember_app(None, path)  # all sound, and no app was set
    assert path.read_text(encoding="utf-8") == text
    assert path.stat().st_mtime == 1_000_000


def test_a_missing_file_or_section_is_added_without_touching_the_rest(tmp_path: Path) -> None:
    missing = tmp_path / "new" / "settings.toml"
    remember_app(AppFilter("Zoom"), missing)
    assert load_settings(missing).audio.app == "Zoom"
    text = '# mine\n[output]\naudio_format = "wav"  # yes\n'
    path = settings_file(tmp_path, text)
    remember_app(AppFilter("Zoom"), path)
    after = path.read_text(encoding="utf-8")
    assert after.startswith(text)
    assert changed_lines(text, after) == ["+ ", "+ [audio]", '+ app = "Zoom"']


def test_a_symlinked_file_stays_a_link_and_keeps_its_permissions(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "loopcap.toml"
    real.parent.mkdir()
    real.write_text(COMMENTED, encoding="utf-8")
    real.chmod(0o600)
    link = tmp_path / "settings.toml"
    link.symlink_to(real)
    remember_app(AppFilter("Signal"), link)
    assert link.is_symlink()
    assert load_settings(link).audio.app == "Signal"
    assert real.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[audio]\napp = "WhatsApp\n# unterminated string\n', "not valid TOML"),
        ("[audio]\napp = 'x'\n[audio]\n", "not valid TOML"),  # a table defined twice
        ('[audio]\napp = "x"\nsample_rate = 44100  # a typo\n', "unknown key 'audio.sample_rate'"),
        ("[audio]\nchannels = 99\n", "above the maximum"),
    ],
)
def test_a_file_loopcap_cannot_read_is_never_overwritten(
    tmp_path: Path, text: str, message: str
) -> None:
    path = settings_file(tmp_path, text)
    with pytest.raises(SettingsError) as raised:
        remember_app(AppFilter("Chromium"), path)
    error = str(raised.value)
    assert str(path) in error and message in error and "not changed" in error
    assert "\n" not in error
    assert path.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.toml"]


def test_a_file_that_is_not_utf8_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    data = b'# caf\xe9\n[audio]\napp = "x"\n'
    path.write_bytes(data)
    with pytest.raises(SettingsError, match="not UTF-8"):
        remember_app(AppFilter("Chromium"), path)
    assert path.read_bytes() == data
