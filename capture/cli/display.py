"""What the commands show on a terminal: a live meter for recording and listening, a progress
bar for batches. rich is imported only when a terminal is there to show it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from capture.batch.convert import BatchReport, ConversionResult
    from capture.events import Event


class LiveDisplay:
    """Elapsed time, a level meter and the latest news on the terminal (stderr)."""

    def __init__(self, badge: str, caption: str, elapsed: Callable[[], float]) -> None:
        from rich.console import Console
        from rich.live import Live

        from capture.levels import SILENCE_DB

        self._badge = badge
        self._caption = caption
        self._elapsed = elapsed
        self._level = SILENCE_DB
        self._message = ""
        self._console = Console(stderr=True)
        self._live = Live(
            self._render(), console=self._console, refresh_per_second=10, transient=True
        )
        self._live.start()

    def on_event(self, event: Event) -> None:
        from capture.events import LevelChanged, NoteCatching, NoteSaved, SourceProblem

        if isinstance(event, LevelChanged):
            self._level = event.peak_db
        elif isinstance(event, SourceProblem):
            self._message = event.message
        elif isinstance(event, NoteCatching):
            self._message = "a note is playing…"
        elif isinstance(event, NoteSaved):
            self._message = f"saved {event.path.name} ({event.seconds:.1f} s)"

    def _render(self) -> Any:
        from rich.text import Text

        minutes, seconds = divmod(int(self._elapsed()), 60)
        hours, minutes = divmod(minutes, 60)
        from capture.levels import meter_fraction

        width = 30
        filled = round(meter_fraction(self._level) * width)
        colour = "red" if self._level > -1 else "green"
        text = Text()
        text.append(f"{self._badge} ", style="bold red")
        text.append(f"{hours:d}:{minutes:02d}:{seconds:02d}  ")
        text.append("█" * filled, style=colour)
        text.append("░" * (width - filled), style="dim")
        text.append(f" {self._level:6.1f} dBFS  {self._caption}")
        if self._message:
            text.append(f"\n{self._message}", style="yellow")
        text.append("\nCtrl+C to stop and save", style="dim")
        return text

    def refresh(self) -> None:
        self._live.update(self._render())

    def close(self) -> None:
        self._live.stop()


class BatchDisplay:
    """A rich progress bar on a terminal; one plain line per file when output is piped."""

    def __init__(self, total: int, *, verb: str = "converting") -> None:
        self._total = total
        self._progress: Any = None
        self._task: Any = None
        if sys.stdout.isatty() and total > 0:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn(f"{verb}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=True,
            )
            self._task = self._progress.add_task(verb, total=total)
            self._progress.start()

    def line(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, flush=True)

    def result(self, result: ConversionResult) -> None:
        self.line(describe(result))
        if self._progress is not None:
            self._progress.advance(self._task)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> BatchDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def describe(result: ConversionResult) -> str:
    from capture.batch.convert import Outcome

    job = result.job
    if result.outcome is Outcome.CONVERTED:
        return f"✓ {job.name} → {job.target.name} ({result.seconds:.1f} s)"
    if result.outcome is Outcome.SKIPPED:
        return f"- {job.name}: skipped, {result.reason}"
    if result.outcome is Outcome.CANCELLED:
        return f"✗ {job.name}: cancelled"
    return f"✗ {job.name}: {short_reason(result)}"


def short_reason(result: ConversionResult) -> str:
    """The reason without the file name the error message starts with (it is printed anyway)."""
    prefix = f"{result.job.name}: "
    return result.reason[len(prefix) :] if result.reason.startswith(prefix) else result.reason


def summary_lines(report: BatchReport, *, noun: str = "converted") -> list[str]:
    from capture.batch.convert import Outcome

    done = len(report.with_outcome(Outcome.CONVERTED))
    skipped = len(report.with_outcome(Outcome.SKIPPED))
    failed = report.with_outcome(Outcome.FAILED)
    cancelled = len(report.with_outcome(Outcome.CANCELLED))
    head = f"{done} {noun}, {skipped} skipped, {len(failed)} failed"
    if cancelled:
        head += f", {cancelled} not done"
    lines = [head]
    if failed:
        lines.append("failed:")
        lines.extend(f"  {r.job.name}: {short_reason(r)}" for r in failed)
    return lines


def fitted_rate_lines(report: BatchReport) -> list[str]:
    """What the summary says about sample rates loopcap chose to fit the sources."""
    from capture.batch.convert import Outcome

    fitted: dict[tuple[int, int], int] = {}
    for result in report.with_outcome(Outcome.CONVERTED):
        if result.fitted_rate is not None and result.source_rate is not None:
            key = (result.source_rate, result.fitted_rate)
            fitted[key] = fitted.get(key, 0) + 1
    return [
        f"{count} file{'s' if count != 1 else ''} recorded at {source / 1000:g} kHz "
        f"(like WhatsApp's notes) encoded at {rate / 1000:g} kHz, which keeps all they hold "
        "(--rate sets another)"
        for (source, rate), count in sorted(fitted.items())
    ]
