"""loopcap's capture worker: the only process that talks to the audio server.

    python -m capture.audio._worker list
    python -m capture.audio._worker apps
    python -m capture.audio._worker open SPEC SAMPLERATE CHANNELS BLOCK_FRAMES [--app NAME]
    python -m capture.audio._worker open SPEC SAMPLERATE CHANNELS BLOCK_FRAMES --exclude-app NAME

``list`` prints the loopback sources as JSON, ``apps`` the applications playing now. ``open``
prints one JSON header line (the source opened, or the error), then raw int16 interleaved
frames on stdout until it is stopped or the stream fails (with an app: that app's streams only,
or all but them). With an app, ``{"player_stopped": N}`` lines on stderr say that the app's
player stopped (its last playing stream was removed or paused) at output frame N (counted from
the first frame written); each comes before the frame it names is written. After a failure it
exits at once with ``os._exit``: libpulse aborts the interpreter on the next soundcard call, so
nothing more may touch it, not even cleanup.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from capture.audio._apps import AppFilter
from capture.audio._native import native_backend
from capture.audio._types import StreamLost
from capture.errors import AudioSourceError

EXIT_SERVER = 3  # the audio server cannot be reached or failed: try again later
EXIT_SOURCE = 4  # no such source: asking again will not help

T = TypeVar("T")


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"ok": False, "kind": kind, "error": message}


def _emit(stream: Any, payload: Any) -> None:
    stream.write(json.dumps(payload).encode() + b"\n")
    stream.flush()


def _reported(out: Any, action: Callable[[], T]) -> tuple[T, int]:
    """Run ``action``; a failure is answered as the JSON header and becomes an exit code."""
    try:
        return action(), 0
    except StreamLost as exc:
        _emit(out, _error("server", str(exc)))
        return typing.cast(T, None), EXIT_SERVER
    except AudioSourceError as exc:
        _emit(out, _error("source", str(exc)))
        return typing.cast(T, None), EXIT_SOURCE


def main(argv: list[str]) -> int:
    # Only loopcap stops the worker (it runs in its own session; this also covers a worker
    # started by hand in a terminal): a Ctrl+C meant for loopcap must not end the stream.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout.buffer
    backend = native_backend()
    command = argv[0] if argv else ""
    if command == "list":
        sources, failed = _reported(out, backend.list_sources)
        if failed:
            return failed
        _emit(
            out,
            {
                "ok": True,
                "backend": backend.name,
                "sources": [dataclasses.asdict(s) for s in sources],
            },
        )
        return 0
    if command == "apps":
        apps, failed = _reported(out, backend.list_apps)
        if failed:
            return failed
        listing = [dataclasses.asdict(a) for a in apps]
        _emit(out, {"ok": True, "backend": backend.name, "apps": listing})
        return 0
    app = AppFilter.from_args(argv[5:])
    if command != "open" or len(argv) != (7 if app else 5):
        print(__doc__, file=sys.stderr)
        return 2
    spec, samplerate, channels, block_frames = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    stream, failed = _reported(
        out, lambda: backend.open(spec, samplerate, channels, block_frames, app)
    )
    if failed:
        return failed
    source = getattr(stream, "source")  # noqa: B009 - every backend's stream names its source
    header = {"ok": True, "backend": backend.name, "source": dataclasses.asdict(source)}
    if app is not None:
        header["matching"] = getattr(stream, "matching_now", None)
        header["continuous"] = bool(getattr(stream, "continuous", False))
        header["latency_frames"] = int(getattr(stream, "latency_frames", 0))
    _emit(out, header)
    while True:
        try:
            block = stream.read()
        except StreamLost as exc:
            print(json.dumps(_error("server", str(exc))), file=sys.stderr, flush=True)
            os._exit(EXIT_SERVER)
        _say_player_stops(stream)
        if block is None:
            continue
        try:
            out.write(block.tobytes())
            out.flush()
        except (BrokenPipeError, OSError):
            os._exit(0)  # loopcap went away; nothing left to do


def _say_player_stops(stream: Any) -> None:
    """Pass on where the app's player stopped, before the frames it names are written."""
    take_player_stops = getattr(stream, "take_player_stops", None)
    for frame in take_player_stops(sys.maxsize) if take_player_stops is not None else ():
        print(json.dumps({"player_stopped": frame}), file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
