"""The recording commands: record, recover, devices, doctor, paths."""

from __future__ import annotations

import argparse


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    del subparsers  # filled in by the foundation work
