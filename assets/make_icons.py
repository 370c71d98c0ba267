"""Write loopcap's tray icons (idle, listening/armed, recording) as PNG and ICO beside this file,
and its application icon (the listening ring) at the icon theme's sizes into capture/desktop/icons/,
which the package installs with ``loopcap desktop install``.

Run: python assets/make_icons.py. The outputs are committed; how each state looks is defined once,
in tray/icons.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from capture.desktop import ICON_SIZES  # noqa: E402
from tray.icons import STATES, draw  # noqa: E402

APP_ICONS = HERE.parent / "capture" / "desktop" / "icons"
APP_ICON_STATE = "listening"


def main() -> None:
    for state in STATES:
        image = draw(state)
        image.save(HERE / f"tray-{state}.png")
        image.save(HERE / f"tray-{state}.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64)])
        print(HERE / f"tray-{state}.png")
    APP_ICONS.mkdir(exist_ok=True)
    for size in ICON_SIZES:
        draw(APP_ICON_STATE, size).save(APP_ICONS / f"loopcap-{size}.png", optimize=True)
    print(APP_ICONS)


if __name__ == "__main__":
    main()
