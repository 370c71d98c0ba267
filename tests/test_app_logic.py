"""Per-application capture, the pure logic: which streams are followed, and how they are mixed."""

from __future__ import annotations

import numpy as np
import pytest

from capture.audio._apps import (
    LEAD_IN_MARGIN_MS,
    MIN_PROMINENCE,
    AppFilter,
    AppInfo,
    StreamMixer,
    Timeline,
    best_match,
    group_apps,
)

RATE = 48000
BLOCK = 1920  # 40 ms


def test_an_app_is_matched_by_name_or_executable_in_any_case() -> None:
    whatsapp = AppFilter("whatsapp")
    assert whatsapp.follows("WhatsApp", "")
    assert whatsapp.follows("Chromium", "whatsapp-for-linux")
    assert not whatsapp.follows("Chromium", "chromium")
    assert not whatsapp.follows("", "")


def test_exclude_follows_everything_but_the_app() -> None:
    not_music = AppFilter("spotify", exclude=True)
    assert not not_music.follows("Spotify", "spotify")
    assert not_music.follows("WhatsApp", "")
    assert not_music.describe() == "all sound but spotify"


def test_the_filter_travels_to_the_worker_as_arguments() -> None:
    for app in (AppFilter("Chromium"), AppFilter("x y", exclude=True)):
        assert AppFilter.from_args(app.as_args()) == app
    assert AppFilter.from_args([]) is None
    with pytest.raises(ValueError, match="name"):
        AppFilter("  ")


def test_apps_are_listed_once_with_their_number_of_streams() -> None:
    streams = [
        AppInfo("Chromium", "chromium", 10),
        AppInfo("paplay", "paplay", 20),
        AppInfo("Chromium", "chromium", 10),
    ]
    assert group_apps(streams) == [
        AppInfo("Chromium", "chromium", 10, 2),
        AppInfo("paplay", "paplay", 20, 1),
    ]


def test_timeline_adds_and_forgets() -> None:
    line = Timeline(1)
    line.add(10, np.full((5, 1), 3, dtype=np.int16))
    line.add(12, np.full((5, 1), 1, dtype=np.int16))
    assert line.get(9, 18)[:, 0].tolist() == [0, 3, 3, 4, 4, 4, 1, 1, 0]
    line.drop_before(13)
    line.add(0, np.full((14, 1), 7, dtype=np.int16))  # only its last frame is still ahead
    assert line.get(12, 15)[:, 0].tolist() == [0, 11, 4]


def test_best_match_finds_a_piece_inside_a_louder_mix() -> None:
    rng = np.random.default_rng(3)
    piece = rng.normal(size=2000)
    mix = rng.normal(size=9000) * 0.5
    mix[3210:5210] += piece
    louder = mix * 4  # the piece drowned: correlation ~0.25, still the one clear peak
    for haystack in (mix, louder):
        at, prominence = best_match(haystack, piece)
        assert at == 3210
        assert prominence >= MIN_PROMINENCE
    _, elsewhere = best_match(rng.normal(size=9000), piece)
    assert elsewhere < MIN_PROMINENCE, "a piece that is not there is not found"


def _noise(frames: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.uniform(-8000, 8000, size=(frames, 2))).astype(np.int16)


def _run(
    mixer: StreamMixer,
    mix: np.ndarray,
    app: dict[int, np.ndarray],
    late: int,
    ahead: int = 0,
) -> np.ndarray:
    """Feed the mix in 10 ms fragments; the app's stream (key 1) appears at its start, and its
    recorder catches it only ``late`` frames later, as on a real server; with ``ahead``, the
    stream's data arrives that many frames before the mix of the same moment (PipeWire)."""
    out = []
    frag = 480
    ((start, sound),) = app.items()
    for pos in range(0, len(mix), frag):
        if start <= pos + ahead < start + frag:
            mixer.stream_appeared(1)  # the server's event comes before the mix that holds it
        mixer.on_mix(mix[pos : pos + frag])
        begin = max(pos + ahead, start + late) - start
        end = min(pos + ahead + frag - start, len(sound))
        if end > begin and pos + ahead + frag > start + late:
            mixer.on_stream(1, sound[begin:end])
        while (block := mixer.pop_block()) is not None:
            out.append(block)
    return np.concatenate(out)


def test_a_new_stream_is_whole_from_its_first_sample_though_caught_late() -> None:
    """10 ms of the stream is missed by its recorder; the mix supplies it, sample-exact."""
    seconds = 3
    sound = _noise(RATE, seed=1)
    start = RATE  # it starts 1 s in
    mix = np.zeros((seconds * RATE, 2), dtype=np.int16)
    mix[start : start + len(sound)] = sound
    mixer = StreamMixer(RATE, 2, BLOCK)
    out = _run(mixer, mix, {start: sound}, late=480)
    # One output frame per mix frame (length = wall time), the content delay_frames later.
    assert len(mix) - BLOCK < len(out) <= len(mix)
    out = out[mixer.delay_frames :]
    assert np.array_equal(out[start : start + len(sound)], sound)
    assert not out[:start].any()
    assert mixer.lead_ins and mixer.lead_ins[0] >= 480


def test_other_sound_stays_out_except_in_the_lead_in() -> None:
    sound = _noise(RATE, seed=1)
    other = _noise(3 * RATE, seed=2)
    start = RATE
    mix = other.astype(np.int32)
    mix[start : start + len(sound)] += sound
    mixer = StreamMixer(RATE, 2, BLOCK)
    out = _run(mixer, np.clip(mix, -32768, 32767).astype(np.int16), {start: sound}, late=0)
    out = out[mixer.delay_frames :]
    # Caught at once: of the other app, at most the 5 ms margin in front of it.
    assert not out[: start - LEAD_IN_MARGIN_MS * RATE // 1000].any()
    assert np.array_equal(out[start : start + len(sound)], sound)


def test_a_stream_whose_data_runs_ahead_of_the_mix_is_placed_exactly() -> None:
    """On PipeWire a stream's data arrives up to ~100 ms before the mix that holds it."""
    sound = _noise(RATE, seed=4)
    start = RATE
    mix = np.zeros((3 * RATE, 2), dtype=np.int16)
    mix[start : start + len(sound)] = sound
    mixer = StreamMixer(RATE, 2, BLOCK)
    out = _run(mixer, mix, {start: sound}, late=512, ahead=3000)[mixer.delay_frames :]
    assert np.array_equal(out[start : start + len(sound)], sound)


def _beep(seconds: float, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.repeat((np.sin(2 * np.pi * freq * t) * 20000).astype(np.int16)[:, None], 2, axis=1)


@pytest.mark.parametrize("seconds", [0.1, 0.6])
def test_a_beep_caught_late_and_ahead_of_the_mix_starts_where_it_played(seconds: float) -> None:
    """A tone matches the mix equally well every period, so no single place stands out: it is
    placed at its first near-perfect match, not left to its arrival time (PipeWire: ~60 ms off,
    so the beep was heard that late in the file, beyond what the lead-in covers)."""
    beep = _beep(seconds)
    start = RATE + 123
    quiet_other = (_noise(3 * RATE, seed=5) // 40).astype(np.int32)  # another app, -40 dB
    mix = quiet_other.copy()
    mix[start : start + len(beep)] += beep
    mixer = StreamMixer(RATE, 2, BLOCK)
    out = _run(mixer, mix.astype(np.int16), {start: beep}, late=512, ahead=3000)
    out = out[mixer.delay_frames :]
    period = RATE // 1000  # a tone's place is known to its period (phase), 1 ms here
    onset = int(np.flatnonzero(np.abs(out[:, 0]) > 3000)[0])
    assert abs(onset - start) <= period, (onset, start)
    # Its end may come early by what the recorder missed (nothing tells that apart in a tone).
    beep_end = int(np.flatnonzero(np.abs(out[:, 0]) > 3000)[-1]) + 1
    assert -period <= start + len(beep) - beep_end <= 512 + period


# -- Windows and macOS: the parts that need no Windows or macOS --------------------------------


def test_windows_process_loopback_needs_the_build_proc_tap_needs() -> None:
    """proc-tap records *all* sound below build 20438 instead of failing: loopcap stops first."""
    from capture.audio._wasapi_apps import process_loopback_supported, require_process_loopback
    from capture.errors import AudioSourceError

    assert process_loopback_supported(20438) and process_loopback_supported(22631)
    assert not process_loopback_supported(19045)
    with pytest.raises(AudioSourceError, match="Windows 11"):
        require_process_loopback(19045)


def test_windows_captures_each_matching_process_tree_once() -> None:
    from capture.audio._wasapi_apps import Process, capture_roots

    processes = [
        Process(10, "chrome.exe", 1),
        Process(11, "chrome.exe", 10),  # its audio service: a child, already included
        Process(20, "WhatsApp.exe", 1),
        Process(30, "spotify.exe", 1),
    ]
    assert [p.pid for p in capture_roots(processes, AppFilter("Chrome"))] == [10]
    assert [p.pid for p in capture_roots(processes, AppFilter("whatsapp"))] == [20]
    assert capture_roots(processes, AppFilter("zoom")) == []


def test_macos_process_taps_need_14_2_and_match_name_or_bundle_id() -> None:
    from capture.audio._coreaudio_apps import (
        RunningApp,
        matching_apps,
        parse_version,
        process_taps_supported,
        require_process_taps,
    )
    from capture.errors import AudioSourceError

    assert parse_version("14.2.1") == (14, 2, 1) and parse_version("") == (0,)
    assert process_taps_supported((14, 2)) and process_taps_supported((15, 0, 1))
    assert not process_taps_supported((14, 1, 2))
    with pytest.raises(AudioSourceError, match=r"macOS 14\.2"):
        require_process_taps((13, 6))
    apps = [RunningApp(1, "WhatsApp", "net.whatsapp.WhatsApp"), RunningApp(2, "Music", "")]
    assert [a.pid for a in matching_apps(apps, AppFilter("net.whatsapp"))] == [1]
    assert [a.pid for a in matching_apps(apps, AppFilter("whatsapp", exclude=True))] == [2]


def test_windows_proc_tap_blocks_become_int16_frames() -> None:
    from capture.audio._wasapi_apps import check_proc_tap_format, float32_block_to_frames
    from capture.errors import AudioSourceError

    check_proc_tap_format({"sample_rate": 48000, "channels": 2, "sample_format": "f32"})
    old = {"sample_rate": 44100, "channels": 2, "bits_per_sample": 16}  # proc-tap 0.1-0.3
    with pytest.raises(AudioSourceError, match=r"delivers 44100 Hz.*pip install -U proc-tap"):
        check_proc_tap_format(old)

    left = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0], dtype="<f4")  # 2.0: clipped
    right = np.array([0.25, -0.25, 0.0, 0.0, 0.0, float("nan")], dtype="<f4")
    data = np.stack([left, right], axis=1).tobytes() + b"\x00\x01"  # a torn sample at the end
    stereo = float32_block_to_frames(data, 2)
    assert stereo.dtype == np.int16 and stereo.shape == (6, 2)
    assert stereo[:, 0].tolist() == [0, 16384, -16384, 32767, -32767, 32767]
    assert stereo[:, 1].tolist() == [8192, -8192, 0, 0, 0, 0]
    mono = float32_block_to_frames(data, 1)
    assert mono[:2, 0].tolist() == [4096, 4096]
    assert float32_block_to_frames(data[:12], 2).shape == (1, 2)  # 1.5 frames: the whole one
    assert float32_block_to_frames(b"", 2).shape == (0, 2)
    wide = float32_block_to_frames(np.array([0.5], dtype="<f4").tobytes(), 2, source_channels=1)
    assert wide.tolist() == [[16384, 16384]]


def test_timeline_fed_and_trimmed_for_a_long_time_keeps_every_frame_right() -> None:
    """The buffer grows, moves and forgets in place: compare with plain arrays."""
    rng = np.random.default_rng(8)
    line = Timeline(1)
    reference = np.zeros(60000, dtype=np.int64)
    for step in range(400):
        at = step * 100 + int(rng.integers(-50, 50))
        frames = rng.integers(-1000, 1000, size=(int(rng.integers(1, 700)), 1)).astype(np.int16)
        line.add(at, frames)
        keep_from = max(0, step * 100 - 3000)
        visible = frames[max(0, line.start - at) :, 0]
        reference[max(at, line.start) : max(at, line.start) + len(visible)] += visible
        line.drop_before(keep_from)
        lo, hi = line.start, line.end
        assert np.array_equal(line.get(lo, hi)[:, 0], reference[lo:hi]), step


def test_a_stream_resumed_after_a_pause_lands_where_it_plays_again() -> None:
    """Corked for half a second: what it plays after is placed by the mix, not glued on."""
    first, second = _noise(RATE // 2, seed=6), _noise(RATE // 2, seed=7)
    at_first, at_second = RATE, 2 * RATE  # half a second of pause between them
    mix = np.zeros((4 * RATE, 2), dtype=np.int16)
    mix[at_first : at_first + len(first)] = first
    mix[at_second : at_second + len(second)] = second
    mixer = StreamMixer(RATE, 2, BLOCK)
    out = []
    frag = 480
    for pos in range(0, len(mix), frag):
        if pos == at_first:
            mixer.stream_appeared(1, lead_in=False)
        if pos == at_second:
            mixer.stream_resumed(1)  # the server says: uncorked
        mixer.on_mix(mix[pos : pos + frag])
        for start, sound in ((at_first, first), (at_second, second)):
            if start <= pos < start + len(sound):
                mixer.on_stream(1, sound[pos - start : pos - start + frag])
        while (block := mixer.pop_block()) is not None:
            out.append(block)
    got = np.concatenate(out)[mixer.delay_frames :]
    assert np.array_equal(got[at_first : at_first + len(first)], first)
    assert np.array_equal(got[at_second : at_second + len(second)], second)
    assert not got[at_first + len(first) : at_second].any(), "the pause stays silent"


def _run_pipewire(other_dropped_at: int | None = None) -> tuple[StreamMixer, np.ndarray]:
    """As pipewire-pulse behaves: another app plays all along (followed as another app's
    stream); the app's new stream is caught 15 ms late and its recorder stops 200 ms before the
    stream ends, the removal coming after. With ``other_dropped_at``, the other app's recorder
    loses 10 ms there (a burst that slips)."""
    other = _noise(4 * RATE, seed=8)
    sound = _noise(RATE // 2, seed=9)
    start, late, cut = 2 * RATE, 720, RATE // 2 - 9600
    mix = other.astype(np.int32)
    mix[start : start + len(sound)] += sound
    mix16 = np.clip(mix, -32768, 32767).astype(np.int16)
    mixer = StreamMixer(RATE, 2, BLOCK)
    mixer.fill_from_mix = True
    frag = 480
    out = []
    mixer.stream_appeared(2, lead_in=False, other=True)
    for pos in range(0, len(mix16), frag):
        if pos == start:
            mixer.stream_appeared(1)
        if pos == start + len(sound) + 2 * frag:
            mixer.stream_gone(1)
        mixer.on_mix(mix16[pos : pos + frag])
        if other_dropped_at is None or pos != other_dropped_at:
            mixer.on_stream(2, other[pos : pos + frag])
        begin, end = max(pos, start + late) - start, min(pos + frag - start, cut)
        if end > begin:
            mixer.on_stream(1, sound[begin:end])
        while (block := mixer.pop_block()) is not None:
            out.append(block)
    got = np.concatenate(out)[mixer.delay_frames :]
    expected = np.zeros_like(mix16[: len(got)])
    expected[start : start + len(sound)] = sound
    return mixer, got - expected


def test_on_pipewire_what_a_recorder_missed_comes_from_the_mix_without_the_other_app() -> None:
    mixer, error = _run_pipewire()
    assert mixer.lead_ins and mixer.lead_ins[0] >= 720
    assert not error.any(), "the stream whole, sample-exact, and nothing of the other app"


def test_a_slipped_burst_of_another_app_is_placed_again() -> None:
    """10 ms of the other app's data lost at 1 s: without moving what follows, everything the
    mix supplies afterwards would carry the other app's sound."""
    _, error = _run_pipewire(other_dropped_at=RATE)
    assert not error[int(1.5 * RATE) :].any()
