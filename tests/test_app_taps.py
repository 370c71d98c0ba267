"""Per-app capture from taps (Windows process loopback, macOS process taps): the pure parts,
run here on a clock and process lists given as data. The real captures need Windows or macOS
and are skipped elsewhere, with the reason."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pytest

from capture.audio._apps import AppFilter, AppInfo, StreamMixer
from capture.audio._tapped import (
    LinearResampler,
    TapFailed,
    TappedAppStream,
    fit_channels,
    pcm_to_float,
    pcm_to_frames,
    stamp_burst,
)
from capture.audio._types import SourceInfo
from capture.errors import AudioSourceError

RATE = 48000
BLOCK = 1920  # 40 ms
PACKET = 480  # 10 ms, as WASAPI and Core Audio deliver


def _noise(frames: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-8000, 8000, size=(frames, 2)).astype(np.int16)


# -- the mixer without a whole mix ------------------------------------------------------------


def test_without_a_mix_each_stream_lands_where_it_arrived_and_a_pause_stays_a_pause() -> None:
    mixer = StreamMixer(RATE, 2, BLOCK, align=False, delay_ms=300, resync_ms=120)
    first, second = _noise(RATE // 2, 1), _noise(RATE // 2, 2)
    at_first, at_second = RATE, 2 * RATE  # half a second of nothing between them
    out = []
    for pos in range(0, 4 * RATE, PACKET):
        mixer.advance(PACKET)
        for start, sound in ((at_first, first), (at_second, second)):
            if start <= pos < start + len(sound):
                mixer.on_stream(1, sound[pos - start : pos - start + PACKET], pos + PACKET)
        while (block := mixer.pop_block()) is not None:
            out.append(block)
    got = np.concatenate(out)
    assert abs(len(got) - 4 * RATE) <= BLOCK, "one output frame per frame of the clock"
    got = got[mixer.delay_frames :]
    assert np.array_equal(got[at_first : at_first + len(first)], first)
    assert np.array_equal(got[at_second : at_second + len(second)], second)
    assert not got[at_first + len(first) : at_second].any(), "not glued on after the pause"


def test_a_burst_taken_late_is_placed_where_it_played() -> None:
    chunks = [np.zeros((480, 2), np.int16), np.zeros((480, 2), np.int16)]
    assert [end for _, end in stamp_burst(chunks, 10_000)] == [9520, 10_000]
    assert stamp_burst([], 5) == []


# -- the stream: a clock, process lists as data, taps that push --------------------------------


@dataclass
class FakeTime:
    now: float = 100.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class PlayingProcess:
    """A process that plays ``sound`` from wall time ``starts`` (seconds after the stream
    opened) in 10 ms packets; a tap hears what it plays from the moment it is opened."""

    sound: np.ndarray
    starts: float
    appears: float = 0.0
    quits: float = 1e9


@dataclass
class FakeTap:
    process: PlayingProcess
    time: FakeTime
    origin: float
    opened: float
    sent: int = -1  # index of the last packet handed out
    closed: bool = False
    fail_at: float | None = None

    def take(self) -> list[np.ndarray]:
        if self.fail_at is not None and self.time.now >= self.fail_at:
            raise TapFailed("its process's capture ended")
        elapsed = self.time.now - self.origin - self.process.starts
        heard_from = self.opened - self.origin - self.process.starts
        chunks = []
        for index in range(self.sent + 1, len(self.process.sound) // PACKET):
            begins = index * PACKET / RATE
            if begins + PACKET / RATE > elapsed + 1e-9:
                break
            self.sent = index
            packet = self.process.sound[index * PACKET : (index + 1) * PACKET]
            # Like WASAPI process loopback: no packets while the process is silent.
            if begins >= heard_from - 1e-9 and packet.any():
                chunks.append(packet)
        return chunks

    def close(self) -> None:
        self.closed = True


@dataclass
class Desktop:
    """Processes that come and go on a fake clock, and the taps opened on them."""

    processes: dict[str, PlayingProcess]
    time: FakeTime = field(default_factory=FakeTime)
    taps: dict[str, FakeTap] = field(default_factory=dict)
    opened: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.origin = self.time.now

    def find_targets(self) -> dict[str, PlayingProcess]:
        t = self.time.now - self.origin
        return {k: p for k, p in self.processes.items() if p.appears <= t < p.quits}

    def open_tap(self, key: str, process: PlayingProcess) -> FakeTap:
        self.opened.append(key)
        if key in self.refuse:
            raise AudioSourceError(f"could not record {key}")
        tap = FakeTap(process, self.time, self.origin, self.time.now)
        self.taps[key] = tap
        return tap

    def stream(self) -> TappedAppStream[str, PlayingProcess]:
        return TappedAppStream(
            AppFilter("whatsapp"),
            SourceInfo("app:whatsapp", "whatsapp"),
            RATE,
            2,
            BLOCK,
            find_targets=self.find_targets,
            open_tap=self.open_tap,
            clock=self.time.clock,
            sleep=self.time.sleep,
        )


def _record(stream: TappedAppStream[Any, Any], seconds: float) -> np.ndarray:
    blocks = [stream.read() for _ in range(round(seconds * RATE / BLOCK))]
    return np.concatenate(blocks)[stream.latency_frames :]


def test_an_app_started_later_is_waited_for_then_recorded_where_it_plays() -> None:
    sound = _noise(RATE + RATE // 2, seed=3)
    sound[RATE // 2 : RATE] = 0  # half a second of silence, sent as nothing
    desktop = Desktop({"whatsapp": PlayingProcess(sound, starts=2.0, appears=1.0)})
    stream = desktop.stream()
    assert stream.matching_now == 0, "nothing matches yet: the CLI says it waits"
    got = _record(stream, 4.0)
    assert desktop.opened == ["whatsapp"]
    at = 2 * RATE
    assert np.array_equal(got[at : at + len(sound)], sound), "after the silence: in its place"
    assert not got[:at].any() and not got[at + len(sound) :].any()
    assert abs(len(got) + stream.latency_frames - 4 * RATE) <= BLOCK, "length is wall time"


def test_two_copies_of_the_app_are_mixed_and_one_that_quits_is_let_go() -> None:
    one, two = _noise(RATE, seed=4), _noise(RATE // 2, seed=5)
    desktop = Desktop(
        {
            "first": PlayingProcess(one, starts=0.5, quits=2.0),
            "second": PlayingProcess(two, starts=1.0, appears=0.2),
        }
    )
    stream = desktop.stream()
    assert stream.matching_now == 1
    got = _record(stream, 3.0).astype(np.int32)
    expected = np.zeros((3 * RATE, 2), np.int32)
    expected[RATE // 2 : RATE // 2 + len(one)] += one
    expected[RATE : RATE + len(two)] += two
    n = min(len(got), len(expected))
    assert np.array_equal(got[:n], expected[:n]), "both copies, summed, each in its place"
    assert desktop.taps["first"].closed, "the copy that quit is no longer tapped"
    assert stream.following == ["second"]
    stream.close()
    assert desktop.taps["second"].closed


def test_a_tap_that_fails_is_dropped_and_not_reopened_while_its_process_runs() -> None:
    desktop = Desktop(
        {"a": PlayingProcess(_noise(RATE, 6), starts=0.2), "b": PlayingProcess(_noise(RATE, 7), 9)}
    )
    desktop.refuse.add("b")
    with pytest.raises(AudioSourceError, match="could not record b"):
        desktop.stream()  # at the start the user hears why
    assert desktop.taps["a"].closed, "what was opened before the refusal is closed again"

    desktop = Desktop({"a": PlayingProcess(_noise(RATE, 6), starts=0.2)})
    stream = desktop.stream()
    desktop.taps["a"].fail_at = desktop.time.now + 0.5
    desktop.processes["late"] = PlayingProcess(_noise(RATE, 8), starts=9, appears=0.3)
    desktop.refuse.add("late")
    _record(stream, 2.0)
    assert desktop.opened.count("a") == 1 and desktop.opened.count("late") == 1
    assert stream.following == []


# -- sample formats --------------------------------------------------------------------------


def test_pcm_of_every_width_a_tap_may_send_becomes_the_same_floats() -> None:
    values = np.array([0.0, 0.5, -0.5, -1.0], dtype=np.float64)
    as_float = values.astype("<f4").tobytes()
    as_16 = (values * 32768).clip(-32768, 32767).astype("<i2").tobytes()
    as_32 = (values * 2**31).clip(-(2**31), 2**31 - 1).astype("<i4").tobytes()
    as_24 = b"".join(int(v * 2**23).to_bytes(4, "little", signed=True)[:3] for v in values)
    for data, bits, is_float in ((as_float, 32, True), (as_16, 16, False), (as_32, 32, False)):
        got = pcm_to_float(data, bits=bits, is_float=is_float, source_channels=2)
        assert got.shape == (2, 2) and np.allclose(got.ravel(), values, atol=1e-4), bits
    got = pcm_to_float(as_24 + b"\x01", bits=24, is_float=False, source_channels=1)
    assert np.allclose(got.ravel(), values, atol=1e-6), "24-bit, a torn byte dropped"
    with pytest.raises(ValueError, match="unsupported"):
        pcm_to_float(as_16, bits=16, is_float=True, source_channels=2)


def test_channels_are_fitted_and_floats_clipped_to_int16() -> None:
    stereo = np.array([[0.5, -0.5], [1.0, 0.0]], dtype=np.float32)
    assert fit_channels(stereo, 1).ravel().tolist() == [0.0, 0.5]
    assert fit_channels(stereo[:, :1], 2).tolist() == [[0.5, 0.5], [1.0, 1.0]]
    six = np.arange(12, dtype=np.float32).reshape(2, 6)
    assert fit_channels(six, 2).tolist() == [[0, 1], [6, 7]]
    data = np.array([2.0, -2.0], dtype="<f4").tobytes()
    frames = pcm_to_frames(data, bits=32, is_float=True, source_channels=2, channels=2)
    assert frames.tolist() == [[32767, -32768]]


def test_resampling_in_chunks_keeps_pitch_length_and_no_seam() -> None:
    """A 1 kHz tone at 44.1 kHz, fed in uneven chunks, comes out a 1 kHz tone at 48 kHz."""
    seconds = 2
    t = np.arange(44100 * seconds) / 44100
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)[:, None]
    resampler = LinearResampler(44100, 48000)
    cuts = np.cumsum(np.random.default_rng(1).integers(1, 900, size=400))
    pieces = np.split(tone, cuts[cuts < len(tone)])
    out = np.concatenate([resampler.process(p) for p in pieces])[:, 0]
    assert abs(len(out) - 48000 * seconds) <= 2
    expected = np.sin(2 * np.pi * 1000 * np.arange(len(out)) / 48000)
    assert np.max(np.abs(out - expected)) < 0.01, "the same tone, no seams between chunks"
    assert np.array_equal(LinearResampler(48000, 48000).process(tone), tone)


# -- Windows: which processes, which apps play ------------------------------------------------


def test_windows_taps_every_tree_of_the_app_and_refuses_exclude_mode() -> None:
    from capture.audio._wasapi_apps import Process, tap_targets

    processes = [
        Process(4, "System", 0),
        Process(10, "WhatsApp.exe", 1),
        Process(11, "WhatsApp.exe", 10),  # a renderer: inside the tree of 10
        Process(20, "WhatsApp.exe", 1),  # a second copy, started apart
        Process(30, "spotify.exe", 1),
    ]
    assert sorted(tap_targets(processes, AppFilter("whatsapp"))) == [10, 20]
    assert tap_targets(processes, AppFilter("zoom")) == {}, "not running yet: nothing, no error"
    with pytest.raises(AudioSourceError, match="all sound but WhatsApp is not available"):
        tap_targets(processes, AppFilter("WhatsApp", exclude=True))


def test_windows_lists_the_apps_with_an_active_audio_session() -> None:
    from capture.audio._wasapi_apps import AudioSession, apps_from_sessions

    sessions = [
        AudioSession(0, "", True),  # system sounds
        AudioSession(10, "chrome.exe", True),
        AudioSession(10, "chrome.exe", True),
        AudioSession(20, "WhatsApp.exe", True, "@%SystemRoot%\\x.dll,-1"),
        AudioSession(30, "spotify.exe", False),  # paused: not playing now
        AudioSession(40, "vlc.exe", True, "VLC media player"),
    ]
    assert apps_from_sessions(sessions) == [
        AppInfo("chrome", "chrome.exe", 10, 2),
        AppInfo("VLC media player", "vlc.exe", 40, 1),
        AppInfo("WhatsApp", "WhatsApp.exe", 20, 1),
    ]


def test_windows_refuses_a_proc_tap_capture_that_fell_back_to_all_sound() -> None:
    """proc-tap records the whole endpoint when process loopback fails; its native object says
    so through ``is_process_specific`` (shaped here as in proc-tap 1.1)."""
    from capture.audio._wasapi_apps import Process, check_process_specific

    def capture(specific: bool) -> Any:
        native = SimpleNamespace(
            is_process_specific=lambda: specific, get_last_error=lambda: "HRESULT=0x80070005"
        )
        return SimpleNamespace(_backend=SimpleNamespace(_native=native))

    target = Process(10, "WhatsApp.exe")
    check_process_specific(capture(True), target)
    with pytest.raises(AudioSourceError, match=r"WhatsApp\.exe \(pid 10\) alone.*0x80070005"):
        check_process_specific(capture(False), target)
    check_process_specific(SimpleNamespace(), target)  # another version: cannot tell, goes on


def test_windows_tap_drains_proc_tap_and_resamples_when_asked() -> None:
    from capture.audio._wasapi_apps import Process, ProcTapTap

    class Capture:
        def __init__(self) -> None:
            self.chunks: list[bytes | None] = [np.full(960, 0.5, "<f4").tobytes()] * 3 + [None]
            self.closed = False

        def read(self, timeout: float = 1.0) -> bytes | None:
            assert timeout == 0, "never waits: the loop keeps the clock"
            chunk = self.chunks.pop(0)
            if chunk is None and not self.chunks:
                self.chunks = [b"FAIL"]
            elif chunk == b"FAIL":
                raise RuntimeError("Capture is not running. Call start() first.")
            return chunk

        def close(self) -> None:
            self.closed = True

    capture = Capture()
    tap = ProcTapTap(capture, Process(10, "WhatsApp.exe"), 2, 48000)
    taken = tap.take()
    assert [c.shape for c in taken] == [(480, 2)] * 3 and taken[0][0].tolist() == [16384] * 2
    with pytest.raises(TapFailed, match=r"WhatsApp\.exe stopped"):
        tap.take()
    tap.close()
    assert capture.closed
    slower = ProcTapTap(Capture(), Process(10, "x.exe"), 1, 16000)
    assert sum(len(c) for c in slower.take()) in range(478, 482)


@pytest.mark.skipif(sys.platform == "win32", reason="the capture runs there")
def test_windows_capture_outside_windows_stops_at_the_version_gate() -> None:
    from capture.audio._wasapi_apps import WasapiApps, require_process_loopback

    with pytest.raises(AudioSourceError, match=r"Windows 11 \(build 20438"):
        WasapiApps().open_app(AppFilter("x"), "", RATE, 2, BLOCK)
    with pytest.raises(AudioSourceError, match="this is build 19045"):
        require_process_loopback(19045)  # Windows 10 22H2: proc-tap would record all sound


@pytest.mark.skipif(
    sys.platform != "win32", reason="WASAPI process loopback (proc-tap) exists on Windows only"
)
def test_windows_follows_a_running_program_and_lists_playing_apps() -> None:
    """On Windows: this very Python is a running program; its (silent) capture opens, gives
    int16 stereo silence on the clock, and the session list can be read."""
    from pathlib import Path

    from capture.audio._wasapi_apps import WasapiApps

    pytest.importorskip("proctap", reason="proc-tap is not installed (the 'apps' extra)")
    pytest.importorskip("pycaw", reason="pycaw is not installed (the 'apps' extra)")
    stream = WasapiApps().open_app(AppFilter(Path(sys.executable).name), "", RATE, 2, BLOCK)
    try:
        assert stream.matching_now >= 1
        block = stream.read()
        assert block.dtype == np.int16 and block.shape == (BLOCK, 2)
    finally:
        stream.close()
    assert isinstance(WasapiApps().list_apps(), list)


# -- macOS: which processes, the plan of taps, catap's buffers ---------------------------------


def _mac_processes() -> list[Any]:
    from capture.audio._coreaudio_apps import RunningApp

    return [
        RunningApp(501, "WhatsApp", "net.whatsapp.WhatsApp", 71, outputting=True),
        RunningApp(502, "Google Chrome Helper", "com.google.Chrome.helper", 72, outputting=True),
        RunningApp(503, "Music", "com.apple.Music", 73, outputting=False),
    ]


def test_macos_taps_each_process_of_the_app_or_all_but_its_processes() -> None:
    from capture.audio._coreaudio_apps import tap_plan

    apps = _mac_processes()
    assert list(tap_plan(apps, AppFilter("chrome"))) == [72]
    assert list(tap_plan(apps, AppFilter("net.whatsapp"))) == [71]
    assert tap_plan(apps, AppFilter("zoom")) == {}
    excluded = tap_plan(apps, AppFilter("whatsapp", exclude=True))
    assert list(excluded) == [frozenset({71})], "one global tap, keyed by what it leaves out"
    assert list(tap_plan(apps, AppFilter("zoom", exclude=True))) == [frozenset()]


def test_macos_lists_the_processes_playing_now() -> None:
    from capture.audio._coreaudio_apps import apps_playing

    assert apps_playing(_mac_processes()) == [
        AppInfo("Google Chrome Helper", "com.google.Chrome.helper", 502),
        AppInfo("WhatsApp", "net.whatsapp.WhatsApp", 501),
    ]


def test_macos_tap_converts_catap_buffers_and_reports_a_failed_capture() -> None:
    """Buffers shaped like catap's AudioBuffer (data + format) at the device's 44.1 kHz."""
    from capture.audio._coreaudio_apps import CatapTap

    tap = CatapTap("WhatsApp", 2, 48000)
    tap.session = SimpleNamespace(capture_failed=False, close=lambda: None)
    fmt = SimpleNamespace(sample_rate=44100.0, num_channels=2, bits_per_sample=32, is_float=True)
    for _ in range(10):
        tap.on_buffer(SimpleNamespace(data=np.full(882, 0.25, "<f4").tobytes(), format=fmt))
    frames = np.concatenate(tap.take())
    assert abs(len(frames) - 4800) <= 2, "100 ms at 44.1 kHz is 100 ms at 48 kHz"
    assert set(frames.ravel().tolist()) == {8192}
    assert tap.take() == []
    tap.session.capture_failed = True
    with pytest.raises(TapFailed, match="WhatsApp failed"):
        tap.take()


@pytest.mark.skipif(sys.platform == "darwin", reason="the capture runs there")
def test_macos_capture_elsewhere_stops_at_the_version_gate() -> None:
    from capture.audio._coreaudio_apps import CoreAudioApps

    with pytest.raises(AudioSourceError, match=r"macOS 14\.2"):
        CoreAudioApps().open_app(AppFilter("x"), "", RATE, 2, BLOCK)


@pytest.mark.skipif(sys.platform != "darwin", reason="Core Audio process taps exist on macOS only")
def test_macos_taps_all_sound_but_an_app_that_is_not_there() -> None:
    """On macOS 14.2+: a global tap leaving out nothing opens and gives int16 on the clock
    (silence without the user's permission: that cannot be told from here)."""
    from capture.audio._coreaudio_apps import CoreAudioApps

    pytest.importorskip("catap", reason="catap is not installed (the 'apps' extra)")
    stream = CoreAudioApps().open_app(AppFilter("no such app", exclude=True), "", RATE, 2, BLOCK)
    try:
        block = stream.read()
        assert block.dtype == np.int16 and block.shape == (BLOCK, 2)
    finally:
        stream.close()


# -- the wiring, against stand-ins shaped like the packages' verified signatures ---------------


class FakeProcTapCapture:
    """proc-tap 1.1's ProcessAudioCapture(pid, on_data=None, resample_quality='best'): the
    native capture is made (and may fall back) in the constructor, started by start()."""

    made: ClassVar[list[int]] = []

    def __init__(self, pid: int, on_data: Any = None, resample_quality: str = "best") -> None:
        self.pid = pid
        specific = pid != 666  # this one "fell back" to all sound
        native = SimpleNamespace(is_process_specific=lambda: specific, get_last_error=lambda: "")
        self._backend = SimpleNamespace(_native=native)
        self.started = self.closed = False
        self.reads = 0
        FakeProcTapCapture.made.append(pid)

    def get_format(self) -> dict[str, int | str]:
        return {
            "sample_rate": 48000,
            "channels": 2,
            "bits_per_sample": 32,
            "sample_format": "float32",
        }

    def start(self) -> None:
        self.started = True

    def read(self, timeout: float = 1.0) -> bytes | None:
        # Like its queue: one 10 ms chunk, then nothing until the next is due.
        self.reads += 1
        due = self.started and not self.closed and self.reads % 2
        return np.full(960, 0.25, "<f4").tobytes() if due else None

    def close(self) -> None:
        self.closed = True


def test_windows_open_app_taps_each_copy_through_proc_tap(monkeypatch: pytest.MonkeyPatch) -> None:
    from capture.audio import _wasapi_apps as wasapi
    from capture.audio._wasapi_apps import Process

    processes = [Process(10, "WhatsApp.exe", 1), Process(11, "WhatsApp.exe", 10)]
    monkeypatch.setattr(wasapi, "windows_build", lambda: 22631)
    monkeypatch.setattr(wasapi, "running_processes", lambda: list(processes))
    monkeypatch.setattr(
        wasapi, "import_proc_tap", lambda: SimpleNamespace(ProcessAudioCapture=FakeProcTapCapture)
    )
    FakeProcTapCapture.made = []
    stream = wasapi.WasapiApps().open_app(AppFilter("whatsapp"), "", RATE, 2, BLOCK)
    try:
        assert FakeProcTapCapture.made == [10] and stream.matching_now == 1
        assert "whatsapp" in stream.source.name
        processes.append(Process(20, "WhatsApp.exe", 1))  # a second copy, started later
        blocks = [stream.read() for _ in range(25)]  # a second: rescanned, both tapped
        assert FakeProcTapCapture.made == [10, 20] and sorted(stream.following) == [10, 20]
        assert all(b.shape == (BLOCK, 2) for b in blocks)
        assert any((b == 8192).all() for b in blocks), "one copy's sound, converted"
    finally:
        stream.close()
    processes[:] = [Process(666, "WhatsApp.exe", 1)]
    with pytest.raises(AudioSourceError, match=r"did not let loopcap record WhatsApp\.exe"):
        wasapi.WasapiApps().open_app(AppFilter("whatsapp"), "", RATE, 2, BLOCK)


class FakeCatapSession:
    """catap 0.6's RecordingSession: from_process(process, output_path=None, *, on_buffer=...),
    from_system_audio(output_path=None, *, exclude=(), on_buffer=...), start(), close()."""

    made: ClassVar[list[tuple[str, Any]]] = []

    def __init__(self, on_buffer: Any) -> None:
        self.on_buffer = on_buffer
        self.capture_failed = False
        self.closed = False

    @classmethod
    def from_process(cls, process: Any, output_path: Any = None, *, on_buffer: Any) -> Any:
        cls.made.append(("process", process.pid))
        return cls(on_buffer)

    @classmethod
    def from_system_audio(
        cls, output_path: Any = None, *, exclude: Any = (), on_buffer: Any
    ) -> Any:
        cls.made.append(("all but", sorted(p.pid for p in exclude)))
        return cls(on_buffer)

    def start(self) -> None:
        # Like catap's worker thread: a 10 ms buffer every 10 ms until closed.
        fmt = SimpleNamespace(
            sample_rate=48000.0, num_channels=2, bits_per_sample=16, is_float=False
        )
        buffer = SimpleNamespace(data=np.full(960, 4096, "<i2").tobytes(), format=fmt)

        def deliver() -> None:
            while not self.closed:
                self.on_buffer(buffer)
                time.sleep(0.01)

        threading.Thread(target=deliver, daemon=True).start()

    def close(self) -> None:
        self.closed = True


def _catap_process(pid: int, name: str, bundle: str) -> Any:
    return SimpleNamespace(
        audio_object_id=pid + 1000, pid=pid, bundle_id=bundle, name=name, is_outputting=True
    )


def test_macos_open_app_taps_through_catap(monkeypatch: pytest.MonkeyPatch) -> None:
    from capture.audio import _coreaudio_apps as coreaudio

    found = [_catap_process(501, "WhatsApp", "net.whatsapp.WhatsApp")]
    catap = SimpleNamespace(
        list_audio_processes=lambda: list(found), RecordingSession=FakeCatapSession
    )
    monkeypatch.setattr(coreaudio, "macos_version", lambda: (15, 1))
    monkeypatch.setattr(coreaudio, "import_catap", lambda: catap)
    FakeCatapSession.made = []
    assert coreaudio.CoreAudioApps().list_apps() == [
        AppInfo("WhatsApp", "net.whatsapp.WhatsApp", 501)
    ]
    stream = coreaudio.CoreAudioApps().open_app(AppFilter("whatsapp"), "", RATE, 2, BLOCK)
    blocks = [stream.read() for _ in range(12)]
    stream.close()
    assert FakeCatapSession.made == [("process", 501)]
    assert any((b == 4096).any() for b in blocks), "the tap's int16 buffer, in the output"

    FakeCatapSession.made = []
    stream = coreaudio.CoreAudioApps().open_app(
        AppFilter("whatsapp", exclude=True), "", RATE, 2, BLOCK
    )
    found.append(_catap_process(502, "WhatsApp Helper", "net.whatsapp.WhatsApp.helper"))
    for _ in range(25):
        stream.read()
    stream.close()
    assert FakeCatapSession.made == [("all but", [501]), ("all but", [501, 502])], (
        "a global tap leaving the app out, made anew when the app has another process"
    )
