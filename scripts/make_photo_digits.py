"""Render MNIST test digits as the images people give `bpnet predict`: scans, photos, notebook pages.

Each kind of image goes into its own subfolder, the true label in every file name
(``photo/00012_label7.jpg``), so scripts/predict_accuracy.py can score a checkpoint per kind.
Only the MNIST *test* split is used (never a digit the network trained on); ``uci`` renders
scikit-learn's UCI optical digits (``load_digits``: 8x8, 43 other writers), which needs the
``eval-images`` extra (scikit-learn; never a runtime dependency of bpnet).

Everything is drawn from one seeded generator, so a (--seed, --spread, --n) triple always gives
the same files. ``--spread`` widens every random range around its middle (1 = the default ranges,
1.5 = half as wide again): render a second set with another seed and a wider spread as a held-out
check of parameters the pipeline was never tuned on.

    python scripts/make_photo_digits.py --out /tmp/photo-digits --n 200
    python scripts/make_photo_digits.py --out /tmp/photo-heldout --n 200 --seed 1 --spread 1.5
    python scripts/make_photo_digits.py --out /tmp/few --n 5 --kinds photo,notebook
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from bpnet import data

KINDS = ("clean", "inverted", "scan", "rgba", "jpeg", "marker", "hairline", "shadow", "photo",
         "notebook", "squared", "small", "uci")
BICUBIC = getattr(Image, "Resampling", Image).BICUBIC
NEAREST = getattr(Image, "Resampling", Image).NEAREST


class Draw:
    """Random parameters: ``u(lo, hi)`` is uniform on [lo, hi] widened by ``spread`` around its middle."""

    def __init__(self, rng, spread):
        self.rng = rng
        self.spread = spread

    def u(self, lo, hi, low=-np.inf, high=np.inf):
        mid, half = (lo + hi) / 2, (hi - lo) / 2 * self.spread
        return float(np.clip(self.rng.uniform(mid - half, mid + half), low, high))

    def i(self, lo, hi, low=-np.inf, high=np.inf):
        return int(round(self.u(lo, hi, low, high)))

    def choice(self, options):
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p):
        return bool(self.rng.random() < p)


# ----------------------------------------------------------------------------- pen strokes

def pen_ink(digit, height, width_scale, draw, pen=None):
    """An MNIST digit (28, 28) uint8 as pen ink: float coverage in [0, 1], about ``height`` px tall.

    The digit is cropped to its ink, upscaled smoothly (bicubic), cut at a soft threshold so
    the edges look like a pen's rather than a blur of pixel blocks, made thicker or thinner
    by ``width_scale`` (grey dilation/erosion, relative to the digit's own stroke) and softened.
    With ``pen`` (a width in pixels) the strokes are redrawn along their middle at that width
    instead, as a fine pen draws them.
    """
    rows, cols = np.flatnonzero(digit.max(1) > 40), np.flatnonzero(digit.max(0) > 40)
    crop = digit[rows[0] - 1 if rows[0] else 0: rows[-1] + 2, cols[0] - 1 if cols[0] else 0: cols[-1] + 2]
    scale = height / crop.shape[0]
    size = (max(2, round(crop.shape[1] * scale)), max(2, round(crop.shape[0] * scale)))
    pad = max(2, round(height * 0.15))
    big = np.asarray(Image.fromarray(crop).resize(size, BICUBIC), dtype=np.float32) / 255
    big = np.pad(big, pad)
    ink = np.clip((big - draw.u(0.35, 0.55, 0.15, 0.8)) / 0.12 + 0.5, 0, 1)
    if pen is not None:
        return thin_pen(ink > 0.5, pen)
    radius = (width_scale - 1) * 0.06 * height  # MNIST strokes are about an eighth of the height
    if abs(radius) >= 0.5:
        r = int(round(abs(radius)))
        disk = np.hypot(*np.mgrid[-r:r + 1, -r:r + 1]) <= r + 0.3
        ink = (ndimage.grey_dilation if radius > 0 else ndimage.grey_erosion)(ink, footprint=disk)
    return ndimage.gaussian_filter(ink, draw.u(0.3, 0.9, 0.0) * max(1.0, height / 150))


def thin_pen(strokes, width):
    """The middle lines of the (H, W) bool ``strokes`` drawn ``width`` px wide, antialiased: float in [0, 1].

    The strokes are rounded first (blurred by their half width and cut at 1/2), so their ends
    are round and the middle line does not fork into their corners; the middle is where the
    distance to the paper is (nearly) the largest in its 3x3 neighbourhood.
    """
    inside = ndimage.distance_transform_edt(strokes)
    half = float(np.percentile(inside[inside > 0], 90))
    strokes = ndimage.gaussian_filter(strokes.astype(np.float32), half / 2) > 0.5
    inside = ndimage.distance_transform_edt(strokes)
    middle = strokes & (inside >= ndimage.maximum_filter(inside, size=3) - 0.5) & (inside >= 0.3 * half)
    return np.clip(width / 2 + 0.5 - ndimage.distance_transform_edt(~middle), 0, 1).astype(np.float32)


def place(page_shape, ink_shape, draw, centre_frac=0.25):
    """Top-left corner of the ink on the page: near the middle, off by up to ``centre_frac`` of the free room."""
    free_y, free_x = page_shape[0] - ink_shape[0], page_shape[1] - ink_shape[1]
    y = free_y / 2 + draw.u(-centre_frac, centre_frac, -0.5, 0.5) * free_y
    x = free_x / 2 + draw.u(-centre_frac, centre_frac, -0.5, 0.5) * free_x
    return int(np.clip(y, 0, max(free_y, 0))), int(np.clip(x, 0, max(free_x, 0)))


def paste_alpha(alpha_page, ink, corner):
    """Add ``ink`` coverage into the (H, W) page at ``corner`` (clipped to the page)."""
    y, x = corner
    h = min(ink.shape[0], alpha_page.shape[0] - y)
    w = min(ink.shape[1], alpha_page.shape[1] - x)
    alpha_page[y:y + h, x:x + w] = np.maximum(alpha_page[y:y + h, x:x + w], ink[:h, :w])


def rotate(ink, degrees):
    return ndimage.rotate(ink, degrees, reshape=True, order=1, mode="constant", cval=0.0)


# ----------------------------------------------------------------------------- pages and light

def compose(paper_rgb, ink_rgb, alpha, opacity=1.0):
    """(H, W, 3) float page: ``paper_rgb`` with ``ink_rgb`` laid on by coverage ``alpha``."""
    a = (alpha * opacity)[..., None]
    return np.asarray(paper_rgb, np.float32) * (1 - a) + np.asarray(ink_rgb, np.float32) * a


def lay(page, colour, alpha):
    """Lay more ink (or ruled lines) of ``colour`` onto an (H, W, 3) page."""
    a = alpha[..., None]
    return page * (1 - a) + np.asarray(colour, np.float32) * a


def gradient_light(shape, draw, strength):
    """Light falling off linearly in a random direction: 1 at the brightest, ``1 - strength`` at the darkest."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = draw.u(0, 2 * np.pi)
    t = (np.cos(angle) * x / w + np.sin(angle) * y / h)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return 1 - strength * t


def vignette(shape, draw, strength):
    """Darker corners (a phone lens): 1 in the middle, about ``1 - strength`` in the corners."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = h * draw.u(0.35, 0.65), w * draw.u(0.35, 0.65)
    r2 = ((y - cy) / h) ** 2 + ((x - cx) / w) ** 2
    return 1 - strength * np.clip(r2 / 0.5, 0, 1)


def hard_shadow(shape, draw, through, depth):
    """A shadow (of a hand or phone) whose straight edge crosses the point ``through``: the shadowed
    side is multiplied by ``1 - depth``, the edge slightly soft."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = draw.u(0, 2 * np.pi)
    side = np.cos(angle) * (x - through[1]) + np.sin(angle) * (y - through[0])
    edge = draw.u(0.5, 4, 0.3) * max(h, w) / 500
    return 1 - depth * np.clip(side / edge + 0.5, 0, 1)


def finish(page, draw, blur=0.0, noise=0.0):
    """Camera blur and sensor noise on an (H, W, 3) float page in [0, 1]; uint8 RGB out."""
    if blur > 0:
        page = ndimage.gaussian_filter(page, (blur, blur, 0))
    if noise > 0:
        page = page + draw.rng.normal(0, noise, page.shape).astype(np.float32)
    return Image.fromarray(np.clip(page * 255 + 0.5, 0, 255).astype(np.uint8))


def jpeg(image, quality):
    """What a render returns for an image to be saved as JPEG at ``quality``."""
    return image, ("jpg", int(quality))


def pen_colour(draw, kinds=("black", "blue", "dark")):
    options = {"black": (0.05, 0.05, 0.07), "blue": (0.1, 0.15, 0.55), "dark": (0.2, 0.2, 0.22),
               "red": (0.7, 0.1, 0.1), "green": (0.1, 0.4, 0.15), "pencil": (0.35, 0.35, 0.38)}
    base = np.array(options[draw.choice(kinds)], np.float32)
    return np.clip(base + draw.rng.normal(0, 0.03, 3), 0, 1)


def paper_colour(draw, cast=0.04):
    """Off-white paper with a slight colour cast (warm or cool light)."""
    level = draw.u(0.82, 0.98, 0.5, 1.0)
    return np.clip(level + draw.rng.normal(0, cast * draw.spread, 3), 0, 1).astype(np.float32)


# ----------------------------------------------------------------------------- the kinds

def clean(digit, draw):
    return Image.fromarray(digit), ("png", None)


def inverted(digit, draw):
    side = draw.i(28, 300, 28)
    big = Image.fromarray(255 - digit).resize((side, side), draw.choice([BICUBIC, NEAREST]))
    canvas = Image.new("L", (side + draw.i(0, 200, 0), side + draw.i(0, 200, 0)), 255)
    canvas.paste(big, place((canvas.height, canvas.width), (side, side), draw, 0.5)[::-1])
    return canvas, ("png", None)


def scan(digit, draw):
    height = draw.i(120, 400, 40)
    ink = rotate(pen_ink(digit, height, draw.u(0.8, 1.4, 0.4), draw), draw.u(-3, 3))
    page_shape = (int(ink.shape[0] * draw.u(1.3, 2.5, 1.05)), int(ink.shape[1] * draw.u(1.3, 2.5, 1.05)))
    alpha = np.zeros(page_shape, np.float32)
    paste_alpha(alpha, ink, place(page_shape, ink.shape, draw))
    page = compose(paper_colour(draw, 0.02), pen_colour(draw, ("black", "dark", "pencil")), alpha,
                   draw.u(0.75, 1.0, 0.4, 1.0))
    page = page * gradient_light(page_shape, draw, draw.u(0, 0.12, 0, 0.5))[..., None]
    image = finish(page, draw, blur=draw.u(0, 0.8, 0), noise=draw.u(0, 0.02, 0)).convert("L")
    return (image, ("png", None)) if draw.chance(0.5) else jpeg(image, draw.i(70, 95, 10, 95))


def rgba(digit, draw):
    height = draw.i(80, 300, 30)
    ink = pen_ink(digit, height, draw.u(0.8, 1.6, 0.5), draw)
    canvas = np.zeros((int(ink.shape[0] * draw.u(1.0, 1.8, 1.0)), int(ink.shape[1] * draw.u(1.0, 1.8, 1.0))),
                      np.float32)
    paste_alpha(canvas, ink, place(canvas.shape, ink.shape, draw))
    colour = draw.choice([(0, 0, 0), (255, 255, 255), (30, 60, 200), (200, 30, 30), (20, 140, 60)])
    rgba_array = np.zeros(canvas.shape + (4,), np.uint8)
    rgba_array[..., :3] = colour
    rgba_array[..., 3] = np.clip(canvas * 255 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(rgba_array, "RGBA"), ("png", None)


def jpeg_kind(digit, draw):
    side = draw.i(56, 280, 28)
    big = Image.fromarray(255 - digit).resize((side, side), BICUBIC).convert("RGB")
    return jpeg(big, draw.i(15, 60, 5, 95))


def marker(digit, draw):
    ink = pen_ink(digit, draw.i(170, 240, 100, 260), draw.u(1.3, 2.0, 1.1), draw)
    canvas = np.zeros((280, 280), np.float32)
    if max(ink.shape) > 280:
        ink = ink[:280, :280]
    paste_alpha(canvas, ink, place(canvas.shape, ink.shape, draw))
    image = Image.fromarray(np.clip(255 - canvas * 255 + 0.5, 0, 255).astype(np.uint8))
    return image, ("png", None)


def hairline(digit, draw):
    height = draw.i(150, 400, 60)
    ink = pen_ink(digit, height, 1.0, draw, pen=draw.u(1.2, 3.5, 0.8))
    page_shape = (int(ink.shape[0] * draw.u(1.2, 2.0, 1.0)), int(ink.shape[1] * draw.u(1.2, 2.0, 1.0)))
    alpha = np.zeros(page_shape, np.float32)
    paste_alpha(alpha, ink, place(page_shape, ink.shape, draw))
    page = compose(paper_colour(draw, 0.01), pen_colour(draw), alpha, draw.u(0.8, 1.0, 0.5, 1.0))
    image = finish(page, draw, noise=draw.u(0, 0.01, 0))
    return (image, ("png", None)) if draw.chance(0.5) else jpeg(image, draw.i(75, 95, 40, 95))


def shadow(digit, draw):
    height = draw.i(150, 350, 60)
    ink = pen_ink(digit, height, draw.u(0.8, 1.5, 0.5), draw)
    page_shape = (int(ink.shape[0] * draw.u(1.4, 2.5, 1.1)), int(ink.shape[1] * draw.u(1.4, 2.5, 1.1)))
    alpha = np.zeros(page_shape, np.float32)
    corner = place(page_shape, ink.shape, draw)
    paste_alpha(alpha, ink, corner)
    page = compose(paper_colour(draw), pen_colour(draw), alpha, draw.u(0.8, 1.0, 0.5, 1.0))
    # The shadow's edge crosses the digit somewhere within its middle half.
    through = (corner[0] + ink.shape[0] * draw.u(0.25, 0.75, 0, 1), corner[1] + ink.shape[1] * draw.u(0.25, 0.75, 0, 1))
    light = hard_shadow(page_shape, draw, through, draw.u(0.3, 0.65, 0.1, 0.85))
    page = page * light[..., None]
    image = finish(page, draw, blur=draw.u(0, 1.0, 0), noise=draw.u(0, 0.02, 0))
    return (image, ("png", None)) if draw.chance(0.3) else jpeg(image, draw.i(60, 92, 20, 95))


def photo(digit, draw):
    height = draw.i(120, 380, 40)
    ink = rotate(pen_ink(digit, height, draw.u(0.7, 1.6, 0.4), draw), draw.u(-8, 8))
    page_shape = (int(ink.shape[0] * draw.u(1.4, 3.0, 1.1)), int(ink.shape[1] * draw.u(1.4, 3.0, 1.1)))
    alpha = np.zeros(page_shape, np.float32)
    paste_alpha(alpha, ink, place(page_shape, ink.shape, draw))
    page = compose(paper_colour(draw, 0.06), pen_colour(draw, ("black", "blue", "dark", "pencil")), alpha,
                   draw.u(0.7, 1.0, 0.4, 1.0))
    light = gradient_light(page_shape, draw, draw.u(0.15, 0.5, 0, 0.8)) * vignette(page_shape, draw,
                                                                                   draw.u(0.1, 0.4, 0, 0.7))
    page = page * light[..., None] * draw.u(0.75, 1.05, 0.4, 1.1)
    image = finish(page, draw, blur=draw.u(0.5, 2.0, 0) * height / 200, noise=draw.u(0.01, 0.04, 0))
    return jpeg(image, draw.i(50, 90, 15, 95))


def ruled_lines(page_shape, draw, spacing, thickness, vertical=False):
    """Coverage (H, W) of evenly spaced straight lines, slightly tilted, with a random phase."""
    h, w = page_shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    tilt = np.tan(np.radians(draw.u(-1.5, 1.5)))
    coordinate = (x + tilt * y) if vertical else (y + tilt * x)
    phase = (coordinate - draw.u(0, spacing)) % spacing
    distance = np.minimum(phase, spacing - phase)  # to the nearest line's centre
    return np.clip(thickness / 2 + 0.5 - distance, 0, 1)  # antialiased: 1 inside, a one-pixel ramp at the edges


def notebook(digit, draw):
    height = draw.i(70, 200, 30)
    spacing = height / draw.u(1.3, 2.8, 0.9)
    ink = rotate(pen_ink(digit, height, draw.u(0.5, 1.1, 0.3), draw), draw.u(-4, 4))
    page_shape = (int(ink.shape[0] * draw.u(1.6, 3.0, 1.2)), int(ink.shape[1] * draw.u(1.8, 3.5, 1.3)))
    paper = paper_colour(draw, 0.03)
    page = np.broadcast_to(paper, page_shape + (3,)).copy()
    line_blue = np.clip(np.array([0.55, 0.72, 0.92]) + draw.rng.normal(0, 0.05 * draw.spread, 3), 0, 1)
    page = lay(page, line_blue, ruled_lines(page_shape, draw, spacing, draw.u(1, 3, 0.7)) * draw.u(0.6, 1, 0.3, 1))
    if draw.chance(0.8):  # a red margin, left of the digit
        margin = np.zeros(page_shape, np.float32)
        x0 = int(page_shape[1] * draw.u(0.05, 0.2, 0.01, 0.3))
        margin[:, x0:x0 + max(1, draw.i(1, 3, 1))] = 1
        page = lay(page, (0.85, 0.25, 0.3), margin * draw.u(0.6, 1, 0.3, 1))
    alpha = np.zeros(page_shape, np.float32)
    corner = place(page_shape, ink.shape, draw)
    corner = (corner[0], max(corner[1], int(page_shape[1] * 0.3)) if corner[1] + ink.shape[1] < page_shape[1] else
              corner[1])
    paste_alpha(alpha, ink, corner)
    return ink_on_page(page, alpha, ("blue", "blue", "black"), draw)


def ink_on_page(page, alpha, pens, draw):
    """A notebook page (H, W, 3) with the digit's ink ``alpha`` (H, W) laid on it in one of ``pens``,
    lit a little unevenly, blurred, noisy and saved as a JPEG (the draws in this order, so that
    every seed renders as it did before this function was shared)."""
    page = lay(page, pen_colour(draw, pens), alpha * draw.u(0.75, 1.0, 0.4, 1.0))
    light = gradient_light(page.shape[:2], draw, draw.u(0, 0.3, 0, 0.7))
    image = finish(page * light[..., None], draw, blur=draw.u(0, 1.0, 0), noise=draw.u(0, 0.02, 0))
    return jpeg(image, draw.i(60, 92, 20, 95))


def squared(digit, draw):
    height = draw.i(70, 220, 30)
    spacing = height / draw.u(2, 5, 1.2)
    ink = rotate(pen_ink(digit, height, draw.u(0.6, 1.3, 0.3), draw), draw.u(-4, 4))
    page_shape = (int(ink.shape[0] * draw.u(1.5, 3.0, 1.2)), int(ink.shape[1] * draw.u(1.5, 3.0, 1.2)))
    paper = paper_colour(draw, 0.03)
    page = np.broadcast_to(paper, page_shape + (3,)).copy()
    grid_colour = draw.choice([(0.55, 0.7, 0.9), (0.6, 0.6, 0.62), (0.5, 0.75, 0.6)])
    thickness = draw.u(0.8, 2, 0.6)
    grid = np.maximum(ruled_lines(page_shape, draw, spacing, thickness),
                      ruled_lines(page_shape, draw, spacing, thickness, vertical=True))
    page = lay(page, grid_colour, grid * draw.u(0.5, 1, 0.3, 1))
    alpha = np.zeros(page_shape, np.float32)
    paste_alpha(alpha, ink, place(page_shape, ink.shape, draw))
    return ink_on_page(page, alpha, ("black", "blue", "dark"), draw)


def small(digit, draw):
    height = draw.i(32, 50, 20)
    ink = pen_ink(digit, height, draw.u(0.9, 1.5, 0.6), draw)
    page_shape = (draw.i(500, 1400, 300), draw.i(500, 1400, 300))
    alpha = np.zeros(page_shape, np.float32)
    paste_alpha(alpha, ink, place(page_shape, ink.shape, draw, 0.4))
    for _ in range(draw.i(2, 12, 0)):  # dust: small dark specks anywhere
        r = draw.u(0.6, 2.5, 0.4)
        cy, cx = draw.rng.uniform(0, page_shape[0]), draw.rng.uniform(0, page_shape[1])
        y0, x0 = int(max(cy - 4, 0)), int(max(cx - 4, 0))
        yy, xx = np.mgrid[y0:min(int(cy + 5), page_shape[0]), x0:min(int(cx + 5), page_shape[1])]
        speck = np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0, 1) * draw.u(0.4, 1.0, 0.1, 1)
        alpha[y0:y0 + speck.shape[0], x0:x0 + speck.shape[1]] = np.maximum(
            alpha[y0:y0 + speck.shape[0], x0:x0 + speck.shape[1]], speck)
    page = compose(paper_colour(draw, 0.01), pen_colour(draw), alpha)
    image = finish(page, draw, noise=draw.u(0, 0.015, 0))
    return (image, ("png", None)) if draw.chance(0.5) else jpeg(image, draw.i(70, 95, 30, 95))


def uci(digit8, draw):
    """A UCI 8x8 digit (0-16) upscaled smoothly, on a margin of 0-30% of its size, either polarity."""
    side = draw.i(32, 256, 16)
    ink = Image.fromarray((digit8 * (255 / 16)).astype(np.uint8)).resize((side, side), BICUBIC)
    ink = np.asarray(ink, np.float32) / 255
    margin = draw.i(0, side * 0.3, 0)
    ink = np.pad(ink, margin)
    if draw.chance(0.5):
        ink = 1 - ink
    return Image.fromarray(np.clip(ink * 255 + 0.5, 0, 255).astype(np.uint8)), ("png", None)


RENDER = {"clean": clean, "inverted": inverted, "scan": scan, "rgba": rgba, "jpeg": jpeg_kind, "marker": marker,
          "hairline": hairline, "shadow": shadow, "photo": photo, "notebook": notebook, "squared": squared,
          "small": small, "uci": uci}


# ----------------------------------------------------------------------------- main

def uci_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit("the uci kind needs scikit-learn: pip install -e '.[eval-images]' (or leave uci out of --kinds)")
    digits = load_digits()
    return digits.images, digits.target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="Folder to write KIND/NNNNN_labelD.EXT into.")
    parser.add_argument("--n", type=int, default=200, help="Images per kind.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spread", type=float, default=1.0, help="Widen every random range by this factor.")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"Comma-separated subset of {','.join(KINDS)}.")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $BPNET_DATA_DIR, else ./data).")
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}; choose from {KINDS}")
    test = data.load("mnist", args.data_dir, download=False).test
    for k, kind in enumerate(kinds):
        # One stream per kind (seeded by the kind's place in KINDS), so --kinds picks a subset of the same files.
        rng = np.random.default_rng([args.seed, KINDS.index(kind)])
        draw = Draw(rng, args.spread)
        if kind == "uci":
            images, labels = uci_digits()
        else:
            images, labels = test.images.reshape(-1, 28, 28), test.labels
        folder = args.out / kind
        folder.mkdir(parents=True, exist_ok=True)
        for index in rng.choice(len(images), size=min(args.n, len(images)), replace=False):
            image, (ext, quality) = RENDER[kind](images[index], draw)
            path = folder / f"{index:05d}_label{int(labels[index])}.{ext}"
            image.save(path, **({"quality": quality} if quality else {}))
        print(f"{kind}: {min(args.n, len(images))} images in {folder}")


if __name__ == "__main__":
    main()
