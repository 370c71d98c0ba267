"""Processes and signals: stopping a child process (ask with SIGTERM, wait ``grace`` seconds,
then insist with SIGKILL), and the signals that ask loopcap itself to stop."""

from __future__ import annotations

import signal
import subprocess
from typing import Any

#: Ctrl+C, ``kill`` and a closed terminal: each asks to stop and save, none to die.
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def stop_process(proc: subprocess.Popen[Any], grace: float) -> None:
    """Stop ``proc`` if it still runs, and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()
