"""Data augmentation on the fly: random affine maps and elastic distortions of a batch of digits.

Each image gets one sampling grid s(p) that composes both (Simard, Steinkraus & Platt 2003,
"Best practices for convolutional neural networks applied to visual document analysis"):

    s(p) = c + M⁻¹ (p − c − t) + α·(G * U)(p)

p = (row, col) an output pixel, c = (13.5, 13.5) the centre of the 28×28 field (the point
(14, 14) of the pixel grid's corners, about which MNIST centres its digits), M = scale ·
rotation · shear the forward affine map about c, t a shift, and U a field of displacements
whose components are uniform in [−1, 1], smoothed by a Gaussian G of std σ and scaled by α
(the elastic distortion). The output pixel p takes the input's value at s(p) by bilinear
interpolation with zeros outside the field: ``scipy.ndimage.map_coordinates``' order=1, mode
"grid-constant", to float32 rounding (tests/test_augment.py checks it against that function).

Measured choices keep a batch cheap and let a background thread make it while the network
trains (bpnet.prefetch; scripts/bench_augment.py, B = 128, one BLAS thread, on a 2-core machine
loaded by other jobs, load average 8-11, so absolute times are inflated and noisy):

- Bilinear sampling in numpy, not by map_coordinates: 0.30-0.32 ms against 1.6-1.8 ms for
  map_coordinates on the same points. The batch is one flat float32 array of 30×30 tiles with
  zero borders; s(p) + 1 clamped to [0, 29] makes ⌊s(p)⌋ an index with no bounds checks that
  never reads a neighbouring tile and reads 0 beyond the field (as mode "grid-constant"). Four
  ``np.take`` gathers from the same int32 indices into views shifted by 1, 30 and 31, and an
  in-place lerp in reused buffers (:func:`bilinear`). Both release the GIL: scipy's C loop runs
  without it (another Python thread ran during one 130 ms call as fast as during np.sin, 10×
  as fast as during a call that holds it); "two threads took as long as one after the other"
  was the loaded machine, on which np.sin did the same.
- Coordinates in float32 relative to each tile (below 30, so within 2⁻²⁰ of float64's, 2e-6
  of a pixel's value), the tile's start added to the int32 index: on one tall image of all the
  tiles, float32 could not hold a fraction of a pixel at row 3840.
- The Gaussian smoothing is the exact linear map of ``gaussian_filter(U, (0, σ, σ))`` (mode
  "reflect") written as a 28×28 matrix S per axis, S U Sᵀ, done as stacks of 28×28 products:
  0.27 ms against 9.6 ms for gaussian_filter at σ = 6 (its kernel spans 49 taps for 28 pixels).
  Its noise from random bytes (see :meth:`Augmenter.elastic_field`), 0.08 ms against 0.26 ms.

A batch of 128 with affine maps and elastic distortions: 1.0-1.35 ms, from 6.8-7.1 ms.

An augmented digit stays inside the field: the shift is drawn uniformly from the shifts within
±``shift`` that keep the digit's ink (its bounding box, widened by the one pixel bilinear
interpolation reaches) inside the 28×28 field after the affine map, so the affine map alone
loses no ink. A digit that no shift can fit after rotation, scaling and shear (one already
filling the field, as Fashion-MNIST's clothes do; 1.5% of MNIST's at shift 2, rotate 15,
scale 0.1, shear 10, which lose 0.002% of all ink) gets the shift that centres its box, and
loses ink at the edges. The elastic field is left out of that bound: widening the box by its
largest displacement at the border (2-3 px at α = 34, σ = 4) left 93% of MNIST's digits no
shift at all. With it, at those maxima and α = 34, σ = 4, 0.5% of the ink of 1,000 MNIST
digits left the field (23% of digits lost some, one 26%); at α = 36, σ = 6, 0.2%.
"""

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .data import N_PIXELS, scale_rows
from .errors import ConfigError

SIDE = 28                       # the field is SIDE × SIDE pixels
TILE = SIDE + 2                 # each image in the batch image has a one-pixel zero border
CENTRE = (SIDE - 1) / 2         # 13.5: the centre of the field in pixel-centre coordinates


@dataclass
class AugmentConfig:
    """Random transforms of each training image; every field at 0 (the default) is no augmentation.

    Each draw is uniform in [−max, max] and independent per image. Simard et al. (2003) used
    affine maps and elastic distortions with α = 34, σ = 4 on MNIST; Cireşan et al. (2010,
    "Deep, big, simple neural nets for handwritten digit recognition") ±15° rotation, ±15-20%
    scaling and elastic α = 36-38, σ = 5-6.
    """

    shift: float = 0.0            # max shift in pixels, along each axis (limited so the digit stays in the field)
    rotate: float = 0.0           # max rotation in degrees, counter-clockwise positive, about the centre
    scale: float = 0.0            # max relative scaling: 0.1 scales by a factor in [0.9, 1.1], about the centre
    shear: float = 0.0            # max horizontal shear angle in degrees (x += tan(φ)·y), about the centre
    elastic_alpha: float = 0.0    # α: elastic displacement scale in pixels (Simard et al. 2003: 34); 0 is off
    elastic_sigma: float = 6.0    # σ: std in pixels of the Gaussian that smooths the displacement field

    @property
    def enabled(self):
        """False if every transform is the identity (then augmenting is scale_rows, bit for bit)."""
        return any((self.shift, self.rotate, self.scale, self.shear, self.elastic_alpha))

    def validate(self, section="augment"):
        """Raise :class:`ConfigError` naming ``section.field`` for a value out of type or range."""
        limits = {"shift": (0, SIDE / 2), "rotate": (0, 180), "scale": (0, 0.9), "shear": (0, 60),
                  "elastic_alpha": (0, 1000), "elastic_sigma": (0.1, 100)}
        for name, (low, high) in limits.items():
            value, key = getattr(self, name), f"{section}.{name}"
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (number and math.isfinite(value) and low <= value <= high):
                raise ConfigError(f"{key} must be a number in [{low}, {high}], got {value!r}", key=key)
        return self


class Warp(NamedTuple):
    """One batch's sampling grids: s(p) = M⁻¹ p + offset + field(p), p in (row, col) coordinates.

    M_inv (B, 2, 2), offset (B, 2) and field (2, B, 28, 28) float32 displacements or None.
    """

    M_inv: np.ndarray
    offset: np.ndarray
    field: "np.ndarray | None"


def affine_matrices(rotate, scale, shear):
    """Forward maps M = scale · R(rotate) · Shear(shear), (B, 2, 2), acting on (row, col) offsets.

    ``rotate`` and ``shear`` in degrees, arrays (B,) or scalars. Rows point down, so a
    counter-clockwise rotation by θ is [[cos θ, −sin θ], [sin θ, cos θ]] on (row, col);
    90° is ``np.rot90``. The shear moves each row right by tan(φ) × its offset below the centre.
    """
    theta, phi = np.radians(rotate), np.radians(shear)
    theta, phi, scale = np.broadcast_arrays(np.atleast_1d(theta), np.atleast_1d(phi), np.atleast_1d(scale))
    cos, sin, tan = np.cos(theta), np.sin(theta), np.tan(phi)
    M = np.empty(theta.shape + (2, 2))
    # R · [[1, 0], [tan φ, 1]]
    M[:, 0, 0], M[:, 0, 1] = cos - sin * tan, -sin
    M[:, 1, 0], M[:, 1, 1] = sin + cos * tan, cos
    return M * scale[:, None, None]


def invert(M):
    """The inverses of 2×2 matrices (B, 2, 2) in closed form."""
    a, b, c, d = M[:, 0, 0], M[:, 0, 1], M[:, 1, 0], M[:, 1, 1]
    inv = np.stack([np.stack([d, -b], -1), np.stack([-c, a], -1)], -2)
    return inv / (a * d - b * c)[:, None, None]


def warp_for(M, t, field=None):
    """The :class:`Warp` of forward maps M (B, 2, 2) about the centre and shifts t (B, 2)."""
    M_inv = invert(M)
    offset = CENTRE - np.einsum("bij,bj->bi", M_inv, CENTRE + np.asarray(t, dtype=float))
    return Warp(M_inv, offset, field)


def ink_boxes(images):
    """Each image's ink bounding box, (B, 4) as first row, last row, first col, last col.

    An image with no ink gets the whole field (it has nothing to lose at the edges).
    """
    # Counts of ink per row and column as float32 products with a vector of ones: 30 µs for a
    # batch of 128 against 110 µs for any(axis=...) over the short axes (exact: counts below 2²⁴).
    ink, ones = (images != 0).astype(np.float32), np.ones(SIDE, np.float32)
    rows, cols = (ink @ ones) != 0, (ones @ ink) != 0            # (B, 28) each
    boxes = np.empty((len(images), 4))
    boxes[:, 0] = rows.argmax(1)
    boxes[:, 1] = SIDE - 1 - rows[:, ::-1].argmax(1)
    boxes[:, 2] = cols.argmax(1)
    boxes[:, 3] = SIDE - 1 - cols[:, ::-1].argmax(1)
    empty = ~rows.any(1)
    boxes[empty] = (0, SIDE - 1, 0, SIDE - 1)
    return boxes


def shift_ranges(M, boxes, reach):
    """The shifts that keep each box inside the field after M: (low, high), each (B, 2).

    A box (B, 4) widened by ``reach`` (B, 2) pixels per axis is mapped by M about the centre;
    p = M(q − c) + c + t must stay in [−1, 28] per axis, since bilinear interpolation puts no
    weight on pixels a distance 1 or more away (so no ink lands beyond pixel −1 or 28).
    """
    lo = np.stack([boxes[:, 0] - reach[:, 0], boxes[:, 2] - reach[:, 1]], 1) - CENTRE      # (B, 2)
    hi = np.stack([boxes[:, 1] + reach[:, 0], boxes[:, 3] + reach[:, 1]], 1) - CENTRE
    a, b = M * lo[:, None, :], M * hi[:, None, :]                                           # (B, 2, 2)
    low_end = np.minimum(a, b).sum(2) + CENTRE
    high_end = np.maximum(a, b).sum(2) + CENTRE
    return -1.0 - low_end, SIDE - high_end


def smoothing_matrix(sigma, n=SIDE):
    """S (n, n), float32, with S @ u = gaussian_filter1d(u, sigma) (mode "reflect") for any u."""
    from scipy import ndimage          # here, not at the top: bpnet.config imports AugmentConfig, and
                                       # scipy.ndimage takes 0.3-0.6 s to import, every command
    return ndimage.gaussian_filter1d(np.eye(n), sigma, axis=0).astype(np.float32)


class Augmenter:
    """Applies random transforms (an :class:`AugmentConfig`) to batches of rows, reusing its buffers.

    ``augmenter(rows, rng, out)`` for rows (B, 784), uint8 (as bpnet keeps images) or floats
    already in [0, 1]; writes float32 (B, 784) into ``out``, scaled like ``data.scale_rows``.
    Not thread-safe: give each thread its own.
    """

    def __init__(self, config, capacity=128):
        self.config = config.validate() if isinstance(config, AugmentConfig) else AugmentConfig(**config).validate()
        self.capacity = 0
        S = smoothing_matrix(self.config.elastic_sigma)
        # The scaling of the noise folded into a product (see elastic_field): no pass over the field for it.
        self.S, self.S_alpha_T = S, np.ascontiguousarray(self.config.elastic_alpha / 128 * S.T, dtype=np.float32)
        self.pixels = np.arange(SIDE, dtype=float)
        self._grow(capacity)

    def _grow(self, n):
        """Buffers for batches of up to n images."""
        if n <= self.capacity:
            return
        self.capacity = n
        self.coords = np.empty((2, n, SIDE, SIDE), np.float32)           # s(p) + 1 in the tile, then its fractions
        self.whole = np.empty((2, n, SIDE, SIDE), np.float32)            # ⌊s(p) + 1⌋
        self.index = np.empty((n, SIDE, SIDE), np.int32)                 # flat index of the top-left tap
        self.taps = np.empty((3, n, SIDE, SIDE), np.float32)             # gathered values; [2] the fallback output
        self.noise = np.empty((2 * n, SIDE, SIDE), np.float32)
        self.field = np.empty((2 * n, SIDE, SIDE), np.float32)
        # The batch's images, each in a 30×30 tile with a zero border, flattened; TILE + 1 zeros more
        # so the taps right of and below the last tile's last pixel exist (they get weight 0).
        self.tiles = np.zeros(n * TILE * TILE + TILE + 1, np.float32)
        self.tile_starts = (np.arange(n, dtype=np.int32) * TILE * TILE)[:, None, None]

    def _tiles(self, images):
        """The batch's tiles, flattened, with ``images`` (n, 28, 28) copied in, scaled to [0, 1] if uint8."""
        n = len(images)
        flat = self.tiles[:n * TILE * TILE + TILE + 1]             # the borders (and the TILE + 1 after) stay 0
        inside = flat[:n * TILE * TILE].reshape(n, TILE, TILE)[:, 1:-1, 1:-1]
        if images.dtype == np.uint8:
            np.multiply(images, np.float32(1.0 / 255.0), out=inside)   # as scale_rows: exact conversion, one rounding
        else:
            np.copyto(inside, images, casting="same_kind")
        return flat

    def draw(self, images, rng):
        """This batch's random :class:`Warp` for images (B, 28, 28), from ``rng``.

        Draws, in this order: uniforms (5, B) for rotation, scale, shear and the two shifts,
        then, if α > 0, the field's random bytes: 2B · 784 / 4 uint32 (see :meth:`elastic_field`).
        """
        cfg, n = self.config, len(images)
        self._grow(n)
        u = rng.random((5, n))
        M = affine_matrices(cfg.rotate * (2 * u[0] - 1), 1 + cfg.scale * (2 * u[1] - 1), cfg.shear * (2 * u[2] - 1))
        field = self.elastic_field(rng, n) if cfg.elastic_alpha else None
        low, high = shift_ranges(M, ink_boxes(images), np.ones((n, 2)))
        a, b = np.maximum(low, -cfg.shift), np.minimum(high, cfg.shift)
        # A shift within ±shift that keeps the ink in, uniformly; else the one that centres it.
        t = np.where(a <= b, a + u[3:].T * (b - a), np.clip((low + high) / 2, -cfg.shift, cfg.shift))
        return warp_for(M, t, field)

    def elastic_field(self, rng, n):
        """α·(G * U): displacements (2, n, 28, 28) float32, U uniform in [−1, 1], G of std σ.

        U takes 256 levels, (2k + 1)/256 − 1 for a random byte k, not a continuous uniform: 8
        random bytes per 64 bits the generator makes instead of 2 float32s, 0.08 ms against 0.26 ms
        for a batch of 128, and the same mean and, within 2⁻¹⁶, variance (smoothing adds up
        hundreds of them). As S's rows sum to 1 (S 1 = 1), each component α S U Sᵀ is
        (S k)(α/128 · S)ᵀ − α·255/256: two stacks of 28×28 products and one subtraction. Not one
        (2n·28, 28) product: that one is large enough for OpenBLAS to wake its threads, 16 ms
        instead of 0.09 ms a batch on a loaded 2-core machine (each small one runs in this thread).
        """
        U, F = self.field[:2 * n], self.noise[:2 * n]
        k = rng.integers(0, 2 ** 32, size=U.size // 4, dtype=np.uint32)     # U.size = 2n · 784, a multiple of 4
        np.copyto(U, k.view(np.uint8).reshape(U.shape))
        np.matmul(self.S, U, out=F)
        np.matmul(F, self.S_alpha_T, out=U)
        U -= np.float32(self.config.elastic_alpha * 255 / 256)
        return U.reshape(2, n, SIDE, SIDE)

    def grid(self, warp, n):
        """Where each output pixel samples, in its image's tile: s(p) + 1 (the tile's border is
        row and column 0) clamped to [0, 29], float32 (2, n, 28, 28) as (row, col).

        Clamped to the tile's zero border, a point outside the field reads 0, as map_coordinates'
        mode "grid-constant" would, and never reads a neighbouring tile.
        """
        coords, p = self.coords[:, :n], self.pixels
        for k in range(2):
            # s_k(p) = M⁻¹[k, 0] row + (M⁻¹[k, 1] col + offset[k]): a sum of two (n, 28) terms, broadcast.
            along_rows = (warp.M_inv[:, k, 0, None] * p).astype(np.float32)
            along_cols = (warp.M_inv[:, k, 1, None] * p + (warp.offset[:, k, None] + 1.0)).astype(np.float32)
            s = coords[k]
            np.add(along_rows[:, :, None], along_cols[:, None, :], out=s)
            if warp.field is not None:
                s += warp.field[k]
            np.clip(s, 0.0, TILE - 1.0, out=s)
        return coords

    def apply(self, rows, warp, out=None):
        """Rows (B, 784) sampled on ``warp``'s grids, float32 (B, 784) in [0, 1], into ``out``.

        Bilinear interpolation with zeros outside the field: scipy.ndimage.map_coordinates'
        order=1, mode "grid-constant", in float32 (see the module's docstring for why not it).
        """
        n = len(rows)
        if out is None:
            out = np.empty((n, N_PIXELS), np.float32)
        direct = out.dtype == np.float32 and out.flags.c_contiguous
        result = out.reshape(n, SIDE, SIDE) if direct else self.taps[2, :n]
        bilinear(self._tiles(rows.reshape(n, SIDE, SIDE)), self.grid(warp, n), result,
                 self.whole[:, :n], self.index[:n], self.tile_starts[:n], self.taps[:2, :n])
        if not direct:
            np.copyto(out, result.reshape(n, N_PIXELS))
        return out

    def __call__(self, rows, rng, out=None):
        """Augmented rows: float32 (B, 784) in [0, 1], written into ``out`` if given.

        With every transform off, exactly ``scale_rows(rows, out)`` (and ``rng`` is not used).
        """
        if not self.config.enabled:
            if rows.dtype == np.uint8:
                return scale_rows(rows, out=out)
            if out is None:
                return rows.astype(np.float32)
            np.copyto(out, rows)
            return out
        return self.apply(rows, self.draw(rows.reshape(len(rows), SIDE, SIDE), rng), out)


def bilinear(flat, coords, out, whole, index, tile_starts, taps):
    """Bilinear samples of tiled images into ``out`` (n, 28, 28), float32 throughout.

    ``flat`` holds n tiles of TILE × TILE (zero borders) and TILE + 1 zeros after them;
    ``coords`` (2, n, 28, 28) are (row, col) within each tile in [0, TILE − 1], overwritten
    with their fractions. ``whole`` (2, n, 28, 28) float32, ``index`` (n, 28, 28) int32 and
    ``taps`` (2, n, 28, 28) float32 are work buffers; ``tile_starts`` (n, 1, 1) int32 is
    each tile's first index. With (r, c) = ⌊coords⌋, (f_r, f_c) the fractions and a, b, c, d
    the pixels at (r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1):

        out = (a + (b − a) f_c) + ((c + (d − c) f_c) − (a + (b − a) f_c)) f_r

    which is exactly a where the fractions are 0 (the identity map copies bit for bit).
    """
    np.floor(coords, out=whole)
    coords -= whole                                                   # the fractions f_r, f_c
    fr, fc = coords
    # (r · TILE + c) is an exact integer in float32 (at most 899); each tile's start added as int32.
    whole[0] *= TILE
    whole[0] += whole[1]
    np.copyto(index, whole[0], casting="unsafe")
    index += tile_starts
    # The four taps are one gather each from the same indices into views shifted by 1, TILE, TILE + 1.
    # mode="wrap" only because it is the fastest: every index is in range.
    top, bottom = taps
    flat.take(index, out=out, mode="wrap")
    flat[1:].take(index, out=top, mode="wrap")
    top -= out
    top *= fc
    out += top                                                        # a + (b − a) f_c
    flat[TILE:].take(index, out=bottom, mode="wrap")
    flat[TILE + 1:].take(index, out=top, mode="wrap")
    top -= bottom
    top *= fc
    bottom += top                                                     # c + (d − c) f_c
    bottom -= out
    bottom *= fr
    out += bottom
    return out
