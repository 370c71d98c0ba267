"""Write loopcap's tray icons (idle, listening/armed, recording) as PNG and ICO beside this file.

Run: python assets/make_icons.py. The outputs are committed; how each state looks is defined once,
in tray/icons.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tray.icons import STATES, draw  # noqa: E402


def main() -> None:
    for state in STATES:
        image = draw(state)
        image.save(HERE / f"tray-{state}.png")
        image.save(HERE / f"tray-{state}.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64)])
        print(HERE / f"tray-{state}.png")


if __name__ == "__main__":
    main()
