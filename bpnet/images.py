"""Image files to MNIST digits: what people draw, scan or photograph, made to look like the seeds.

MNIST digits are white ink on black, 28x28 uint8, the ink fitted into a 20x20 box
(aspect ratio kept, antialiased) and placed so its centre of mass is at the centre
of the field (LeCun et al.). :func:`preprocess` first finds the digit on the page as
:mod:`bpnet.segment` describes (illumination flattened, ink thresholded, ruled lines and
specks removed, the most substantial piece of ink and its nearby strokes chosen), on a
working copy at most WORK_SIDE wide, then brings it to that convention (its ink made binary
pen strokes within MNIST's range of widths, as NIST's binary digits were before they were
scaled), keeping every step in :class:`Stages`. :func:`to_mnist` is its 28x28;
:func:`split_digits` reads a row of digits. An image already in MNIST form passes pixel for
pixel. :func:`load_image`, :func:`load_stages` and :func:`load_digits` read a file and report
failures as one-line :class:`~bpnet.errors.ImageError`; :func:`load_images` builds the column
matrix A⁰ (784, N) with :func:`bpnet.data.scale_rows`, the very scaling training and eval use,
so a PNG saved from an MNIST image gives bit-identical input.
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import data, segment
from .errors import ImageError

SIDE = 28  # MNIST field, pixels
BOX = 20  # the ink is scaled to fit BOX x BOX
CENTRE = 14.0  # where the centre of mass lands (row, column); MNIST's mean is 14.0
MIN_INK = 32  # a 28x28 MNIST-form image whose ink rises less than this above the background is blank
INK_FRACTION = 0.25  # the digit's box holds the pixels above this fraction of its strongest ink:
# a blurred edge is cut near where a solid stroke would end, as LeCun boxed binary NIST digits
# The strokes' width relative to the digit's longer side (:func:`_stroke_width`) on MNIST's test digits
# resampled to STROKE_SIDE: 5/10/25/50/75/90/95th percentiles 0.084/0.092/0.106/0.124/0.147/0.173/0.193.
# A digit's strokes are brought into MNIST's 10-90% range [NARROW, WIDE]: a fine pen's widened, a marker's
# thinned (scripts/predict_accuracy.py, 400 images per kind on two held-out renders, seeds 3 and 4: mean over
# the kinds 96.25 -> 96.9%, marker 94.2 -> 95.8%; bounds 0.10-0.12 and 0.17 measured the same within 0.1%,
# 0.19 worse; on an untouched render, seed 5: all 95.7 -> 96.3%; UCI's gain there, 89 -> 93%, did not hold)
NARROW = 0.09
WIDE = 0.17
STROKE_SIDE = 64  # pixels: the digit's longer side while its strokes are measured and made even
PEN = 0.4  # at STROKE_SIDE, ink is what lies above this fraction of the digit's peak: MNIST's digits were
# binary (NIST) before their antialiased size normalisation, so a blurred, faint or thin-cored digit is
# made binary again (0.4 measured better than 0.3 and 0.5) and antialiased only by the fit into 20x20
MIN_SIDE = 8  # pixels: a smaller image cannot hold a legible digit
ALPHA_MODES = ("LA", "PA", "RGBA", "La", "RGBa")
BLANK = "the image is blank; no digit found"
# A larger image is box-averaged down first: a digit needs far fewer pixels, and the float
# arrays below cost about 24 bytes a pixel (2 GB for a 9400x9400 photo, about 0.1 GB at this size).
MAX_SIDE = 2048
# The digit is looked for on a copy at most this wide: enough for a small digit on a large page,
# little enough that the whole analysis takes a few tens of milliseconds.
WORK_SIDE = 1024
LANCZOS = getattr(Image, "Resampling", Image).LANCZOS  # Image.Resampling is Pillow >= 9.1
BOX_FILTER = getattr(Image, "Resampling", Image).BOX


# ----------------------------------------------------------------------------- public API

@dataclass
class Stages:
    """What each step of :func:`preprocess` produced, for showing and debugging.

    original: (H, W) float32 gray in [0, 255], the working copy as read (ink dark or light as given).
    flattened: (H, W) float32 in [0, 255], ink intensity after illumination flattening (ink bright, paper 0).
    mask: (H, W) bool, the ink after thresholding and removing lines and specks.
    digit: (h, w) float32 in [0, 255], the chosen digit's ink, cropped (what gets fitted into 20x20).
    mnist: (28, 28) uint8, what the network sees.
    """

    original: np.ndarray
    flattened: np.ndarray
    mask: np.ndarray
    digit: np.ndarray
    mnist: np.ndarray


def preprocess(image):
    """Find the digit in a PIL image and bring it to the MNIST convention, keeping every stage.

    An image that already is MNIST-like (28x28, 8-bit gray, dark background) passes pixel for
    pixel. Otherwise the digit is found as :mod:`bpnet.segment` describes (illumination
    flattened, ink thresholded, lines and specks removed, the most substantial piece of ink and
    its nearby strokes chosen), then fitted into 20x20 and centred by mass in 28x28.
    A blank image raises :class:`ImageError`.
    """
    exact = _passthrough(image)
    if exact is not None:
        return exact
    _check_size(image)
    page = _find_ink(image)
    return _stages(page, segment.choose_digit(page.found))


def _check_size(image):
    """ImageError if ``image`` is too small to hold a legible digit (UCI's digits are 8x8)."""
    if min(image.size) < MIN_SIDE:
        raise ImageError(f"the image is too small ({image.width}x{image.height}); a digit needs at least "
                         f"{MIN_SIDE}x{MIN_SIDE} pixels")


def _passthrough(image):
    """Stages of an image already in MNIST form (e.g. saved from the dataset), or None.

    Any processing would change its pixels and so the prediction that eval gives for it.
    """
    if image.size != (SIDE, SIDE):
        return None
    exact = _exact_gray(image)
    if exact is None or _is_light(exact):
        return None
    if _ink(exact.astype(np.float32)).max() < MIN_INK:
        raise ImageError(BLANK)
    as_float = exact.astype(np.float32)
    return Stages(as_float, as_float, exact > 0, as_float, exact)


@dataclass
class _Page:
    """A page analysed: the working copy's gray, its ink r in [0, 1] (smoothed, and sharp: see
    :func:`bpnet.segment.flatten`), the threshold and the paper's noise level
    (:func:`bpnet.segment.threshold`), the line pixels removed, and the pieces of ink that
    remain (:class:`bpnet.segment.Pieces`)."""

    gray: np.ndarray
    ink: np.ndarray
    sharp: np.ndarray
    cut: float
    paper: float
    removed: np.ndarray
    found: object


def _find_ink(image):
    """Steps 1-4 of :mod:`bpnet.segment` on a PIL image: a :class:`_Page`; ImageError if blank."""
    channels, gray = _working_copy(image)
    dark = segment.ink_is_dark(gray)
    ink, sharp = segment.flatten(segment.ink_channel(channels, dark), dark)
    if float(ink.max()) < segment.MIN_CONTRAST:
        raise ImageError(BLANK)
    cut, paper = segment.threshold(ink)
    mask, removed = segment.remove_lines(ink > cut)
    if removed.any():  # the lines' fainter parts too, so the digit's soft edges do not grow into them
        removed |= segment.remove_lines(ink > max(paper, 0.5 * cut))[1]
    found = segment.pieces(mask, ink)
    if not len(found.area):
        raise ImageError(BLANK)
    return _Page(gray, ink, sharp, cut, paper, removed, found)


def _stages(page, chosen, columns=None):
    """The :class:`Stages` of the digit made of the pieces ``chosen`` on ``page`` (within the
    range ``columns`` = (left, right) of the page, if given)."""
    digit = _digit_ink(page, chosen, columns)
    digit = _pen_strokes(_crop(digit, INK_FRACTION * float(digit.max())))
    mask = page.found.labels > 0
    return Stages(page.gray, page.ink * np.float32(255), mask, digit, _to_field(digit))


def _digit_ink(page, chosen, columns=None):
    """The chosen pieces' ink with its soft edges, scaled so its strongest ink is 255; (h, w) float32.

    The thresholded pieces are grown into the connected pixels above the paper's noise (the
    antialiased edges of the strokes, as in MNIST), never into a removed line, and within a
    small margin of their box (not into a neighbouring digit).
    """
    from scipy import ndimage

    found = page.found
    box = np.concatenate([found.boxes[chosen, :2].min(0), found.boxes[chosen, 2:].max(0)])
    margin = 2 + int(0.05 * max(box[2] - box[0], box[3] - box[1]))
    left, right = (max(box[1] - margin, 0), box[3] + margin) if columns is None else columns
    window = (slice(max(box[0] - margin, 0), box[2] + margin), slice(left, right))
    ink = page.ink[window]
    selected = found.mask(chosen)[window]
    soft = (ink > page.paper) & ~ndimage.binary_dilation(page.removed[window], iterations=1)
    labels, _ = ndimage.label(soft | selected, structure=np.ones((3, 3), bool))
    grown = np.isin(labels, np.unique(labels[selected]))
    peak = float(np.percentile(ink[selected], 99))
    return np.minimum(page.sharp[window] * grown / max(peak, 1e-6), 1) * np.float32(255)


def to_mnist(image):
    """Bring a PIL image of a digit to the MNIST convention: a (28, 28) uint8 array (``preprocess(image).mnist``)."""
    return preprocess(image).mnist


def split_digits(image):
    """Several digits written in a row (a year, a phone number), left to right: one :class:`Stages` each.

    The pieces of ink are grouped by horizontal overlap (:func:`bpnet.segment.group_digits`);
    a group too wide for one digit is cut at the thinnest columns. A single digit gives a list
    of one, equal to :func:`preprocess`'s. The stages ``original``, ``flattened`` and ``mask``
    are shared by all.
    """
    exact = _passthrough(image)
    if exact is not None:
        return [exact]
    _check_size(image)
    page = _find_ink(image)
    groups = segment.group_digits(page.found, page.ink)
    if len(groups) == 1:
        return [_stages(page, segment.choose_digit(page.found))]
    return [_stages(page, chosen, columns) for chosen, columns in groups]


def load_image(path):
    """Read an image file (first frame, EXIF orientation applied) as a (28, 28) uint8 MNIST digit.

    Every failure is an :class:`ImageError` whose one-line message starts with the path.
    """
    return load_stages(path).mnist


def load_stages(path):
    """Read an image file and :func:`preprocess` it; ImageError messages start with the path."""
    return _with_path(path, preprocess)


def load_digits(path):
    """Read an image file and :func:`split_digits` it; ImageError messages start with the path."""
    return _with_path(path, split_digits)


def _with_path(path, step):
    path = Path(path)
    try:
        return step(_open(path))
    except ImageError as exc:
        raise ImageError(f"{path}: {_one_line(exc)}") from None


def load_images(paths, dtype=np.float32):
    """The column matrix A⁰ of image files: shape (784, N), values in [0, 1] of ``dtype``.

    Column n is the row-major flattening of ``load_image(paths[n])``, scaled by
    :func:`bpnet.data.scale_rows` exactly as the dataset's images are.
    """
    paths = list(paths)
    rows = np.empty((len(paths), data.N_PIXELS), dtype=np.uint8)
    for n, path in enumerate(paths):
        rows[n] = load_image(path).reshape(data.N_PIXELS)
    return data.columns(rows, dtype)


# ----------------------------------------------------------------------------- reading files

def _open(path):
    """Open, fully decode and orient the first frame of ``path``; ImageError (no path) otherwise."""
    try:
        # exists() raises for a name too long or a folder that may not be entered: the OSError below
        if not path.exists():
            raise ImageError("no such file")
        if path.is_dir():
            raise ImageError("is a directory, not an image file")
        # Image.open refuses more than 2 * Image.MAX_IMAGE_PIXELS and only warns
        # above MAX_IMAGE_PIXELS; here the warning is an error too: nobody draws a
        # digit on that many pixels, and decoding them could exhaust memory.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.seek(0)
                if max(image.size) > WORK_SIDE:  # a JPEG then decodes at 1/2, 1/4 or 1/8 of its size,
                    scale = 0.75 * WORK_SIDE / max(image.size)  # at least 3/4 of the working copy's
                    image.draft(None, (int(image.width * scale) + 1, int(image.height * scale) + 1))
                image.load()  # decode now, so truncated or corrupt data fails inside this try
                # Shrunk before it is turned: exif_transpose copies, and the copy is then small.
                return ImageOps.exif_transpose(_shrink(image))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"the image is too large ({_one_line(exc)})") from None
    except UnidentifiedImageError:
        raise ImageError("not an image file (or a format Pillow cannot read)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _one_line(exc)
        raise ImageError(f"cannot read the image ({reason})") from None


def _shrink(image):
    """``image`` box-averaged by the smallest whole factor that brings both sides to MAX_SIDE or less.

    Pillow's reduce averages channels, which means nothing for palette indices (converted to
    RGBA first, transparency kept) and is not offered for 1-bit or 16-bit modes (converted to
    8-bit gray, and through 32-bit back to 16-bit, so the gray levels come out as unshrunk).
    """
    factor = _shrink_factor(image)
    if factor == 1:
        return image
    if image.mode.startswith("I;16"):
        return image.convert("I").reduce(factor).convert("I;16")
    converted = {"1": "L", "P": "RGBA", "PA": "RGBA"}.get(image.mode)
    return (image.convert(converted) if converted else image).reduce(factor)


def _shrink_factor(image):
    """The smallest whole number that divides both sides of ``image`` down to MAX_SIDE or less."""
    return -(-max(image.size) // MAX_SIDE)


def _one_line(exc):
    """The message of ``exc`` with whitespace (newlines included) collapsed to single spaces."""
    return " ".join(str(exc).split()) or type(exc).__name__


# ----------------------------------------------------------------------------- gray levels

def _exact_gray(image):
    """The image as (H, W) uint8 if it is exactly 8-bit gray and opaque, else None.

    Mode L (or 1), or an RGB/RGBA/LA/P image whose channels are all equal and
    fully opaque: a digit saved through a tool that writes colour still counts.
    """
    if image.mode in ("L", "1"):
        return np.asarray(image.convert("L"))
    if image.mode not in ("LA", "P", "RGB", "RGBA"):
        return None
    rgba = np.asarray(image.convert("RGBA"))
    red = rgba[..., 0]
    opaque = (rgba[..., 3] == 255).all()
    if opaque and (rgba[..., 1] == red).all() and (rgba[..., 2] == red).all():
        return np.ascontiguousarray(red)
    return None


def _working_copy(image):
    """(channels (C, H, W), gray (H, W)): the image as float32 in [0, 255], at most WORK_SIDE wide.

    Alpha is laid on the background (:func:`_flatten`). A gray image (or a colour one whose
    channels are all equal) has one channel; a colour image keeps R, G, B for the ink's colour.
    """
    if image.mode.startswith("I") or image.mode == "F":
        gray = segment.shrink(_wide_gray(image), WORK_SIDE)
        return gray[None], gray
    try:
        has_alpha = image.mode in ALPHA_MODES or "transparency" in image.info
        colour = image.convert("RGBA" if has_alpha else "RGB" if image.mode not in ("L", "1") else "L")
    except ValueError:  # a mode Pillow cannot convert (e.g. La)
        raise ImageError(f"unsupported image mode {image.mode}") from None
    if max(colour.size) > WORK_SIDE:
        scale = WORK_SIDE / max(colour.size)
        colour = colour.resize((max(1, round(colour.width * scale)), max(1, round(colour.height * scale))), BOX_FILTER)
    gray = np.asarray(colour.convert("L"), dtype=np.float32)
    arrays = np.asarray(colour, dtype=np.float32)
    if arrays.ndim == 2:
        return gray[None], gray
    channels = np.moveaxis(arrays[..., :3], -1, 0)
    if has_alpha:
        alpha = arrays[..., 3] / np.float32(255)
        channels = np.stack([_flatten(channel, alpha, gray) for channel in channels])
        gray = _flatten(gray, alpha, gray)
    if (channels[0] == channels[1]).all() and (channels[0] == channels[2]).all():
        return gray[None], gray
    return np.ascontiguousarray(channels), gray


def _wide_gray(image):
    """Integer (16/32-bit) or float images to gray in [0, 255], float32 (H, W)."""
    values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=255.0, neginf=0.0)
    peak = values.max(initial=0.0)
    if image.mode.startswith("I;16") or (image.mode == "I" and peak > 255):
        values = values / 257.0  # 16-bit range: 65535 -> 255
    elif image.mode == "F" and peak <= 1.0:
        values = values * 255.0  # floats in [0, 1]
    return np.clip(values, 0, 255).astype(np.float32)


def _flatten(values, alpha, gray):
    """Composite ``values`` (a channel or the gray) over a background according to ``alpha``; float32 (H, W).

    Transparent pixels become background. If most of the image is opaque, the
    opaque part holds the paper and the background is its median; otherwise the
    opaque part is ink on a transparent canvas, and the background is white for
    dark ink, black for light ink, so the ink shows whatever its colour.
    """
    opaque = alpha > 0.5
    if opaque.mean() >= 0.5:
        background = float(np.median(values[opaque]))
    elif alpha.sum() > 0:
        background = 255.0 if np.average(gray, weights=alpha) < 128 else 0.0
    else:
        background = 255.0  # fully transparent: blank either way
    return values * alpha + np.float32(background) * (1 - alpha)


def _border(gray):
    """The outermost ring of pixels, as a flat array."""
    return np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])


def _is_light(gray):
    """Whether the background (median of the outermost ring) is light."""
    return float(np.median(_border(gray))) >= 128


def _ink(gray):
    """Ink intensity: how far each pixel is above the background level, float32 (H, W)."""
    background = np.float32(np.median(_border(gray)))
    return np.maximum(gray - background, 0, dtype=np.float32)


# ----------------------------------------------------------------------------- geometry

def _crop(ink, threshold):
    """``ink`` cut to the bounding box of the pixels above ``threshold``."""
    rows = np.flatnonzero((ink > threshold).any(axis=1))
    cols = np.flatnonzero((ink > threshold).any(axis=0))
    return ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]


def _to_field(digit):
    """The cropped ink (h, w) fitted into 20x20, stretched to a peak of 255 and centred by mass in 28x28."""
    patch = _fit(digit)
    if patch.max() <= 0:  # only a pathological speck could vanish in resampling
        raise ImageError(BLANK)
    return _centre(patch * np.float32(255.0 / patch.max()))


def _stroke_width(ink):
    """The strokes' width relative to the longer side of the box of the (h, w) bool ``ink``:
    2·area / perimeter, the perimeter counted as the ink pixels on its edge."""
    from scipy import ndimage

    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if not len(rows):
        return 0.0
    edge = int((ink & ~ndimage.binary_erosion(ink)).sum())
    side = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    return 2 * int(ink.sum()) / max(edge, 1) / side


def _pen_strokes(digit):
    """``digit`` (h, w) as binary pen strokes of about MNIST's width: (h', w') float32, 0 or 255, cropped.

    The digit is resampled so its longer side is STROKE_SIDE and cut at PEN of its peak. Strokes
    narrower than NARROW (:func:`_stroke_width`) are dilated by a disk, wider than WIDE eroded,
    the disk's radius half the difference in pixels: MNIST's digits were written with pens of a
    limited range of widths, and the network never saw a hairline or a felt marker's strokes.
    (The measure is rough, so this moves thick strokes only part of the way; eroding by the
    smallest disk that brings the measure to WIDE measured worse: 96.9 -> 96.6%.)
    """
    from scipy import ndimage

    scale = STROKE_SIDE / max(digit.shape)
    size = (max(1, round(digit.shape[1] * scale)), max(1, round(digit.shape[0] * scale)))
    small = np.asarray(Image.fromarray(np.ascontiguousarray(digit, np.float32)).resize(size, LANCZOS))
    ink = small > PEN * float(small.max())
    width = _stroke_width(ink)
    target = min(max(width, NARROW), WIDE)
    radius = int(round(abs(target - width) * STROKE_SIDE / 2))
    if radius >= 1:
        disk = np.hypot(*np.mgrid[-radius:radius + 1, -radius:radius + 1]) <= radius + 0.5
        if target > width:
            ink = ndimage.binary_dilation(np.pad(ink, radius), structure=disk)
        else:
            thinned = ndimage.binary_erosion(ink, structure=disk)
            ink = thinned if thinned.any() else ink
    return _crop(ink.astype(np.float32) * np.float32(255), 0)


def _fit(ink):
    """Resize (Lanczos, antialiased) so the longer side is 20, keeping the aspect ratio."""
    height, width = ink.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Mode F keeps full precision through resampling; rounding happens once, at the end.
    resized = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32))
    resized = resized.resize(size, LANCZOS)
    return np.clip(np.asarray(resized), 0, 255)  # Lanczos rings below 0 and above 255


def _centre(patch):
    """Paste ``patch`` into a 28x28 uint8 field with its centre of mass nearest (14, 14)."""
    height, width = patch.shape
    mass = patch.sum()
    com_row = (patch.sum(axis=1) @ np.arange(height)) / mass
    com_col = (patch.sum(axis=0) @ np.arange(width)) / mass
    # Whole-pixel shifts, as LeCun's, so no resampling blurs the ink; clipped so
    # a lopsided digit keeps all its ink rather than being exactly centred.
    top = int(np.clip(np.floor(CENTRE - com_row + 0.5), 0, SIDE - height))
    left = int(np.clip(np.floor(CENTRE - com_col + 0.5), 0, SIDE - width))
    field = np.zeros((SIDE, SIDE), dtype=np.uint8)
    field[top: top + height, left: left + width] = np.rint(patch).astype(np.uint8)
    return field
