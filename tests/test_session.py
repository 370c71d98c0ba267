"""Crash-safe sessions without a running recorder: what `recover` makes of what a crash left."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from capture.recording.session import RecordingSession, interrupted_sessions, recover
from tests.rig import ffprobe, read_wav, tone


def crashed_session(root: Path, target: Path, **kind: object) -> RecordingSession:
    """A session as a killed process leaves it: data on disk, lock released, never stopped."""
    return RecordingSession.create(
        root,
        target=target,
        fmt=target.suffix.lstrip("."),
        samplerate=48000,
        channels=2,
        **kind,  # type: ignore[arg-type]
    )


def test_a_live_session_is_not_interrupted(tmp_path: Path) -> None:
    live = crashed_session(tmp_path / "s", tmp_path / "a.wav")
    live.write_audio(tone(0.5, 440))
    assert interrupted_sessions(tmp_path / "s") == []
    live.close()
    found = interrupted_sessions(tmp_path / "s")
    assert [s.folder for s in found] == [live.folder]
    for session in found:
        session.close()


def test_recover_saves_audio_and_never_replaces_a_file(tmp_path: Path) -> None:
    target = tmp_path / "talk.flac"
    target.write_bytes(b"someone else's file")
    session = crashed_session(tmp_path / "s", target)
    session.write_audio(tone(2.0, 440))
    session.close()
    [result] = recover(tmp_path / "s")
    assert result.saved == tmp_path / "talk (2).flac"
    assert target.read_bytes() == b"someone else's file"
    assert float(ffprobe(result.saved)["format"]["duration"]) == 2.0  # type: ignore[index]
    assert not list((tmp_path / "s").iterdir())


def test_screen_session_whose_video_did_not_survive_keeps_its_sound(tmp_path: Path) -> None:
    session = crashed_session(tmp_path / "s", tmp_path / "screen.mp4", video="video.mp4", fps=30)
    session.write_audio(tone(1.5, 440))
    session.close()
    [result] = recover(tmp_path / "s")
    assert result.saved == tmp_path / "screen.m4a"
    streams = ffprobe(result.saved)["streams"]
    assert isinstance(streams, list)
    assert [s["codec_name"] for s in streams] == ["aac"]


def test_sessions_killed_before_any_data_are_removed_quietly(tmp_path: Path) -> None:
    for name in ("a.mp3", "b.mp4"):
        session = crashed_session(
            tmp_path / "s",
            tmp_path / name,
            **({"video": "video.mp4"} if name.endswith("4") else {}),
        )
        session.close()
    results = recover(tmp_path / "s")
    assert [r.empty for r in results] == [True, True]
    assert not list((tmp_path / "s").iterdir())
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".mp3", ".mp4")]


def test_a_torn_last_block_is_ignored(tmp_path: Path) -> None:
    session = crashed_session(tmp_path / "s", tmp_path / "t.wav")
    session.write_audio(tone(1.0, 440))
    session.close()
    with (session.folder / "audio.pcm").open("ab") as pcm:
        pcm.write(b"\x01\x02\x03")  # half a frame, as a kill mid-write could leave
    [result] = recover(tmp_path / "s")
    assert result.saved is not None
    frames, _ = read_wav(result.saved)
    assert np.array_equal(frames, tone(1.0, 440))
