"""The ``loopcap`` command: every subcommand, its arguments, what it shows and its exit code.

One module per command family registers its commands through ``register_cli(subparsers)``, which
adds the parsers and sets ``handler``. The library below (the rest of ``capture``) takes typed
parameters, returns values and raises :class:`~capture.errors.LoopcapError`; this package turns
those into lines on stdout/stderr and exit codes, adding the flag that would fix an error.

Modules named in :data:`COMMAND_MODULES` import only the standard library and light loopcap
modules at their top level: ``loopcap --help`` must not load numpy, soundcard, mss or rich.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import typing
from collections.abc import Callable, Sequence

from capture import __version__
from capture.errors import LoopcapError

#: Modules that add commands, in the order they appear in ``loopcap --help``.
COMMAND_MODULES = (
    "capture.cli.record",
    "capture.cli.note",
    "capture.cli.system",
    "capture.cli.service",
    "capture.cli.tray",
    "capture.cli.batch",
)

#: What to add to an error whose fix is a flag (:attr:`LoopcapError.option`).
FLAG_HINTS = {
    "overwrite": "--overwrite replaces it",
    "format": "see --format",
    "bitrate": "--bitrate",
    "to": "--to",
    "strict": "without --strict they are imported, dated from their file names",
    "window": "--window TITLE",
    "audio_only": "--audio-only records the sound only",
}


def error_line(exc: LoopcapError) -> str:
    """The one line ``loopcap`` prints for an error, with the flag that would fix it."""
    hint = FLAG_HINTS.get(exc.option or "")
    return f"loopcap: {exc} ({hint})" if hint else f"loopcap: {exc}"


Handler = Callable[[argparse.Namespace], int]

if typing.TYPE_CHECKING:
    #: What ``register_cli`` receives: the ``loopcap`` parser's sub-command table.
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line that says where to look, not a usage dump."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"loopcap: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="loopcap",
        description=(
            "Keep what your computer is playing: record loopback audio (and the screen), catch "
            "WhatsApp voice notes, convert captures and voice notes to MP3."
        ),
    )
    parser.add_argument("--version", action="version", version=f"loopcap {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what loopcap does to stderr"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register_cli(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # File names on Linux are bytes; one that is not UTF-8 prints as its own bytes, not a crash.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="loopcap: %(message)s",
    )
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except LoopcapError as exc:
        print(error_line(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("loopcap: interrupted", file=sys.stderr)
        return 130
