"""What is here and where: ``devices``, ``doctor``, ``paths``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from capture.errors import ScreenSourceError
from capture.paths import sessions_dir, settings_path, state_dir
from capture.settings import load_settings

if TYPE_CHECKING:
    from capture.cli import Subparsers


def register_cli(subparsers: Subparsers) -> None:
    devices = subparsers.add_parser("devices", help="list loopback sources")
    devices.add_argument("--json", action="store_true", help="machine-readable output")
    devices.add_argument(
        "--apps", action="store_true", help="list the applications playing sound now instead"
    )
    devices.set_defaults(handler=run_devices)

    doctor = subparsers.add_parser(
        "doctor", help="check that everything loopcap needs is here, and say how to fix what is not"
    )
    doctor.set_defaults(handler=run_doctor)

    paths = subparsers.add_parser("paths", help="show where loopcap keeps settings and recordings")
    paths.set_defaults(handler=run_paths)


def run_apps(args: argparse.Namespace) -> int:
    import dataclasses

    from capture.audio import list_apps

    apps = list_apps()
    if args.json:
        print(json.dumps([dataclasses.asdict(app) for app in apps], indent=2))
        return 0
    if not apps:
        print("no application is playing sound now", file=sys.stderr)
        return 0
    for app in apps:
        streams = f"{app.streams} stream" + ("s" if app.streams != 1 else "")
        pid = f"pid {app.pid}" if app.pid is not None else "pid ?"
        print(f"{app.name}\t{app.executable or '-'}\t{pid}\t{streams}")
    print("(pass a name or executable, or part of one, to --app)")
    return 0


def run_devices(args: argparse.Namespace) -> int:
    from capture.audio import list_sources

    if args.apps:
        return run_apps(args)

    settings = load_settings()
    sources = list_sources()
    if args.json:
        listed: list[dict[str, Any]] = [
            {"id": s.id, "name": s.name, "default": s.is_default} for s in sources
        ]
        print(json.dumps(listed + _screen_devices(), indent=2))
        return 0
    if not sources:
        print("loopcap: no loopback sources found; run 'loopcap doctor'", file=sys.stderr)
        return 1
    for source in sources:
        marker = "*" if source.is_default else " "
        print(f"{marker} {source.id}\t{source.name}")
    if not settings.audio.source:
        print("(* = default: the loopback of the default speaker)")
    try:
        screens = _screen_devices(strict=True)
    except ScreenSourceError as exc:
        print(f"screen: not available: {exc}")
        return 0
    for item in screens:
        if item["kind"] == "monitor":
            primary = "*" if item["primary"] else " "
            print(
                f"{primary} monitor {item['id']}\t{item['width']}x{item['height']} at "
                f"{item['left']},{item['top']}  (--monitor {item['id']})"
            )
        else:
            print(
                f"  window {item['id']:#x}\t{item['title']}  "
                f"({item['width']}x{item['height']} at {item['left']},{item['top']})"
            )
    return 0


def _screen_devices(*, strict: bool = False) -> list[dict[str, Any]]:
    """Monitors and visible windows, as 'loopcap devices' lists them (none without a display)."""
    from capture.screen import list_monitors, list_windows

    try:
        monitors, windows = list_monitors(), list_windows()
    except ScreenSourceError:
        if strict:
            raise
        return []

    def box(region: Any) -> dict[str, int]:
        return {k: getattr(region, k) for k in ("left", "top", "width", "height")}

    items: list[dict[str, Any]] = [
        {"kind": "monitor", "id": m.index, "primary": m.primary, **box(m.region)} for m in monitors
    ]
    items += [{"kind": "window", "id": w.id, "title": w.title, **box(w.region)} for w in windows]
    return items


def run_paths(args: argparse.Namespace) -> int:
    from capture.settings import output_folder

    settings = load_settings()
    print(f"settings:   {settings_path()}")
    print(f"recordings: {output_folder(settings)}")
    print(f"sessions:   {sessions_dir()}")
    print(f"state:      {state_dir()}")
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from capture.doctor import run_checks

    checks = run_checks()
    for check in checks:
        mark = "✓" if check.ok else ("✗" if check.required else "!")
        print(f"{mark} {check.name}: {check.detail}")
        if not check.ok and check.fix:
            print(f"    fix: {check.fix}")
    broken = [c for c in checks if c.required and not c.ok]
    if broken:
        print(f"\nloopcap cannot save voice notes until {len(broken)} problem(s) above are fixed.")
        return 1
    print("\nloopcap is ready.")
    return 0
