"""macOS per-application capture: Core Audio process taps (macOS 14.2+), through catap.

``AudioHardwareCreateProcessTap`` taps the output of some processes (or of all but some), read
through a private aggregate device; the app needs ``NSAudioCaptureUsageDescription``, and
without the user's permission the tap delivers silence (no public API tells).

The maintained ``catap`` package does the Core Audio side (its own small native library for the
real-time callback; a PyObjC IOProc was reported not to fire). What loopcap uses of it (catap
0.6 source): ``list_audio_processes()`` (``AudioProcess``: ``audio_object_id``, ``pid``,
``bundle_id``, ``name``, ``is_outputting``), ``RecordingSession.from_process(process,
on_buffer=...)`` and ``RecordingSession.from_system_audio(exclude=[...], on_buffer=...)``,
``start()`` / ``close()`` and ``capture_failed``; ``on_buffer`` gets an ``AudioBuffer``
(``data`` bytes, interleaved, in its ``format``: ``sample_rate``, ``num_channels``,
``bits_per_sample``, ``is_float``) on catap's worker thread.

Here: the version gate, which processes a name means (name or bundle id, given as data), and
the plan of taps: with ``--app``, one tap per process of the app (a new helper process is
tapped when it shows up, without touching the others); with ``--exclude-app``, one global tap
that excludes the app's processes, made anew when that set changes. The taps are mixed on the
wall clock by ``TappedAppStream``; their PCM is converted (and resampled: a tap runs at its
output device's rate) by the shared helpers.
"""

from __future__ import annotations

import queue
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from capture.audio._tapped import (
    MAX_TAKE,
    LinearResampler,
    TapFailed,
    TappedAppStream,
    pcm_to_frames,
)
from capture.errors import AudioSourceError

if TYPE_CHECKING:
    from capture.audio._apps import AppFilter, AppInfo
    from capture.audio._types import Frames

FIRST_VERSION = (14, 2)

#: The key of the one global tap with ``--exclude-app``: the excluded processes' object ids.
ExcludeKey = frozenset[int]


@dataclass(frozen=True, slots=True)
class RunningApp:
    pid: int
    name: str  # "WhatsApp"
    bundle_id: str = ""  # "net.whatsapp.WhatsApp"
    audio_object_id: int = 0  # Core Audio's process object
    outputting: bool = False  # playing sound now


def parse_version(text: str) -> tuple[int, ...]:
    """``"14.2.1"`` → ``(14, 2, 1)``; anything unreadable is version 0."""
    parts = []
    for piece in text.strip().split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts) or (0,)


def process_taps_supported(version: tuple[int, ...]) -> bool:
    return version >= FIRST_VERSION


def require_process_taps(version: tuple[int, ...]) -> None:
    if not process_taps_supported(version):
        shown = ".".join(str(v) for v in version)
        raise AudioSourceError(
            f"recording one application needs macOS 14.2 or later; this is macOS {shown}. "
            "Without an app, loopcap records all sound through a loopback device"
        )


def matching_apps(apps: list[RunningApp], app: AppFilter) -> list[RunningApp]:
    """The running apps ``app`` follows: matched by name or bundle id, any case."""
    return [a for a in apps if app.follows(a.name, a.bundle_id)]


def named_apps(apps: list[RunningApp], app: AppFilter) -> list[RunningApp]:
    """The processes ``app`` names (to record, or with exclude, to leave out)."""
    return [a for a in apps if app.names_app(a.name, a.bundle_id)]


def tap_plan(
    apps: list[RunningApp], app: AppFilter
) -> dict[int, RunningApp] | dict[ExcludeKey, list[RunningApp]]:
    """What to tap now. ``--app``: one tap per process of the app, by its object id.
    ``--exclude-app``: one global tap, keyed by the set it leaves out (a new set, a new tap)."""
    named = named_apps(apps, app)
    if app.exclude:
        return {frozenset(a.audio_object_id for a in named): named}
    return {a.audio_object_id: a for a in named}


def apps_playing(apps: list[RunningApp]) -> list[AppInfo]:
    """``devices --apps``: the processes playing sound now, one entry per app and pid."""
    from capture.audio._apps import AppInfo, group_apps

    return group_apps(
        [AppInfo(a.name, a.bundle_id, a.pid) for a in apps if a.outputting and a.name]
    )


def macos_version() -> tuple[int, ...]:
    import platform

    return parse_version(platform.mac_ver()[0])


def import_catap() -> Any:
    if sys.version_info < (3, 11):
        raise AudioSourceError(
            "recording one application on macOS needs Python 3.11 or later (for the package "
            "'catap'); this is Python {}.{}".format(*sys.version_info[:2])
        )
    try:
        import catap  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise AudioSourceError(
            "recording one application on macOS needs the Python package 'catap', which is "
            "not installed; install it with: pip install catap"
        ) from exc
    return catap


class CatapTap:
    """One catap recording session, streaming: its buffers, converted on our thread."""

    def __init__(self, what: str, channels: int, samplerate: int) -> None:
        self.session: Any = None  # set once catap made it (it needs our on_buffer first)
        self._what = what
        self._channels = channels
        self._samplerate = samplerate
        self._resampler: LinearResampler | None = None
        self._rate = 0.0
        #: Filled on catap's worker thread (``on_buffer``), emptied by ``take``.
        self.buffers: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def on_buffer(self, buffer: Any) -> None:
        self.buffers.put(buffer)

    def convert(self, buffer: Any) -> Frames:
        fmt = buffer.format
        rate = float(fmt.sample_rate)
        if self._resampler is None or rate != self._rate:
            self._rate = rate
            self._resampler = LinearResampler(rate, self._samplerate)
        return pcm_to_frames(
            buffer.data,
            bits=int(fmt.bits_per_sample),
            is_float=bool(fmt.is_float),
            source_channels=int(fmt.num_channels),
            channels=self._channels,
            resampler=self._resampler,
        )

    def take(self) -> list[Frames]:
        chunks: list[Frames] = []
        while len(chunks) < MAX_TAKE:
            try:
                buffer = self.buffers.get_nowait()
            except queue.Empty:
                break
            chunks.append(self.convert(buffer))
        if not chunks and self.session.capture_failed:
            raise TapFailed(f"the Core Audio tap of {self._what} failed")
        return chunks

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def start_session(
    make_session: Callable[[Callable[[Any], None]], Any], what: str, channels: int, samplerate: int
) -> CatapTap:
    """A started catap session, made by ``make_session(on_buffer)``, as a tap."""
    tap = CatapTap(what, channels, samplerate)
    try:
        tap.session = make_session(tap.on_buffer)
        tap.session.start()
    except (OSError, ValueError, RuntimeError, LookupError) as exc:
        tap.close()
        raise AudioSourceError(
            f"could not tap {what} ({exc}); if macOS asked, allow loopcap's terminal or app "
            "to record system audio in System Settings → Privacy & Security"
        ) from exc
    return tap


class CoreAudioApps:
    name = "coreaudio"

    def _processes(self, catap: Any) -> tuple[list[RunningApp], dict[int, Any]]:
        found = catap.list_audio_processes()
        by_id = {int(p.audio_object_id): p for p in found}
        apps = [
            RunningApp(
                pid=int(p.pid),
                name=str(p.name or ""),
                bundle_id=str(p.bundle_id or ""),
                audio_object_id=int(p.audio_object_id),
                outputting=bool(p.is_outputting),
            )
            for p in found
        ]
        return apps, by_id

    def list_apps(self) -> list[AppInfo]:
        require_process_taps(macos_version())
        apps, _ = self._processes(import_catap())
        return apps_playing(apps)

    def open_app(
        self, app: AppFilter, spec: str, samplerate: int, channels: int, block_frames: int
    ) -> TappedAppStream[Any, Any]:
        from capture.audio._types import SourceInfo

        require_process_taps(macos_version())
        catap = import_catap()
        latest: dict[int, Any] = {}

        def find_targets() -> dict[Any, Any]:
            apps, by_id = self._processes(catap)
            latest.clear()
            latest.update(by_id)
            return dict(tap_plan(apps, app))

        def open_tap(key: Any, target: Any) -> CatapTap:
            if app.exclude:
                excluded = [latest[a.audio_object_id] for a in target]
                return start_session(
                    lambda on_buffer: catap.RecordingSession.from_system_audio(
                        exclude=excluded, on_buffer=on_buffer
                    ),
                    app.describe(),
                    channels,
                    samplerate,
                )
            process = latest[key]
            return start_session(
                lambda on_buffer: catap.RecordingSession.from_process(process, on_buffer=on_buffer),
                f"{target.name} (pid {target.pid})",
                channels,
                samplerate,
            )

        what = app.describe()
        return TappedAppStream(
            app,
            SourceInfo(f"app:{what}", f"{what} (Core Audio process tap)"),
            samplerate,
            channels,
            block_frames,
            find_targets=find_targets,
            open_tap=open_tap,
        )
