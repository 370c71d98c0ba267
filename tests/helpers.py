"""What the tests, the demo and the benchmarks share: polling, stopping what they started, running
the real ``loopcap`` command with a private state, and reading its answers.

The rigs themselves (PulseAudio, Xvfb) and the signal helpers live in :mod:`tests.rig`.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent

E = TypeVar("E")


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it is true; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_for_event(events: queue.Queue[Any], kind: type[E], timeout: float = 30) -> E:
    """The first event of type ``kind`` from ``events`` (others are passed over)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=0.2)
        except queue.Empty:
            continue
        if isinstance(event, kind):
            return event
        seen.append(type(event).__name__)
    raise AssertionError(f"no {kind.__name__} within {timeout} s; saw {sorted(set(seen))}")


def stop_process(proc: subprocess.Popen[Any] | None, timeout: float = 5) -> None:
    """Stop a process this run started, by its PID: SIGTERM, then SIGKILL after ``timeout``."""
    from capture.processes import stop_process as stop

    if proc is not None:
        stop(proc, grace=timeout)


@dataclass
class Loopcap:
    """Runs the real ``loopcap`` command with a private settings and state folder."""

    env: dict[str, str]
    home: Path

    @property
    def runtime(self) -> Path:
        """Where the running instance keeps its lock, control socket and key."""
        return Path(self.env["LOOPCAP_RUNTIME_DIR"])

    @property
    def sessions(self) -> Path:
        return Path(self.env["LOOPCAP_STATE_DIR"]) / "sessions"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "capture", *args]

    def run(
        self, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None, **more: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``loopcap ARGS`` to the end; ``env`` and keywords add environment variables."""
        return subprocess.run(
            self.command(*args),
            env={**self.env, **(env or {}), **more},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            check=False,
        )

    def start(
        self, *args: str, env: Mapping[str, str] | None = None, **more: str
    ) -> subprocess.Popen[str]:
        """Start ``loopcap ARGS`` with pipes for its output."""
        return subprocess.Popen(
            self.command(*args),
            env={**self.env, **(env or {}), **more},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def wait_until_recording(self, proc: subprocess.Popen[str], timeout: float = 60) -> None:
        """Until ``proc`` (a ``loopcap record``) has written its first audio or video to its
        session: a loaded machine may take seconds to start it, and what happens before is not
        recorded."""

        def recording() -> bool:
            assert proc.poll() is None, f"loopcap exited early: {proc.communicate()[1]}"
            written = [*self.sessions.glob("*/audio.pcm"), *self.sessions.glob("*/video.mp4")]
            return any(p.stat().st_size > 0 for p in written)

        wait_until(recording, timeout, "the recording to start")

    def status(self) -> dict[str, Any]:
        """``loopcap ctl status --json`` of the running instance, parsed."""
        result = self.run("ctl", "status", "--json", timeout=30)
        assert result.returncode == 0, result.stderr
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer


def make_loopcap(base: Path, rig_env: dict[str, str] | None = None) -> Loopcap:
    """A ``loopcap`` whose settings, state, runtime folder and home are under ``base``."""
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **(rig_env or {}),
        "LOOPCAP_STATE_DIR": str(base / "state"),
        "LOOPCAP_CONFIG_DIR": str(base / "config"),
        "LOOPCAP_RUNTIME_DIR": str(base / "runtime"),
        "PYTHONPATH": str(ROOT),
        "HOME": str(home),
        "XDG_MUSIC_DIR": str(home / "Music"),
    }
    return Loopcap(env, home)


def cli_env(tmp: Path) -> dict[str, str]:
    """This environment, with loopcap's settings and state under ``tmp``: never the user's."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LOOPCAP_CONFIG_DIR": str(tmp / "config"),
        "LOOPCAP_STATE_DIR": str(tmp / "state"),
    }


def run_cli(tmp: Path, *args: str | Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``loopcap ARGS`` with its settings and state under ``tmp`` (for commands on files)."""
    return subprocess.run(
        [sys.executable, "-m", "capture", *map(str, args)],
        cwd=ROOT,
        env=cli_env(tmp),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_clear_line(stderr: str) -> None:
    """Expected failures say one thing, on one line, without a traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("loopcap"), stderr
