"""A real player: headless Chromium playing a chain of audio files into the test PulseAudio.

A page served on 127.0.0.1 plays the files one after another with one ``<audio>`` element at a
given ``playbackRate`` (pitch kept, as browsers time-stretch), waiting a given time between the
end of one file and the start of the next, the way a messenger autoplays a chat's voice notes.
The page reports each file's start and end back to the server, so the caller knows when the
chain is over. Chromium plays into whatever PulseAudio the given environment points at and
shows up there as ``application.name = "Chromium"``.

Everything started here is stopped by its PID (Chromium in a process group of its own, so its
helper processes go with it). Nothing is downloaded; Debian's ``chromium`` package is needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from capture.processes import stop_process

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PAGE = """<!doctype html>
<meta charset="utf-8"><title>chain player</title>
<audio id="player" preload="auto"></audio>
<script>
const query = new URLSearchParams(location.search);
const files = query.get("files").split("|");
const gaps = (query.get("gaps") || "").split(",").filter(Boolean).map(Number);
const rate = Number(query.get("rate") || "1");
const lead = Number(query.get("lead") || "0");
const player = document.getElementById("player");
player.preservesPitch = true;
let index = 0;
function report(kind, extra) {
  return fetch("/event", {method: "POST", body: JSON.stringify(
    Object.assign({kind: kind, index: index, t: performance.now()}, extra || {}))});
}
function start() {
  if (index >= files.length) { report("done"); return; }
  player.src = files[index];
  player.defaultPlaybackRate = rate;
  player.playbackRate = rate;
  player.play().catch(e => report("error", {message: String(e)}));
}
player.addEventListener("playing", () => report("playing"));
player.addEventListener("ended", () => {
  report("ended");
  const gap = gaps.length ? gaps[Math.min(index, gaps.length - 1)] : 0;
  index += 1;
  setTimeout(start, index < files.length ? gap * 1000 : 0);
});
player.addEventListener("error", () => report("error", {message: "cannot play " + files[index]}));
setTimeout(start, lead * 1000);
</script>
"""


@dataclass
class ChainEvents:
    """What the page reported: ``playing`` / ``ended`` per file index, then ``done``."""

    items: list[dict[str, Any]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: dict[str, Any]) -> None:
        with self.lock:
            self.items.append(item)
        if item.get("kind") in ("done", "error"):
            self.done.set()

    def errors(self) -> list[str]:
        with self.lock:
            return [str(i.get("message")) for i in self.items if i.get("kind") == "error"]


def _handler(folder: Path, events: ChainEvents) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            with contextlib.suppress(ValueError):
                events.add(json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextlib.contextmanager
def serve_folder(folder: Path, events: ChainEvents | None = None) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port); yields the base URL. POSTs go to ``events``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(folder, events or ChainEvents()))
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="test-http")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def chromium_command(url: str, profile: Path) -> list[str]:
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed (apt install chromium)")
    return [
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        # A larger output buffer: on a busy machine the default (10 ms) underruns into dropouts.
        "--audio-buffer-size=4096",
        f"--user-data-dir={profile}",
        url,
    ]


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 5) -> None:
    """Stop a process started with ``start_new_session=True`` and whatever it started."""
    stop_process(proc, timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # its helpers (renderer, zygote), same group


@dataclass
class ChainPlayback:
    """A chain being played; ``wait()`` for its end. Times are the page's clock (ms)."""

    events: ChainEvents
    process: subprocess.Popen[bytes]

    def wait(self, timeout: float) -> list[dict[str, Any]]:
        if not self.events.done.wait(timeout):
            raise TimeoutError(f"the browser did not finish the chain within {timeout:.0f} s")
        errors = self.events.errors()
        if errors:
            raise RuntimeError(f"the browser could not play: {'; '.join(errors)}")
        with self.events.lock:
            return list(self.events.items)


@contextlib.contextmanager
def play_chain(
    files: Sequence[Path],
    env: Mapping[str, str],
    *,
    rate: float = 1.0,
    gaps_s: Sequence[float] = (),
    lead_s: float = 1.0,
    nice: int = 0,
) -> Iterator[ChainPlayback]:
    """Play ``files`` in Chromium one after another at ``rate``, ``gaps_s[i]`` after file i ends.

    ``env`` is the environment of the audio server to play into (the rig's ``environ()``).
    ``lead_s`` waits before the first file, after the page has loaded. Chromium is stopped when
    the block ends; a player's stream stays open until then. ``nice`` < 0 runs it at a higher
    priority (root only): on a saturated machine a browser's audio drops out for up to a second
    at a time, which a real player on a desktop does not.
    """
    with tempfile.TemporaryDirectory(prefix="loopcap-browser-") as tmp:
        root = Path(tmp)
        site = root / "site"
        site.mkdir()
        names = []
        for i, path in enumerate(files):
            name = f"{i:03d}{path.suffix}"
            shutil.copyfile(path, site / name)
            names.append(name)
        (site / "player.html").write_text(PAGE)
        events = ChainEvents()
        with serve_folder(site, events) as base:
            query = urlencode(
                {
                    "files": "|".join(names),
                    "gaps": ",".join(f"{g:.3f}" for g in gaps_s),
                    "rate": f"{rate:g}",
                    "lead": f"{lead_s:.3f}",
                }
            )
            process = subprocess.Popen(
                (["nice", "-n", str(nice)] if nice else [])
                + chromium_command(f"{base}/player.html?{query}", root / "profile"),
                env={**env, "HOME": str(root)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                yield ChainPlayback(events, process)
            finally:
                stop_group(process)


def chain_duration_s(seconds: Sequence[float], rate: float, gaps_s: Sequence[float]) -> float:
    """How long a chain plays: each file at ``rate`` plus the gaps between them."""
    return sum(s / rate for s in seconds) + sum(gaps_s[: max(0, len(seconds) - 1)])


def wait_for_sink_input(env: Mapping[str, str], application: str, timeout: float = 15) -> None:
    """Until the audio server lists a stream of ``application`` (e.g. "Chromium")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = subprocess.run(
            ["pactl", "list", "sink-inputs"],
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if f'application.name = "{application}"' in listing:
            return
        time.sleep(0.1)
    raise TimeoutError(f"no {application} stream appeared within {timeout:.0f} s")


# -----------------------------------------------------------------------------------------------
# Comparing what a browser played with the file it was given: by loudness envelope, because a
# browser's time-stretch at 1.5x / 2x changes the waveform (waveform correlation drops to ~0.2
# while 10 ms loudness envelopes still correlate > 0.94).


def loudness_envelope(mono: Any, rate: int, window_ms: float = 10.0) -> Any:
    """RMS level in dB of each ``window_ms`` of a float mono signal (numpy array)."""
    import numpy as np

    window = max(1, round(rate * window_ms / 1000))
    usable = len(mono) // window * window
    frames = np.asarray(mono[:usable], dtype=np.float64).reshape(-1, window)
    return 10 * np.log10(np.maximum((frames**2).mean(axis=1), 1e-12))


def envelope_match(recorded: Any, played: Any) -> tuple[int, float]:
    """Where envelope ``played`` best sits inside envelope ``recorded`` (in windows) and the
    Pearson correlation there. Both in dB, floored at -90 dB so digital silence is comparable."""
    import numpy as np

    rec = np.maximum(np.asarray(recorded, dtype=np.float64), -90.0)
    ref = np.maximum(np.asarray(played, dtype=np.float64), -90.0)
    if len(ref) > len(rec):
        return 0, 0.0
    best, best_at = -2.0, 0
    ref_c = ref - ref.mean()
    ref_n = np.sqrt((ref_c**2).sum())
    windows = np.lib.stride_tricks.sliding_window_view(rec, len(ref))
    means = windows.mean(axis=1)
    dots = windows @ ref_c
    norms = np.sqrt(np.maximum((windows**2).sum(axis=1) - len(ref) * means**2, 1e-12))
    scores = dots / (norms * ref_n if ref_n else 1.0)
    best_at = int(np.argmax(scores))
    best = float(scores[best_at])
    return best_at, best
