"""A desktop on a headless machine: a private PulseAudio with a virtual speaker, and Xvfb.

Used by the tests' fixtures, the benchmarks and ``make demo``. Everything started here is
stopped by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tests.helpers import stop_process, wait_until

SINK = "virt"
RATE = 48000
CHANNELS = 2

# norewinds=1: without it the null sink works in 2-second bursts and new players lose their start.
PULSE_CONFIG = f"""\
load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name={SINK} rate={RATE} channels={CHANNELS} norewinds=1 \
sink_properties=device.description=VirtualSpeaker
set-default-sink {SINK}
set-default-source {SINK}.monitor
"""


@dataclass
class PulseRig:
    """A private PulseAudio server whose default output is a null sink named ``virt``."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    server: subprocess.Popen[bytes] | None = None
    monitor_reader: subprocess.Popen[bytes] | None = None
    #: Which sound server this is ("pulseaudio" or "pipewire"), for test ids and messages.
    kind: str = "pulseaudio"

    @classmethod
    def create(cls, root: Path) -> PulseRig:
        rig = cls(root)
        runtime = root / "runtime"
        for sub in ("runtime", "state", "config"):
            (root / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        (root / "virt.pa").write_text(PULSE_CONFIG)
        rig.env = {
            "XDG_RUNTIME_DIR": str(runtime),
            "PULSE_RUNTIME_PATH": str(runtime),
            "PULSE_STATE_PATH": str(root / "state"),
            "XDG_CONFIG_HOME": str(root / "config"),
            "PULSE_SERVER": f"unix:{runtime}/native",
        }
        return rig

    def environ(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def pactl(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            ["pactl", *args],
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def _answers(self) -> bool:
        result = subprocess.run(
            ["pactl", "info"],
            env=self.environ(),
            capture_output=True,
            timeout=10,
            check=False,
        )
        return result.returncode == 0

    def start(self) -> None:
        # A killed server leaves its pid file behind for a moment; a new one would refuse to start.
        with contextlib.suppress(FileNotFoundError):
            (self.root / "runtime" / "pid").unlink()
        self.server = subprocess.Popen(
            [
                "pulseaudio",
                "-n",
                "-F",
                str(self.root / "virt.pa"),
                "--daemonize=no",
                "--exit-idle-time=-1",
                f"--log-target=file:{self.root / 'pulse.log'}",
            ],
            env=self.environ(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, 15, "PulseAudio to answer")
        self._start_monitor_reader()

    def _start_monitor_reader(self) -> None:
        # A low-latency reader on the monitor keeps the sink from working in bursts.
        self.monitor_reader = subprocess.Popen(
            ["pacat", "-r", "-d", f"{SINK}.monitor", "--latency-msec=20", "/dev/null"],
            env=self.environ(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        """Kill the server like a crash would (SIGKILL)."""
        stop_process(self.monitor_reader)
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGKILL)
            self.server.wait()

    def stop(self) -> None:
        stop_process(self.monitor_reader)
        stop_process(self.server)

    def play(self, path: Path, app: str | None = None) -> subprocess.Popen[bytes]:
        """Start playing a sound file into the virtual speaker; returns the paplay process.

        With ``app``, paplay stands in for that application: its stream's ``application.name``
        (and client name) is ``app``, as a real player's would be.
        """
        as_app = [f"--client-name={app}", f"--property=application.name={app}"] if app else []
        return subprocess.Popen(
            ["paplay", "-d", SINK, *as_app, str(path)],
            env=self.environ(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def layout(self) -> tuple[list[str], list[tuple[str, str]]]:
        """What a recorder must leave as it found: loaded modules (name and argument) and, for
        each playing stream, its application and the sink it plays to."""
        modules = sorted(
            " ".join(line.split("\t")[1:3])
            for line in self.pactl("list", "short", "modules").splitlines()
            if line.strip()
        )
        sinks = {
            line.split("\t")[0]: line.split("\t")[1]
            for line in self.pactl("list", "short", "sinks").splitlines()
            if line.strip()
        }
        routing = []
        for block in self.pactl("list", "sink-inputs").split("\n\n"):
            sink = app = ""
            for raw in block.splitlines():
                line = raw.strip()
                if line.startswith("Sink:"):
                    sink = sinks.get(line.split(":", 1)[1].strip(), line)
                elif line.startswith("application.name ="):
                    app = line.split("=", 1)[1].strip().strip('"')
            if sink:
                routing.append((app, sink))
        return modules, sorted(routing)


@dataclass
class PipeWireRig(PulseRig):
    """PipeWire with WirePlumber and pipewire-pulse, a session bus, and the same ``virt`` sink.

    The same interface as PulseRig: tests written against one run on both sound servers.
    """

    kind: str = "pipewire"
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def create(cls, root: Path) -> PipeWireRig:
        rig = cls(root)
        runtime = root / "runtime"
        for sub in ("runtime", "state", "config", "home"):
            (root / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        rig.env = {
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_STATE_HOME": str(root / "state"),
            "XDG_CONFIG_HOME": str(root / "config"),
            "HOME": str(root / "home"),
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={runtime}/bus",
            "PULSE_SERVER": f"unix:{runtime}/pulse/native",
            # Set here so that a PulseAudio rig's (exported by the session fixture) is not used:
            # pipewire-pulse would put its socket there.
            "PULSE_RUNTIME_PATH": f"{runtime}/pulse",
            "PULSE_STATE_PATH": str(root / "state"),
        }
        return rig

    def _spawn(self, *command: str) -> subprocess.Popen[bytes]:
        with (self.root / f"{command[0]}.log").open("ab") as log:
            proc = subprocess.Popen(
                list(command), env=self.environ(), stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        self.processes.append(proc)
        return proc

    def start(self) -> None:
        runtime = self.root / "runtime"
        with contextlib.suppress(FileNotFoundError):
            (runtime / "bus").unlink()
        # WirePlumber wants a session bus; pipewire-pulse serves the PulseAudio protocol.
        self._spawn("dbus-daemon", "--session", f"--address=unix:path={runtime}/bus", "--nofork")
        wait_until((runtime / "bus").exists, 10, "the session bus")
        with contextlib.suppress(FileNotFoundError):
            (runtime / "pipewire-0").unlink()  # a killed server's socket, until the new one binds
        self.server = self._spawn("pipewire")
        # WirePlumber started before pipewire listens exits at once ("Failed to connect to
        # PipeWire"), and then no default sink is ever chosen.
        wait_until((runtime / "pipewire-0").exists, 10, "pipewire's socket")
        self._spawn("wireplumber")
        self._spawn("pipewire-pulse")
        wait_until(self._answers, 20, "pipewire-pulse to answer")
        self.pactl(
            "load-module",
            "module-null-sink",
            f"sink_name={SINK}",
            f"rate={RATE}",
            f"channels={CHANNELS}",
            "sink_properties=device.description=VirtualSpeaker",
        )
        # The new sink takes a moment to be usable as the default ("Not supported" before).
        wait_until(
            lambda: (
                self.pactl("set-default-sink", SINK, check=False) is not None
                and f"Default Sink: {SINK}" in self.pactl("info")
            ),
            10,
            "the virtual speaker to become the default",
        )
        self._start_monitor_reader()

    def kill(self) -> None:
        """Kill the sound server like a crash would: pipewire, wireplumber, pipewire-pulse."""
        stop_process(self.monitor_reader)
        for proc in self.processes:
            if proc.poll() is None and proc.args[0] != "dbus-daemon":  # type: ignore[index]
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        self.processes = [p for p in self.processes if p.poll() is None]

    def stop(self) -> None:
        stop_process(self.monitor_reader)
        for proc in reversed(self.processes):
            stop_process(proc)
        self.processes = []


#: The sound servers the server-facing tests run on.
RIG_KINDS: dict[str, type[PulseRig]] = {"pulseaudio": PulseRig, "pipewire": PipeWireRig}


@contextlib.contextmanager
def pulse_rig(root: Path | None = None, kind: str = "pulseaudio") -> Iterator[PulseRig]:
    """A private sound server (``kind``: "pulseaudio" or "pipewire") with the ``virt`` sink."""
    with contextlib.ExitStack() as stack:
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loopcap-pulse-")))
        rig = RIG_KINDS[kind].create(root)
        try:
            rig.start()
            yield rig
        finally:
            rig.stop()


@contextlib.contextmanager
def this_process_on(rig: PulseRig) -> Iterator[PulseRig]:
    """Point this process's own environment at ``rig`` (for the library used in-process), and
    put every variable back as it was afterwards."""
    saved = {key: os.environ.get(key) for key in rig.env}
    os.environ.update(rig.env)
    try:
        yield rig
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class XvfbRig:
    display: str
    proc: subprocess.Popen[bytes]

    def environ(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}


@contextlib.contextmanager
def xvfb_rig(
    width: int = 1920, height: int = 1080, extra_args: Sequence[str] = ()
) -> Iterator[XvfbRig]:
    """Xvfb on a free display number, with -displayfd so we know when it is ready.

    ``extra_args`` go to Xvfb as they are, e.g. ``("-extension", "RECORD")`` to turn RECORD off.
    """
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
            *extra_args,
        ],
        pass_fds=(write_fd,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as reader:
            number = reader.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield XvfbRig(f":{number}", proc)
    finally:
        stop_process(proc)


# -----------------------------------------------------------------------------------------------
# Test sound


def write_wav(path: Path, samples: npt.NDArray[np.int16], rate: int = RATE) -> Path:
    """Write int16 samples, shape (frames,) or (frames, channels), as a WAV file."""
    if samples.ndim == 1:
        samples = samples[:, None]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    return path


def read_wav(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    with wave.open(str(path), "rb") as source:
        data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
        return data.reshape(-1, source.getnchannels()), source.getframerate()


def speech_wav(path: Path, text: str, rate: int = RATE) -> Path:
    """Spoken text from espeak-ng, resampled to ``rate`` stereo by sox."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(rate), "-c", "2", "-b", "16", str(path)],
        check=True,
        capture_output=True,
    )
    raw.unlink()
    return path


def tone(
    seconds: float, freq: float, rate: int = RATE, level: float = 0.5
) -> npt.NDArray[np.int16]:
    t = np.arange(round(seconds * rate)) / rate
    mono = (np.sin(2 * np.pi * freq * t) * level * 32767).astype(np.int16)
    return np.repeat(mono[:, None], CHANNELS, axis=1)


def noise(
    seconds: float, rate: int = RATE, level: float = 0.3, seed: int = 1
) -> npt.NDArray[np.int16]:
    rng = np.random.default_rng(seed)
    data = rng.uniform(-level, level, size=(round(seconds * rate), CHANNELS)) * 32767
    return data.astype(np.int16)


def as_float(clip: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    """int16 frames as float mono in [-1, 1), to compare with :func:`decode_to_array`."""
    mono: npt.NDArray[np.float32] = (clip.astype(np.float32).mean(axis=1) / 32768).astype(
        np.float32
    )
    return mono


def decode_to_array(path: Path, rate: int = RATE) -> npt.NDArray[np.float32]:
    """Any audio file decoded by ffmpeg to float mono at ``rate``."""
    ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    result = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(rate), "-"],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(result.stdout, dtype=np.float32)


def best_alignment(
    recorded: npt.NDArray[np.float32], played: npt.NDArray[np.float32]
) -> tuple[int, float]:
    """Where ``played`` sits inside ``recorded`` (offset in samples) and how well it matches there.

    Normalized cross-correlation by FFT; the score is the Pearson correlation at that offset over
    the overlapping part.
    """
    n = len(recorded) + len(played)
    size = 1 << (n - 1).bit_length()
    spectrum = np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(played, size))
    corr = np.fft.irfft(spectrum, size)
    lags = np.concatenate([corr[: len(recorded)], corr[size - len(played) + 1 :]])
    offsets = np.concatenate([np.arange(len(recorded)), np.arange(-len(played) + 1, 0)])
    offset = int(offsets[int(np.argmax(lags))])
    return offset, correlation_at(recorded, played, offset)


def correlation_at(
    recorded: npt.NDArray[np.float32], played: npt.NDArray[np.float32], offset: int
) -> float:
    start_r = max(0, offset)
    start_p = max(0, -offset)
    length = min(len(recorded) - start_r, len(played) - start_p)
    if length <= 0:
        return 0.0
    a = recorded[start_r : start_r + length].astype(np.float64)
    b = played[start_p : start_p + length].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom else 0.0


def ffprobe(path: Path) -> dict[str, object]:
    import json

    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout))
