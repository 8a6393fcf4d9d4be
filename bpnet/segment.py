"""Finding a handwritten digit on a page, as a careful person would, before reading it.

A photo of a digit holds much that is not the digit: paper lit unevenly (a gradient, a
vignette, a shadow across it), ruled or squared lines, a margin, specks of dust. The
steps, each a function below, all on (H, W) float32 arrays and vectorised with scipy.ndimage:

1. :func:`ink_is_dark` – whether the ink is darker or lighter than the paper: the sign of the
   strongest departures from a local median (the paper, wherever ink is the minority).
2. :func:`flatten` – the paper's own brightness B, estimated by a morphological closing (an
   opening for light ink) with a square wider than any stroke: it fills the strokes with the
   paper around them but keeps gradients, vignettes and the straight edge of a shadow (a
   closing leaves any shape wider than its square untouched). Ink is measured against it,
   r = 1 − I/B: the fraction of the light the ink takes away, the same in shadow as in light.
   A colour image is first divided by its paper colour and reduced to its darkest channel,
   so blue ballpoint on white counts as dark as black ink.
3. :func:`threshold` – Otsu's threshold (Otsu 1979) on r, never below a floor set by the
   paper's own noise (its median plus 6 robust standard deviations).
4. :func:`line_pixels` – long straight thin lines (ruled or squared paper, a margin, the edge of
   a page): rows of ink that run, nearly straight and a few pixels thin, across most of the image,
   found by projecting the ink on near-horizontal and near-vertical directions. They are removed,
   but not the strokes that cross them or are written along them.
5. :func:`pieces` and :func:`choose_digit` – connected pieces of ink; specks dropped; the digit is
   the most massive piece plus those close to it (the two strokes of a 4, a 7's crossbar) or
   straight above or below it (a 5's bar written apart from its body).
   :func:`group_digits` instead splits a row of digits into digit-sized groups, left to right.
"""

from dataclasses import dataclass

import numpy as np

MEDIAN_SIDE = 64  # polarity is decided on a copy this small: it needs only the strongest departures
MEDIAN_WINDOW = 0.5  # the window: half the copy, so the paper is the majority even around a marker digit
SMOOTH = 0.7  # pixels: the Gaussian that tames the noise before the closing
BACKGROUND_SIDE = 512  # the paper's level is estimated on a copy at most this wide
CLOSING_FRACTION = 1 / 3  # the closing's square: a third of the image's shorter side, wider than any stroke
MIN_CLOSING = 5
INK_PAPER = 0.15  # a paper level less than this share of the way from the ink's to the paper's is the ink's
NOISE_SIGMAS = 6.0  # the threshold is at least this many robust standard deviations above the paper
PAPER_SIGMAS = 3.0  # a pixel more than this above the paper's median may be the soft edge of a stroke
MIN_THRESHOLD = 0.08  # ...and never below this fraction of the light (JPEG ringing, paper texture)
MIN_CONTRAST = 0.125  # ink must take away at least this much of the light somewhere (32/255), or the page is blank
LINE_SIDE = 256  # lines are looked for on a copy this small (max-pooled, so a thin line survives)
MAX_TILT = 6.0  # degrees: a ruled line in a photo is rarely tilted more
MIN_LINE = 0.7  # a line spans at least this fraction of the image
MAX_LINE_WIDTH = 2  # pixels of the small copy: a line is thin
LINES_ALONE = 0.02  # if less than this share of the ink is not on lines, the "lines" are the digit
MIN_LINED_PAGE = 96  # pixels: an image smaller than this is a digit, not a page with lines on it
MIN_SPECK = 5e-5  # pieces smaller than this fraction of the image (and 4 pixels) are specks
NEAR = 0.25  # pieces within this fraction of the digit's size of its box belong to it
MIN_PART = 0.02  # ...if they hold at least this fraction of its ink
STACKED = 0.6  # a piece straight above or below, within this fraction of the digit's height, belongs to it...
STACKED_PART = 0.2  # ...if it holds at least this fraction of its ink
INNER_SHARE = 0.2  # a piece clear of the image's edge is preferred if it holds this share of the heaviest's ink
MIN_DIGIT = 0.15  # in a row of digits, a group with less than this fraction of the heaviest's ink is a mark
WIDE = 1.3  # a group wider than this many times its height holds several digits...
DIGIT_ASPECT = 0.75  # ...as many as its width holds digits this many times as wide as tall


# ----------------------------------------------------------------------------- 1. polarity

def ink_is_dark(gray):
    """Whether the ink in ``gray`` (H, W), values in [0, 255], is darker than the paper.

    On a small copy, each pixel's departure from the median of a window a quarter of the
    image wide is the ink (the paper is the majority of nearly every such window, whatever
    the lighting); the side with the larger sum of squared departures is the ink's.
    """
    from scipy import ndimage

    small = np.log(shrink(gray, MEDIAN_SIDE) + np.float32(64))  # light is multiplicative: shadows are steps
    size = max(3, int(min(small.shape) * MEDIAN_WINDOW) | 1)
    departure = small - ndimage.median_filter(small, size=size, mode="nearest")
    return float(np.square(np.minimum(departure, 0)).sum()) >= float(np.square(np.maximum(departure, 0)).sum())


def shrink(array, side):
    """``array`` (H, W) box-averaged so its longer side is at most ``side``; float32."""
    from PIL import Image

    height, width = array.shape
    scale = side / max(height, width)
    if scale >= 1:
        return np.asarray(array, dtype=np.float32)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    box = getattr(Image, "Resampling", Image).BOX
    return np.asarray(Image.fromarray(np.asarray(array, dtype=np.float32)).resize(size, box))


# ----------------------------------------------------------------------------- 2. illumination

def ink_channel(channels, dark):
    """One (H, W) float32 channel in [0, 255] in which the ink stands out most.

    ``channels`` is (C, H, W). For dark ink each channel is divided by the paper's level in it
    (its 90th percentile), which removes a colour cast, and the darkest channel is kept: blue ink
    is dark in red and green. For light ink, the brightest channel.
    """
    if len(channels) == 1:
        return channels[0]
    if not dark:
        return channels.max(axis=0)
    paper = np.percentile(channels[:, ::4, ::4].reshape(len(channels), -1), 90, axis=1)
    scale = np.float32(255) / np.maximum(paper, 1).astype(np.float32)
    return np.minimum((channels * scale[:, None, None]).min(axis=0), 255)


def closing_size(shape):
    """The side of the closing's square: a third of the shorter side (odd), wider than any stroke."""
    return max(MIN_CLOSING, int(min(shape) * CLOSING_FRACTION) | 1)


def flatten(channel, dark):
    """(ink, sharp): ink r in [0, 1] measured against the paper's local level B, both (H, W) float32.

    ``ink`` is measured on the lightly smoothed channel (for finding the ink: a shadow's soft edge
    is then no thin line), ``sharp`` on the channel itself (the grey levels the digit keeps).

    Dark ink: B is a grey closing of ``channel`` and r = (B − I) / B, the fraction of the light
    the ink takes away. Light ink: B is a grey opening and r = (I − B) / (255 − B). The closing is
    the smaller of two, by a square and by a diamond (:func:`paper_level`), on a copy at most
    BACKGROUND_SIDE wide, brought back to full size bilinearly: the paper's light varies slowly.
    """
    from scipy import ndimage

    # Smoothed a little, as the closing of noise would be its upper envelope; the ink is measured
    # on the same smoothed image, so the soft step of a shadow's edge is not taken for a thin line.
    smooth = ndimage.gaussian_filter(channel, SMOOTH)
    small = shrink(smooth, BACKGROUND_SIDE)
    small = small if dark else -small  # the ink's side down: a closing finds the paper either way
    paper = _not_ink(paper_level(small, closing_size(small.shape)), small)
    paper = paper if dark else -paper
    if paper.shape != smooth.shape:
        paper = _resize(paper, smooth.shape)
    # A closing never lies below the image (an opening never above): nor may its resized copy.
    paper = np.maximum(paper, smooth) if dark else np.minimum(paper, smooth)
    return _relative(smooth, paper, dark), _relative(channel, paper, dark)


def _not_ink(paper, image):
    """``paper`` (h, w) where it is paper: where the closing left it nearly as dark as the ink of
    ``image`` (h, w) (both dark-ink-side down), the nearest paper level that is not.

    A closing fills only strokes narrower than its square; a blob of marker ink wider than that
    (the filled loop of a 6 in a tight crop) stays ink-dark and would read as paper with a hole in
    the digit. A level within INK_PAPER of the way from the ink's to the paper's, in a region clear
    of the image's edge, is the ink's, and is replaced by the nearest level that is not. (A deep
    shadow can be as dark, but it falls across the page from beyond the edge.)
    """
    from scipy import ndimage

    ink = (paper - image) / np.maximum(np.abs(paper), 8) > 0.5  # confidently ink: half the light taken
    if ink.sum() < 16:
        return paper
    ink_level, paper_median = float(np.median(image[ink])), float(np.median(paper))
    wrong = paper < ink_level + INK_PAPER * (paper_median - ink_level)
    labels, _ = ndimage.label(wrong)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    wrong &= ~np.isin(labels, edge[edge > 0])  # a deep shadow, as dark as ink, comes from beyond the edge
    if not wrong.any():
        return paper
    nearest = ndimage.distance_transform_edt(wrong, return_distances=False, return_indices=True)
    return paper[tuple(nearest)]


def _relative(image, paper, dark):
    """The fraction of the light the ink takes away (dark ink) or adds (light ink), in [0, 1]."""
    ink = (paper - image) / np.maximum(paper, 8) if dark else (image - paper) / np.maximum(255 - paper, 8)
    return np.clip(ink, 0, 1, out=ink)


def paper_level(image, size):
    """The grey closing of ``image`` (H, W) that keeps straight edges of any slope.

    A closing by a square fills the dark side of a tilted edge over a band as wide as the square's
    corner sticks out; a diamond (the square turned 45 degrees) does so for the slopes the square
    keeps. The smaller of the two closings fills neither much (and still every stroke narrower
    than the square).
    """
    from scipy import ndimage

    # Outside the image is ignored (a max sees the lowest value there, a min the highest): a
    # border repeated outwards would carry a brighter neighbour's light into a dim corner.
    low, high = float(image.min()), float(image.max())
    square = ndimage.maximum_filter(image, size=(size, size), mode="constant", cval=low)
    square = ndimage.minimum_filter(square, size=(size, size), mode="constant", cval=high)
    diamond = _diagonal(_diagonal(image, size, ndimage.maximum_filter1d), size, ndimage.minimum_filter1d)
    return np.minimum(square, diamond)


def _diagonal(image, size, filter1d):
    """``filter1d`` (a max or min filter of ``size``) along both diagonals of ``image``: a diamond."""
    height, width = image.shape
    rows = np.arange(height)[:, None]
    for shift in (rows, height - 1 - rows):  # the anti-diagonals, then the diagonals, become columns
        cols = np.arange(width)[None, :] + shift
        sheared = np.empty((height, width + height - 1), image.dtype)
        # Outside the image: the value the filter ignores (a max ignores the lowest, a min the highest).
        sheared.fill(image.min() if filter1d.__name__.startswith("max") else image.max())
        sheared[rows, cols] = image
        image = filter1d(sheared, size, axis=0, mode="nearest")[rows, cols]
    return image


def _resize(array, shape):
    """``array`` (h, w) float32 resized bilinearly to ``shape`` (H, W)."""
    from PIL import Image

    bilinear = getattr(Image, "Resampling", Image).BILINEAR
    return np.asarray(Image.fromarray(np.asarray(array, np.float32)).resize(shape[::-1], bilinear))


# ----------------------------------------------------------------------------- 3. threshold

def otsu(values, bins=256):
    """Otsu's (1979) threshold of ``values`` in [0, 1]: the cut maximising the between-class variance."""
    counts = np.bincount(np.minimum((values * bins).astype(np.intp), bins - 1).ravel(), minlength=bins)
    centres = (np.arange(bins) + 0.5) / bins
    w0 = np.cumsum(counts)[:-1].astype(np.float64)
    w1 = counts.sum() - w0
    m0 = np.cumsum(counts * centres)[:-1]
    m1 = (counts * centres).sum() - m0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = w0 * w1 * (m0 / w0 - m1 / w1) ** 2
    return float((np.nanargmax(between) + 1) / bins) if np.isfinite(between).any() else 0.5


def threshold(ink):
    """(cut, paper): the ink/paper cut on r and the paper's noise level.

    Otsu's cut splits r into two classes; the lower one is the paper (whatever share of the
    image the ink covers), whose noise level is its median plus PAPER_SIGMAS robust standard
    deviations (from the MAD). The cut is Otsu's, but at least NOISE_SIGMAS such deviations
    above the paper's median and MIN_THRESHOLD: Otsu's cut falls into the paper's noise when
    the ink is a tiny part of the image.
    """
    sample = ink[::2, ::2]
    cut = otsu(sample)
    below = sample[sample < cut]
    median = float(np.median(below)) if below.size else 0.0
    spread = 1.4826 * float(np.median(np.abs(below - median))) if below.size else 0.0  # the MAD as a sigma
    return max(cut, MIN_THRESHOLD, median + NOISE_SIGMAS * spread), median + PAPER_SIGMAS * spread


# ----------------------------------------------------------------------------- 4. lines

def line_pixels(mask):
    """Pixels of ``mask`` (H, W) bool on long straight thin lines, near-horizontal or near-vertical.

    On a max-pooled copy at most LINE_SIDE pixels wide, the ink is projected along directions
    up to MAX_TILT degrees from the horizontal (then the vertical): a line is a bin that holds at
    least MIN_LINE of the image's width, in a run of such bins at most MAX_LINE_WIDTH wide (a big
    blob is not a line), most of whose pixels are thin across it in the image as well (a thick
    stroke is not a line). Returns (H, W) uint8: bit 1 set on a near-horizontal line, bit 2 on a
    near-vertical one (3 where they cross), 0 elsewhere.
    """
    factor = max(1, -(-max(mask.shape) // LINE_SIDE))
    small = _pool_any(mask, factor)
    lines = np.zeros(mask.shape, dtype=np.uint8)
    ys, xs = np.nonzero(small)
    if len(ys) == 0:
        return lines
    big_ys, big_xs = np.nonzero(mask)
    steps = int(np.ceil(np.tan(np.radians(MAX_TILT)) * LINE_SIDE))
    # A thick stroke, slightly curved, projects onto a thin run at some slope; a line is thin in the
    # image itself too: most of its pixels lie in runs across it no longer than a thin run allows.
    limit = (MAX_LINE_WIDTH + 1) * factor + 1
    thin = {}  # per direction, whether each ink pixel is thin across it: found when first needed
    for code, along, across, extent, big_along, big_across in (
            (1, xs, ys, small.shape[1], big_xs, big_ys), (2, ys, xs, small.shape[0], big_ys, big_xs)):
        for slope in np.linspace(-1, 1, 2 * steps + 1) * np.tan(np.radians(MAX_TILT)):
            rho = np.rint(across - slope * along).astype(np.intp)
            low = int(rho.min())
            counts = np.bincount(rho - low)
            long = _thin_runs(counts >= MIN_LINE * extent)
            if not long.any():
                continue
            big_rho = np.rint((big_across - slope * big_along) / factor - low).astype(np.intp)
            inside = (big_rho >= 0) & (big_rho < len(long))
            hit = np.zeros(len(big_rho), bool)
            hit[inside] = long[big_rho[inside]]
            if not hit.any():
                continue
            if code not in thin:
                thin[code] = _run_lengths(mask, code - 1)[big_ys, big_xs] <= limit
            pixels = np.bincount(big_rho[hit], minlength=len(long))
            thin_pixels = np.bincount(big_rho[hit], weights=thin[code][hit], minlength=len(long))
            hit[hit] = (thin_pixels >= 0.5 * pixels)[big_rho[hit]]
            lines[big_ys[hit], big_xs[hit]] |= code
    return lines


def _pool_any(mask, factor):
    """(H, W) bool max-pooled by ``factor`` (a block holds ink if any of its pixels does)."""
    if factor == 1:
        return mask
    height, width = -(-mask.shape[0] // factor) * factor, -(-mask.shape[1] // factor) * factor
    padded = np.zeros((height, width), bool)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    return padded.reshape(height // factor, factor, width // factor, factor).any(axis=(1, 3))


def _thin_runs(long):
    """``long`` with every run of True longer than MAX_LINE_WIDTH cleared."""
    edges = np.diff(np.concatenate([[0], long.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    keep = np.zeros(len(long) + 1, np.int8)
    for start, end in zip(starts, ends):
        if end - start <= MAX_LINE_WIDTH:
            keep[start] += 1
            keep[end] -= 1
    return np.cumsum(keep[:-1]) > 0


def _run_lengths(mask, axis):
    """(H, W) int: for each pixel of ``mask``, the length of the run of ink along ``axis`` holding it."""
    from scipy import ndimage

    structure = np.zeros((3, 3), bool)
    structure[:, 1] = axis == 0
    structure[1, :] = axis == 1
    structure[1, 1] = True
    labels, _ = ndimage.label(mask, structure=structure)
    return np.bincount(labels.ravel())[labels] * mask


def remove_lines(mask):
    """``mask`` without its lines (:func:`line_pixels`), strokes that crossed a line joined again.

    Returns (cleaned mask, removed): a line pixel is kept where ink continues on both sides
    of it, across the line (a closing across the line, as long as a line is thick, restores it),
    and where the ink across the line is at least twice as thick as the lines' median thickness
    for longer than a crossing line is wide: a stroke written along the line, such as a digit's
    base sitting on it.
    """
    from scipy import ndimage

    if max(mask.shape) < MIN_LINED_PAGE:  # a digit alone in a small image: its strokes span it
        return mask, np.zeros_like(mask)
    lines = line_pixels(mask)
    if not lines.any():
        return mask, np.zeros_like(mask)
    factor = max(1, -(-max(mask.shape) // LINE_SIDE))
    length = (MAX_LINE_WIDTH + 1) * factor + 2
    rest = mask & (lines == 0)
    restored = np.zeros_like(mask)
    for code, axis in ((1, 0), (2, 1)):
        on_line = (lines & code) > 0
        if on_line.any():
            closing = np.ones((length, 1) if axis == 0 else (1, length), bool)
            # ink on both sides of the line (a stroke crossing it), or ink much thicker across the line
            # than the lines are (a stroke running along it); the other direction's lines left out
            others = mask & ((lines & (3 - code)) == 0)
            runs = _run_lengths(others, axis)
            thickness = float(np.median(runs[on_line & others])) if (on_line & others).any() else 0.0
            along = on_line & others & (runs >= max(2 * thickness, thickness + 2))
            reach = int(2 * thickness) + 1  # ...for a stretch longer than a crossing line is wide
            along = ndimage.binary_opening(along, structure=np.ones((1, reach) if axis == 0 else (reach, 1), bool))
            restored |= (on_line & ndimage.binary_closing(rest, structure=closing)) | along
    cleaned = rest | restored
    if cleaned.sum() < LINES_ALONE * mask.sum():  # nothing but "lines": then they are the digit (a lone 1)
        return mask, np.zeros_like(mask)
    return cleaned, (lines > 0) & ~restored


# ----------------------------------------------------------------------------- 5. pieces

@dataclass
class Pieces:
    """Connected pieces of ink: ``labels`` (H, W) int32 (0 = paper) and, per piece k (index k-1),
    its area, its mass (sum of r), its box (top, left, bottom, right; bottom/right exclusive) and
    whether it touches the image's edge."""

    labels: np.ndarray
    area: np.ndarray
    mass: np.ndarray
    boxes: np.ndarray
    touches: np.ndarray  # per piece: whether it touches the image's edge

    def mask(self, keep):
        """(H, W) bool: the pixels of the pieces whose indices are in ``keep``."""
        table = np.zeros(len(self.area) + 1, bool)
        table[np.asarray(list(keep), dtype=np.intp) + 1] = True
        return table[self.labels]


def pieces(mask, ink):
    """The connected pieces (8-neighbourhood) of ``mask``, specks dropped (:class:`Pieces`)."""
    from scipy import ndimage

    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    index = np.arange(1, n + 1)
    area = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    speck = area < max(4, MIN_SPECK * mask.size)
    if speck.any():  # relabel without the specks
        table = np.zeros(n + 1, np.int32)
        table[index[~speck]] = np.arange(1, int((~speck).sum()) + 1)
        labels = table[labels]
        n = int((~speck).sum())
        index = np.arange(1, n + 1)
        area = area[~speck]
    mass = np.asarray(ndimage.sum_labels(ink, labels, index), dtype=np.float64) if n else np.zeros(0)
    boxes = np.array([[s[0].start, s[1].start, s[0].stop, s[1].stop] for s in ndimage.find_objects(labels)],
                     dtype=np.intp).reshape(n, 4)
    touches = (boxes[:, 0] == 0) | (boxes[:, 1] == 0) | (boxes[:, 2] == mask.shape[0]) | (boxes[:, 3] == mask.shape[1])
    return Pieces(labels.astype(np.int32, copy=False), area, mass, boxes, touches)


def _gap(box, boxes):
    """Distance (pixels, Chebyshev) from ``box`` to each of ``boxes``; 0 where they overlap."""
    dy = np.maximum(0, np.maximum(boxes[:, 0] - box[2], box[0] - boxes[:, 2]))
    dx = np.maximum(0, np.maximum(boxes[:, 1] - box[3], box[1] - boxes[:, 3]))
    return np.maximum(dy, dx)


def _stacked(box, boxes):
    """Whether each of ``boxes`` lies above or below ``box``, overlapping it horizontally by at least half
    the narrower one's width, within STACKED of its height: a 5's bar or a 7's top, the stroke between
    them too faint to join them."""
    overlap = np.minimum(boxes[:, 3], box[3]) - np.maximum(boxes[:, 1], box[1])
    narrower = np.minimum(boxes[:, 3] - boxes[:, 1], box[3] - box[1])
    gap = np.maximum(0, np.maximum(boxes[:, 0] - box[2], box[0] - boxes[:, 2]))
    return (overlap >= 0.5 * narrower) & (gap <= STACKED * (box[2] - box[0]))


def grow(found, start, allowed=None):
    """Indices of the pieces that belong with piece ``start``: repeatedly, those (among ``allowed``,
    a bool per piece) whose box lies within NEAR of the group's size from the group's box and
    that hold MIN_PART of its ink, or that lie straight above or below it (:func:`_stacked`) and
    hold STACKED_PART of its ink."""
    group = [start]
    box = found.boxes[start].copy()
    allowed = np.ones(len(found.mass), bool) if allowed is None else allowed
    while True:
        size = max(box[2] - box[0], box[3] - box[1])
        mass = found.mass[group].sum()
        near = (_gap(box, found.boxes) <= NEAR * size) & (found.mass >= MIN_PART * mass)
        near |= _stacked(box, found.boxes) & (found.mass >= STACKED_PART * mass)
        new = [k for k in np.flatnonzero(near & allowed) if k not in group]
        if not new:
            return group
        group += new
        box = np.concatenate([found.boxes[group, :2].min(0), found.boxes[group, 2:].max(0)])


def choose_digit(found):
    """Indices of the pieces that make the digit: the most massive piece and those near it.

    Pieces touching the image's edge are passed over if a piece clear of it holds at least
    INNER_SHARE of the heaviest one's ink: what runs along the edge is more often the table,
    the page's edge or a dim corner than the digit (unless the digit fills the image, as a
    tight crop does: then every piece touches the edge and the heaviest is chosen).
    """
    inner = ~found.touches
    if inner.any() and found.mass[inner].max() >= INNER_SHARE * found.mass.max():
        start = int(np.flatnonzero(inner)[np.argmax(found.mass[inner])])
        return grow(found, start, allowed=inner)
    return grow(found, int(np.argmax(found.mass)))


def group_digits(found, ink):
    """Digits in a row: a list of (piece indices, columns) left to right, columns (left, right) or None.

    Pieces that overlap horizontally by at least half the narrower one's width belong to one digit
    (the two strokes of a 4); a piece overlapping none joins the nearest group within NEAR of its
    size, or stands alone if it holds at least MIN_DIGIT of the heaviest group's ink (else it is a
    mark, dropped). A group wider than WIDE times its height holds several touching digits: it is
    cut at the columns of least ink near where equal-width digits would meet.
    """
    order = np.argsort(found.boxes[:, 1])
    groups = []
    for k in order:
        left, right = found.boxes[k, 1], found.boxes[k, 3]
        for group in groups:
            g_left, g_right = found.boxes[group, 1].min(), found.boxes[group, 3].max()
            overlap = min(right, g_right) - max(left, g_left)
            if overlap >= 0.5 * min(right - left, g_right - g_left):
                group.append(k)
                break
        else:
            groups.append([k])
    heaviest = max(found.mass[group].sum() for group in groups)
    digits = [group for group in groups if found.mass[group].sum() >= MIN_DIGIT * heaviest]
    for group in groups:  # small marks: with the nearest digit if close to it, else dropped
        if found.mass[group].sum() < MIN_DIGIT * heaviest:
            box = np.concatenate([found.boxes[group, :2].min(0), found.boxes[group, 2:].max(0)])
            gaps = [(_gap(box, found.boxes[d]).min(), d) for d in digits]
            gap, nearest = min(gaps, key=lambda item: item[0])
            size = max(np.ptp(found.boxes[nearest][:, [0, 2]]), np.ptp(found.boxes[nearest][:, [1, 3]]))
            if gap <= NEAR * size:
                nearest.extend(group)
    digits.sort(key=lambda group: found.boxes[group, 1].min())
    result = []
    for group in digits:
        result += _cut_wide(found, group, ink)
    return result


def _cut_wide(found, group, ink):
    """[(group, None)], or the group cut into n column ranges if it is more than WIDE times as wide as tall."""
    top, left = found.boxes[group, :2].min(0)
    bottom, right = found.boxes[group, 2:].max(0)
    height, width = bottom - top, right - left
    n = int(round(width / (DIGIT_ASPECT * height)))
    if width <= WIDE * height or n < 2:
        return [(group, None)]
    selected = found.mask(group)[top:bottom, left:right]
    profile = (ink[top:bottom, left:right] * selected).sum(axis=0)
    cuts = [0]
    for i in range(1, n):
        centre, reach = i * width // n, max(1, width // (4 * n))
        lo, hi = max(centre - reach, cuts[-1] + 1), min(centre + reach, width - 1)
        cuts.append(lo + int(np.argmin(profile[lo:hi + 1])) if hi >= lo else centre)
    cuts.append(width)
    return [(group, (left + a, left + b)) for a, b in zip(cuts[:-1], cuts[1:])]
