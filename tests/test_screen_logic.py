"""The screen and video parts that need no display: regions, window matching, the clock, the
constant-frame-rate pacer, and the Windows and macOS window modules' pure parts."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capture.errors import ScreenSourceError, UsageError
from capture.recording.video import AudioClock, FramePacer, WallClock, Write
from capture.screen import Region, Window, match_window, on_frame_grid
from capture.screen._macos import window_from_info, windows_from_infos
from capture.screen._windows import region_from_rect, visible_windows

# -- regions and windows --------------------------------------------------------------------------


def test_region_parse_and_even() -> None:
    assert Region.parse("10, 20,101,81") == Region(10, 20, 101, 81)
    assert Region.parse("10,20,101,81").even() == Region(10, 20, 100, 80)
    assert Region(-1920, 0, 1920, 1080).even() == Region(-1920, 0, 1920, 1080)
    with pytest.raises(UsageError, match="X,Y,WIDTH,HEIGHT"):
        Region.parse("1,2,3")
    with pytest.raises(UsageError, match="empty"):
        Region.parse("0,0,1,100")


def test_region_intersection_and_containment() -> None:
    screen = Region(0, 0, 640, 480)
    assert screen.contains(Region(600, 400, 40, 80))
    assert not screen.contains(Region(600, 400, 41, 80))
    assert Region(600, 400, 100, 100).intersection(screen) == Region(600, 400, 40, 80)
    assert Region(700, 0, 10, 10).intersection(screen) is None


def test_window_matching_is_case_insensitive_and_prefers_exact_titles() -> None:
    windows = [
        Window(1, "WhatsApp Web - Chromium", Region(0, 0, 10, 10)),
        Window(2, "WhatsApp", Region(0, 0, 10, 10)),
        Window(3, "scrcpy: Pixel 7", Region(0, 0, 10, 10)),
    ]
    assert match_window(windows, "whatsapp").id == 2
    assert match_window(windows, "WEB").id == 1
    assert match_window(windows, "Pixel").id == 3
    with pytest.raises(ScreenSourceError, match=r"'telegram'.*'scrcpy: Pixel 7'"):
        match_window(windows, "telegram")


# -- one clock ------------------------------------------------------------------------------------


def test_audio_clock_places_instants_by_the_least_delayed_block() -> None:
    clock = AudioClock(48000)
    assert clock.to_recording_time(5.0) is None
    # Sample 0 was captured at t=100; blocks of 1920 frames arrive 10-30 ms after they end.
    for n, delay in enumerate([0.03, 0.01, 0.02, 0.01]):
        end = (n + 1) * 1920
        clock.on_block(100 + end / 48000 + delay, end)
    clock.set_start(1920)  # the recording starts with the second block
    clock.set_start(3840)  # later calls do not move the start
    assert clock.origin == pytest.approx(100.01)
    assert clock.time_zero() == pytest.approx(100.05)
    assert clock.to_recording_time(100.01 + 0.04 + 1.0) == pytest.approx(1.0)


def test_audio_clock_follows_drift_through_its_window() -> None:
    clock = AudioClock(48000, window_s=5.0)
    for second in range(20):
        # The sound card runs 100 ppm slow against the system clock.
        clock.on_block(100 + second * 1.0001, second * 48000)
    assert clock.origin == pytest.approx(100 + 15 * 1.0001 - 15, abs=1e-6)


def test_wall_clock_without_audio() -> None:
    assert WallClock(10.0).to_recording_time(12.5) == 2.5
    assert WallClock(10.0).time_zero() == 10.0


def test_grabs_are_moved_onto_the_frame_slots_once_time_zero_is_known() -> None:
    assert on_frame_grid(5.0123, None, 30) == 5.0123  # no grid yet: free-running
    zero = 1.004
    assert on_frame_grid(zero + 10 / 30 + 0.012, zero, 30) == pytest.approx(zero + 10 / 30)
    assert on_frame_grid(zero + 10 / 30 + 0.02, zero, 30) == pytest.approx(zero + 11 / 30)
    assert on_frame_grid(zero - 0.5 / 30 + 0.001, zero, 30) == pytest.approx(zero)


@given(
    tick=st.floats(0, 1e5, allow_nan=False),
    zero=st.floats(0, 1e5, allow_nan=False),
    fps=st.integers(1, 120),
)
def test_a_tick_moves_half_a_frame_at_most_and_lands_on_a_slot(
    tick: float, zero: float, fps: int
) -> None:
    moved = on_frame_grid(tick, zero, fps)
    assert abs(moved - tick) <= 0.5 / fps + 1e-6
    slots = (moved - zero) * fps
    assert abs(slots - round(slots)) < 1e-4


# -- constant frame rate --------------------------------------------------------------------------


def expand(writes: list[Write[str]]) -> list[str]:
    return [w.payload for w in writes for _ in range(w.count)]


def test_pacer_repeats_frames_for_missed_slots_and_keeps_the_newest_per_slot() -> None:
    pacer: FramePacer[str] = FramePacer(10)
    out: list[str] = []
    for t, name in [(0.02, "a"), (0.11, "b"), (0.14, "b2"), (0.42, "c"), (0.5, "d")]:
        out += expand(pacer.place(t, name))
    out += expand(pacer.finish(0.8))
    # slot:  0    1     2     3     4    5    6    7
    assert out == ["a", "b2", "b2", "b2", "c", "d", "d", "d"]
    assert pacer.written == 8 and pacer.repeated == 4 and pacer.replaced == 1
    assert pacer.offset_s == 0


def test_pacer_starts_at_zero_when_the_first_frame_is_close_and_late_otherwise() -> None:
    close: FramePacer[str] = FramePacer(30)
    close.place(0.1, "x")
    assert expand(close.finish(0.2)) == ["x"] * 6 and close.offset_s == 0
    late: FramePacer[str] = FramePacer(30, lead_fill_s=0.5)
    late.place(1.0, "x")
    assert late.offset_s == 1.0
    assert expand(late.finish(1.5)) == ["x"] * 15


def test_pacer_collapses_frames_grabbed_before_the_audio_started() -> None:
    pacer: FramePacer[str] = FramePacer(30)
    for t, name in [(-0.3, "old"), (-0.1, "older"), (-0.01, "newest")]:
        assert pacer.place(t, name) == []
    assert expand(pacer.finish(1 / 30)) == ["newest"]


@given(
    fps=st.sampled_from([10, 15, 30, 60]),
    times=st.lists(st.floats(0, 30), min_size=1, max_size=200),
    end=st.floats(30, 40),
)
def test_pacer_output_is_exactly_as_long_as_the_audio(
    fps: int, times: list[float], end: float
) -> None:
    pacer: FramePacer[float] = FramePacer(fps)
    written = 0
    for t in sorted(times):
        written += sum(w.count for w in pacer.place(t, t))
    written += sum(w.count for w in pacer.finish(end))
    assert written + round(pacer.offset_s * fps) == round(end * fps)


# -- Windows and macOS window modules: their pure parts ------------------------------------------


def test_windows_rectangles_and_filtering() -> None:
    assert region_from_rect(-8, 0, 1912, 1040) == Region(-8, 0, 1920, 1040)
    assert region_from_rect(0, 0, 1, 100) is None
    entries = [
        (1, "WhatsApp", True, False, False, (100, 100, 501, 701)),
        (2, "", True, False, False, (0, 0, 100, 100)),  # no title
        (3, "Hidden", False, False, False, (0, 0, 100, 100)),
        (4, "Settings", True, False, True, (0, 0, 100, 100)),  # cloaked (another desktop)
        (5, "Minimized", True, True, False, (-32000, -32000, -31840, -31972)),
    ]
    found = visible_windows(entries)
    assert [w.id for w in found] == [1, 5]
    assert found[0].region == Region(100, 100, 401, 601) and found[0].visible
    assert not found[1].visible


def test_macos_window_list_entries() -> None:
    infos = [
        {
            "kCGWindowNumber": 42,
            "kCGWindowLayer": 0,
            "kCGWindowOwnerName": "WhatsApp",
            "kCGWindowName": "WhatsApp",
            "kCGWindowBounds": {"X": 10, "Y": 25, "Width": 801, "Height": 600},
            "kCGWindowIsOnscreen": True,
        },
        {  # the menu bar
            "kCGWindowNumber": 1,
            "kCGWindowLayer": 24,
            "kCGWindowOwnerName": "Window Server",
            "kCGWindowBounds": {"X": 0, "Y": 0, "Width": 1440, "Height": 25},
        },
        {  # without the Screen Recording permission only the owner is known
            "kCGWindowNumber": 7,
            "kCGWindowLayer": 0,
            "kCGWindowOwnerName": "iPhone Mirroring",
            "kCGWindowBounds": {"X": 900, "Y": 100, "Width": 320, "Height": 700},
        },
    ]
    found = windows_from_infos(infos)
    assert [(w.id, w.title) for w in found] == [(42, "WhatsApp"), (7, "iPhone Mirroring")]
    assert found[0].region == Region(10, 25, 801, 600)
    assert window_from_info({**infos[0], "kCGWindowName": "Chat"}) == Window(
        42, "WhatsApp — Chat", Region(10, 25, 801, 600)
    )


@pytest.mark.skipif(sys.platform != "win32", reason="EnumWindows and DWM need Windows")
def test_windows_backend_lists_real_windows() -> None:  # pragma: no cover
    from capture.screen._windows import open_backend

    backend = open_backend()
    assert isinstance(backend.list_windows(), list)


@pytest.mark.skipif(sys.platform != "darwin", reason="Quartz window lists need macOS")
def test_macos_backend_lists_real_windows() -> None:  # pragma: no cover
    from capture.screen._macos import open_backend

    backend = open_backend()
    assert isinstance(backend.list_windows(), list)
