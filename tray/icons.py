"""loopcap's tray icons, drawn with Pillow: the one definition of how each state looks.

``assets/make_icons.py`` writes them as PNG and ICO for the repository and the README; the tray
loads those files when it runs from a checkout and draws the same images itself when installed
without them (a wheel carries no ``assets/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SIZE = 64
SCALE = 4  # drawn at 4x and scaled down, so edges stay smooth at tray sizes (16 to 64 px)

# Ring colour and centre mark: grey hollow ring when idle, green with a dot when a note is armed
# or being caught, red with a filled square when recording. Distinct in shape too, for
# colour-blind users.
STATES: dict[str, tuple[tuple[int, int, int], str]] = {
    "idle": ((128, 134, 140), "none"),
    "listening": ((46, 170, 90), "dot"),
    "recording": ((220, 40, 40), "square"),
}


def draw(state: str, size: int = SIZE) -> Image:
    from PIL import Image as PILImage
    from PIL import ImageDraw

    colour, mark = STATES[state]
    big = size * SCALE
    image = PILImage.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pad = big // 16
    width = big // 8
    pen.ellipse((pad, pad, big - pad, big - pad), outline=(*colour, 255), width=width)
    centre = big // 2
    if mark == "dot":
        r = big // 6
        pen.ellipse((centre - r, centre - r, centre + r, centre + r), fill=(*colour, 255))
    elif mark == "square":
        r = big // 5
        pen.rectangle((centre - r, centre - r, centre + r, centre + r), fill=(*colour, 255))
    return image.resize((size, size), PILImage.Resampling.LANCZOS)


def load_images(folder: Path = ASSETS) -> dict[str, Image]:
    """Every state's image: from ``folder`` when the PNGs are there, else drawn now."""
    from PIL import Image as PILImage

    images: dict[str, Image] = {}
    for state in STATES:
        path = folder / f"tray-{state}.png"
        if path.exists():
            with PILImage.open(path) as image:
                images[state] = image.convert("RGBA")
        else:
            images[state] = draw(state)
    return images
