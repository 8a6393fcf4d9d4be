"""bpnet.show: the 28x28 input drawn in text, probability bars, and the steps strip."""

import re

import numpy as np
import pytest

from bpnet import show
from bpnet.images import Stages

ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def field(*ink):
    """A (28, 28) uint8 field, 0 but for (row, column, level) triples."""
    pixels = np.zeros((28, 28), np.uint8)
    for row, column, level in ink:
        pixels[row, column] = level
    return pixels


# ----------------------------------------------------------------------------- terminal_digit

def test_plain_drawing_is_a_framed_field_of_half_blocks():
    text = show.terminal_digit(field((0, 0, 255), (3, 1, 255), (4, 2, 255), (5, 2, 255), (7, 3, 60)))
    lines = text.split("\n")
    assert len(lines) == 16 and {len(line) for line in lines} == {30}          # 14 text rows of 28, framed
    assert lines[0] == "┌" + "─" * 28 + "┐" and lines[-1] == "└" + "─" * 28 + "┘"
    rows = [line[1:-1] for line in lines[1:-1]]
    assert rows[0][0] == "▀"          # pixel row 0: the upper half of text row 0
    assert rows[1][1] == "▄"          # pixel row 3: the lower half of text row 1
    assert rows[2][2] == "█"          # pixel rows 4 and 5
    assert rows[3][3] == "░"          # faint ink, below INK_AT
    assert sum(c != " " for row in rows for c in row) == 4
    assert "\x1b" not in text


def test_plain_drawing_thresholds():
    assert show.terminal_digit(field((0, 0, show.INK_AT)))[32] == "▀"
    assert show.terminal_digit(field((0, 0, show.INK_AT - 1)))[32] == "░"
    assert show.terminal_digit(field((0, 0, show.FAINT_AT - 1)))[32] == " "


@pytest.mark.parametrize("color, code", [(True, "38;2;"), ("24bit", "38;2;"), ("256", "38;5;")])
def test_colour_drawing_keeps_every_gray_level(color, code):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(28, 28), dtype=np.uint8)
    text = show.terminal_digit(pixels, color=color)
    assert code in text
    lines = text.split("\n")
    assert [show.visible_width(line) for line in lines] == [30] * 16
    if color != "256":
        # Replay the escapes: each ▀ has the top pixel as foreground and the bottom one as background.
        for r, line in enumerate(lines[1:-1]):
            fg = bg = None
            cells = []
            for escape, char in re.findall(r"((?:\x1b\[[0-9;]*m)*)(▀)", line):
                for kind, level in re.findall(r"\x1b\[(38|48);2;(\d+);\d+;\d+m", escape):
                    fg, bg = (int(level), bg) if kind == "38" else (fg, int(level))
                cells.append((fg, bg))
            assert cells == list(zip(pixels[2 * r].tolist(), pixels[2 * r + 1].tolist()))
        assert all(line.endswith(show.RESET + "│") for line in lines[1:-1])


def test_256_colour_grays_are_the_nearest_of_the_palette():
    assert show._gray256(np.array([0, 3, 8, 13, 238, 250, 255])).tolist() == [16, 16, 232, 232, 255, 231, 231]


def test_terminal_digit_refuses_an_odd_height():
    with pytest.raises(ValueError, match="even number of rows"):
        show.terminal_digit(np.zeros((27, 28), np.uint8))
    with pytest.raises(ValueError, match="color must be"):
        show.terminal_digit(np.zeros((28, 28), np.uint8), color="16")


# ----------------------------------------------------------------------------- colour choice

@pytest.mark.parametrize("flag, isatty, environ, expected", [
    (None, True, {}, "256"),
    (None, True, {"COLORTERM": "truecolor"}, "24bit"),
    (None, False, {"COLORTERM": "truecolor"}, False),        # a pipe or a file
    (None, True, {"NO_COLOR": "1"}, False),
    (None, True, {"NO_COLOR": ""}, "256"),                    # no-color.org: an empty NO_COLOR is unset
    (True, False, {"NO_COLOR": "1"}, "256"),                  # a flag on the command line overrides it
    (False, True, {}, False),
])
def test_color_mode(flag, isatty, environ, expected):
    assert show.color_mode(flag, isatty, environ) == expected


# ----------------------------------------------------------------------------- bars

def test_probability_bars_are_the_top_k_with_lengths_in_eighths():
    p = np.array([0.0, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.05, 0.0])
    lines = show.probability_bars(p, k=3, width=20).split("\n")
    assert lines == ["7 " + "█" * 18 + "   " + " 90.0%",
                     "1 " + "█" + " " * 20 + "  5.0%",
                     "8 " + "█" + " " * 20 + "  5.0%"]
    half = show.probability_bars(np.r_[0.53125, 0.46875, [0] * 8], k=1, width=4)
    assert half == "0 ██▏   53.1%"                    # 0.53125 * 4 = 2 1/8 characters


def test_beside_aligns_coloured_text():
    left = show.terminal_digit(field((0, 0, 255)), color=True)
    joined = show.beside(left, "a\nb", gap=2, top=1).split("\n")
    assert ESCAPE.sub("", joined[1]).endswith("│  a") and ESCAPE.sub("", joined[2]).endswith("│  b")
    assert joined[0] == left.split("\n")[0] and len(joined) == 16


# ----------------------------------------------------------------------------- steps strip

def stages(height=60, width=40, digit=(30, 20)):
    rng = np.random.default_rng(1)
    original = rng.uniform(0, 255, (height, width)).astype(np.float32)
    return Stages(original=original, flattened=255 - original, mask=original > 128,
                  digit=rng.uniform(0, 255, digit).astype(np.float32), mnist=field((14, 14, 255)))


def panel_runs(strip, height=show.STRIP_HEIGHT):
    """The (start, stop) columns of the panels: runs of columns not all background in the panel band."""
    band = np.asarray(strip)[8: 8 + height]
    busy = (band != show._BACKGROUND).any(axis=2).any(axis=0)
    edges = np.flatnonzero(np.diff(np.r_[0, busy.astype(int), 0]))
    return list(zip(edges[::2], edges[1::2]))


def test_steps_strip_has_five_panels_of_a_common_height():
    strip = show.steps_strip(stages())
    assert strip.mode == "RGB" and strip.height == 8 + show.STRIP_HEIGHT + 20 + 8
    widths = [stop - start for start, stop in panel_runs(strip)]
    # original and its derived stages are 40x60 -> 75 wide; the digit 20x30 -> 75; the 28x28 input -> 112
    assert widths == [75, 75, 75, 75, 112]


def test_steps_strip_panels_show_the_pixels():
    s = stages()
    strip = np.asarray(show.steps_strip(s, height=120))        # 60 rows -> 2x, 28 -> not a whole factor
    (start, stop), *_ = panel_runs(show.steps_strip(s, height=120), height=120)
    panel = strip[8: 8 + 120, start:stop, 0]
    assert np.array_equal(panel[::2, ::2], np.rint(s.original).astype(np.uint8))    # nearest-neighbour 2x


def test_steps_strip_of_several_digits():
    page = [stages(), stages(digit=(30, 10)), stages(digit=(30, 25))]
    assert len(panel_runs(show.steps_strip(page))) == 3 + 2 * 3
    assert len(panel_runs(show.steps_strip(page[:1]))) == 5


def test_steps_strip_of_a_large_photo_is_reduced():
    strip = show.steps_strip(stages(height=1000, width=800))
    assert strip.height == 8 + show.STRIP_HEIGHT + 20 + 8
    assert [stop - start for start, stop in panel_runs(strip)][:3] == [90, 90, 90]    # 800 * 112 / 1000 = 89.6
