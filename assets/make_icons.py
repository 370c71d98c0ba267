"""Draw loopcap's tray icons (idle, listening/armed, recording) as PNG and ICO.

Run: python assets/make_icons.py. The outputs are committed; run it again after changing a colour.
Drawn at 4x and scaled down, so the edges are smooth at tray sizes (16 to 64 px).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SIZE = 64
SCALE = 4

# Ring colour, centre mark: grey and a hollow ring when idle, green with a dot when armed/catching,
# red with a filled square when recording. Distinct in shape too, for colour-blind users.
STATES = {
    "idle": ((128, 134, 140), "none"),
    "listening": ((46, 170, 90), "dot"),
    "recording": ((220, 40, 40), "square"),
}


def draw(colour: tuple[int, int, int], mark: str) -> Image.Image:
    big = SIZE * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
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
    return image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main() -> None:
    for name, (colour, mark) in STATES.items():
        image = draw(colour, mark)
        image.save(HERE / f"tray-{name}.png")
        image.save(HERE / f"tray-{name}.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64)])
        print(HERE / f"tray-{name}.png")


if __name__ == "__main__":
    main()
