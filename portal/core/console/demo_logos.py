"""Logos for the demo houses: a monogram in the house's colour inside a fine ring, drawn as a
PNG when the demo is loaded and stored as a brand admin's upload is (the same bytes and media
type the upload check accepts), so every page and mail shows it the way it would show a real one.

A monogram rather than a wordmark: every place that shows a logo also writes the house's name
beside it. PNG rather than SVG: mail programs do not show SVG, and uploads refuse it.
The typeface is the one Pillow ships, so the logos are the same on every machine.
"""

import io
from functools import cache

SIZE = 160  # pixels of the stored square; pages show it at 40 to 48 px, sharp on dense screens
SCALE = 4  # drawn larger, then reduced, for smooth curves


def initials(name: str) -> str:
    """The letters of a monogram: the first of each word of the name, at most three
    ("Hartwell & Ives" gives "HI", "Maison Aurèle" "MA", a one-word house its first letter)."""
    return "".join(word[0].upper() for word in name.split() if word[0].isalpha())[:3]


@cache  # the same house, the same bytes: loaded once per process, as tests load it often
def monogram(name: str, colour: str) -> bytes:
    """PNG bytes of the house's monogram: its initials and a fine ring in its colour on white."""
    from PIL import Image, ImageDraw, ImageFont

    side = SIZE * SCALE
    image = Image.new("RGB", (side, side), "#ffffff")
    draw = ImageDraw.Draw(image)
    ring = side // 14
    draw.ellipse((ring, ring, side - ring, side - ring), outline=colour, width=side // 80)
    draw.ellipse(
        (ring * 2, ring * 2, side - ring * 2, side - ring * 2), outline=colour, width=side // 240
    )
    letters = initials(name)
    size = {1: 0.46, 2: 0.34, 3: 0.26}[len(letters)] * side
    font = ImageFont.load_default(size=size)
    draw.text((side / 2, side / 2), letters, font=font, fill=colour, anchor="mm")
    image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
