"""The ``loopcap`` command.

Each command lives with the code it drives and registers itself here through a
``register_cli(subparsers)`` function that adds its parser and sets ``handler``. Modules named in
:data:`COMMAND_MODULES` must import only the standard library and light loopcap modules at their
top level: ``loopcap --help`` must not load numpy, soundcard or mss.
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
    "capture.cli.service",
    "capture.cli.tray",
    "capture.batch.convert",
    "capture.batch.whatsapp.chat",
)

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
        print(f"loopcap: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("loopcap: interrupted", file=sys.stderr)
        return 130
