"""Pictures of what ``bpnet predict`` saw, for people: the 28x28 input drawn in a terminal,
the output probabilities as bars, and the preprocessing steps as one PNG strip.

Every function returns a string or a PIL image and prints nothing (the CLI prints), so a
notebook can use them as they are::

    from bpnet import images, show
    stages = images.load_stages("my-seven.jpg")
    print(show.terminal_digit(stages.mnist))           # half blocks, no colour
    show.steps_strip(stages)                           # a PIL image; Jupyter displays it

In a terminal each text cell holds two pixel rows: the upper half block ``▀`` takes the
top pixel, the lower ``▄`` the bottom one. Without colour a pixel is ink or not (``INK_AT``)
and a cell with only faint ink is ``░``; with colour every pixel keeps its gray level, the
top one as the foreground and the bottom one as the background colour of ``▀``.
"""

import re

import numpy as np
from PIL import Image, ImageDraw, ImageFont

UPPER, LOWER, FULL, FAINT = "▀", "▄", "█", "░"
INK_AT = 128  # gray level from which a pixel is drawn as ink without colour (MNIST strokes are mostly 255)
FAINT_AT = 32  # a cell whose brightest pixel reaches this, but not INK_AT, is drawn FAINT (antialiased edges)
EIGHTHS = " ▏▎▍▌▋▊▉"  # a bar's last cell, in eighths of a character
RESET = "\x1b[0m"
_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

STRIP_HEIGHT = 112  # each panel of a steps strip is scaled to this height (28 x 4)
_GAP, _MARGIN, _LABEL = 10, 8, 20  # pixels between panels, around them, and for the label under each
_FONT_SIZE = 13
_BACKGROUND = (214, 226, 238)  # a pale blue no gray panel contains, so the panels stand apart
_TEXT = (20, 30, 40)


# ----------------------------------------------------------------------------- terminal

def color_mode(flag, isatty, environ):
    """How to colour terminal drawings: False, ``"24bit"`` or ``"256"``.

    ``flag`` is --color (True), --no-color (False) or neither (None): then colour only when
    stdout is a terminal and NO_COLOR is unset or empty (https://no-color.org; a command-line
    flag overrides it). 24-bit gray where COLORTERM says the terminal has it, else the
    256-colour palette's 24-step gray ramp.
    """
    if flag is None:
        flag = isatty and not environ.get("NO_COLOR")
    if not flag:
        return False
    return "24bit" if environ.get("COLORTERM", "").lower() in ("truecolor", "24bit") else "256"


def terminal_digit(mnist, color=False):
    """A (28, 28) uint8 image (ink bright) drawn in 14 lines of half blocks, framed; a string.

    ``color``: False for plain characters (readable anywhere, see the module's docstring),
    True or ``"24bit"`` for 24-bit gray ANSI colours, ``"256"`` for the 256-colour gray ramp.
    Any even height works; the frame shows where the field ends.
    """
    pixels = np.asarray(mnist)
    if pixels.ndim != 2 or pixels.shape[0] % 2:
        raise ValueError(f"terminal_digit needs a 2-D image with an even number of rows, got shape {pixels.shape}")
    top, bottom = pixels[0::2], pixels[1::2]                                  # (rows / 2, columns) each
    if color:
        cells = _colour_cells(top, bottom, "24bit" if color is True else color)
        rows = ["".join(row) + RESET for row in cells]
    else:
        rows = ["".join(row) for row in _plain_cells(top, bottom)]
    width = pixels.shape[1]
    return "\n".join(["┌" + "─" * width + "┐", *(f"│{row}│" for row in rows), "└" + "─" * width + "┘"])


def _plain_cells(top, bottom):
    """Half blocks by threshold: an (rows, columns) array of one-character strings."""
    upper, lower = top >= INK_AT, bottom >= INK_AT
    faint = np.maximum(top, bottom) >= FAINT_AT
    return np.select([upper & lower, upper, lower, faint], [FULL, UPPER, LOWER, FAINT], " ")


def _gray256(levels):
    """The nearest gray of the 256-colour palette: 16 (black), 232-255 (8..238 in steps of 10) or 231 (white)."""
    grays = np.concatenate([[0], 8 + 10 * np.arange(24), [255]])
    codes = np.concatenate([[16], 232 + np.arange(24), [231]])
    return codes[np.abs(np.asarray(levels)[:, None] - grays).argmin(axis=1)]


# The escape that sets the foreground / background to each gray level 0..255, per colour mode.
_LEVELS = np.arange(256)
_ESCAPES = {
    "24bit": (np.array([f"\x1b[38;2;{v};{v};{v}m" for v in _LEVELS], dtype=object),
              np.array([f"\x1b[48;2;{v};{v};{v}m" for v in _LEVELS], dtype=object)),
    "256": (np.array([f"\x1b[38;5;{c}m" for c in _gray256(_LEVELS)], dtype=object),
            np.array([f"\x1b[48;5;{c}m" for c in _gray256(_LEVELS)], dtype=object)),
}


def _colour_cells(top, bottom, mode):
    """``▀`` with the top pixel's gray as its foreground and the bottom one's as its background.

    A colour is set only where it changes along the row: a quarter of the bytes for a digit.
    """
    if mode not in _ESCAPES:
        raise ValueError(f"color must be False, True, '24bit' or '256', got {mode!r}")
    cells = np.full(top.shape, UPPER, dtype=object)
    for gray, escapes in zip((top, bottom), _ESCAPES[mode]):
        codes = escapes[_levels(gray)]
        changed = np.ones(codes.shape, dtype=bool)
        changed[:, 1:] = codes[:, 1:] != codes[:, :-1]
        cells = np.where(changed, codes, "") + cells
    return cells


def _levels(gray):
    return np.clip(np.rint(gray), 0, 255).astype(np.intp)


def probability_bars(p, k=3, width=20):
    """The ``k`` most likely classes of the distribution ``p`` (10,) as text bars, one line each.

    ``7 ███████████████████▍  97.1%``: the bar is ``width`` characters at probability 1,
    drawn to an eighth of a character.
    """
    p = np.asarray(p, dtype=np.float64)
    lines = []
    for digit in np.argsort(-p, kind="stable")[:k]:
        full, eighths = divmod(int(round(p[digit] * width * 8)), 8)
        bar = FULL * full + (EIGHTHS[eighths] if eighths else "")
        lines.append(f"{digit} {bar:<{width}} {p[digit]:6.1%}")
    return "\n".join(lines)


def digit_and_bars(mnist, p, k=3, color=False):
    """:func:`terminal_digit` of ``mnist`` with :func:`probability_bars` of ``p`` beside it: what --show prints."""
    return beside(terminal_digit(mnist, color), probability_bars(p, k))


def visible_width(text):
    """The number of characters ``text`` shows, ANSI colour escapes left out."""
    return len(_ESCAPE.sub("", text))


def beside(left, right, gap=2, top=1):
    """Two blocks of text side by side: ``right``'s lines start ``top`` lines down ``left``'s."""
    left_lines, right_lines = left.split("\n"), [""] * top + right.split("\n")
    width = max(map(visible_width, left_lines))
    rows = []
    for n in range(max(len(left_lines), len(right_lines))):
        a = left_lines[n] if n < len(left_lines) else ""
        b = right_lines[n] if n < len(right_lines) else ""
        rows.append((a + " " * (width - visible_width(a) + gap) + b).rstrip() if b else a)
    return "\n".join(rows)


# ----------------------------------------------------------------------------- steps strip

def steps_strip(stages, height=STRIP_HEIGHT):
    """The preprocessing of one image as a row of labelled panels: an RGB PIL image.

    ``stages`` is a :class:`bpnet.images.Stages` (panels: original, flattened, ink mask,
    digit, 28x28 input) or a list of them from one page (:func:`bpnet.images.split_digits`:
    the page's first three panels once, then each digit's crop and 28x28 input, numbered).
    Every panel is scaled to ``height`` pixels: enlarged with nearest neighbours, so the
    pixels the network saw stay visible, and reduced with a box filter.
    """
    many = isinstance(stages, (list, tuple))
    pages = list(stages) if many else [stages]
    if not pages:
        raise ValueError("steps_strip needs at least one Stages")
    first = pages[0]
    panels = [(first.original, "original"), (first.flattened, "flattened"), (first.mask, "ink mask")]
    for n, page in enumerate(pages, 1):
        suffix = f" {n}" if many and len(pages) > 1 else ""
        panels += [(page.digit, "digit" + suffix), (page.mnist, "28x28" + (suffix or " input"))]
    return _strip([(_scaled(_gray_image(image), height), label) for image, label in panels], height)


def _gray_image(array):
    """A stage as an 8-bit gray PIL image: bool masks as 0/255, floats clipped to [0, 255]."""
    array = np.asarray(array)
    if array.dtype == bool:
        array = array * np.uint8(255)
    return Image.fromarray(np.rint(np.clip(array, 0, 255)).astype(np.uint8))


def _scaled(image, height):
    width = max(1, round(image.width * height / image.height))
    resample = Image.NEAREST if height >= image.height else Image.BOX
    return image.resize((width, height), resample)


def _strip(panels, height):
    try:
        font = ImageFont.load_default(size=_FONT_SIZE)           # Pillow >= 10.1 with FreeType
    except (TypeError, ImportError, OSError):
        font = ImageFont.load_default()                          # the small bitmap font
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_widths = [measure.textbbox((0, 0), label, font=font)[2] for _, label in panels]
    slots = [max(image.width, label) for (image, _), label in zip(panels, label_widths)]
    size = (2 * _MARGIN + sum(slots) + _GAP * (len(panels) - 1), 2 * _MARGIN + height + _LABEL)
    strip = Image.new("RGB", size, _BACKGROUND)
    draw = ImageDraw.Draw(strip)
    x = _MARGIN
    for (image, label), label_width, slot in zip(panels, label_widths, slots):
        strip.paste(image.convert("RGB"), (x + (slot - image.width) // 2, _MARGIN))
        draw.text((x + (slot - label_width) // 2, _MARGIN + height + 3), label, fill=_TEXT, font=font)
        x += slot + _GAP
    return strip
