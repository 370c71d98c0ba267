"""Test scenes on a display: a window painted with a known pattern, moved or flashed on demand.

Run as ``python -m tests.scene TITLE WxH+X+Y``; it prints ``ready`` once mapped, then takes
commands on stdin, one a line: ``move X Y``, ``flash`` (all white for 150 ms), ``quit``.
The pattern is four quadrants: red (top left), green (top right), blue (bottom left), yellow
(bottom right).
"""

from __future__ import annotations

import sys
import threading
import tkinter as tk

QUADRANTS = {"tl": (255, 0, 0), "tr": (0, 255, 0), "bl": (0, 0, 255), "br": (255, 255, 0)}


def main() -> None:
    title, geometry = sys.argv[1], sys.argv[2]
    size, x, y = geometry.split("+")
    width, height = (int(v) for v in size.split("x"))
    root = tk.Tk()
    root.title(title)
    root.geometry(f"{width}x{height}+{x}+{y}")
    canvas = tk.Canvas(root, width=width, height=height, highlightthickness=0, borderwidth=0)
    canvas.pack(fill="both", expand=True)
    half_w, half_h = width // 2, height // 2
    boxes = {
        "tl": (0, 0, half_w, half_h),
        "tr": (half_w, 0, width, half_h),
        "bl": (0, half_h, half_w, height),
        "br": (half_w, half_h, width, height),
    }
    for name, (x0, y0, x1, y1) in boxes.items():
        colour = "#{:02x}{:02x}{:02x}".format(*QUADRANTS[name])
        canvas.create_rectangle(x0, y0, x1, y1, fill=colour, outline="", width=0)
    white = canvas.create_rectangle(0, 0, width, height, fill="white", outline="", width=0)
    canvas.itemconfigure(white, state="hidden")

    def flash() -> None:
        canvas.itemconfigure(white, state="normal")
        root.after(150, canvas.itemconfigure, white, {"state": "hidden"})

    def commands() -> None:
        for line in sys.stdin:
            words = line.split()
            if words and words[0] == "move":
                place = f"+{words[1]}+{words[2]}"
                root.after(0, root.geometry, place)
            elif words and words[0] == "flash":
                root.after(0, flash)
            elif words and words[0] == "quit":
                break
        root.after(0, root.destroy)

    def ready() -> None:
        print("ready", flush=True)
        threading.Thread(target=commands, daemon=True).start()

    root.after(300, ready)
    root.mainloop()


if __name__ == "__main__":
    main()
