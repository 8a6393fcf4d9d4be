"""bpnet.augment: identity when off, determinism, each transform's geometry, digits kept in the field."""

import numpy as np
import pytest
from scipy import ndimage

from bpnet.augment import CENTRE, AugmentConfig, Augmenter, affine_matrices, ink_boxes, warp_for
from bpnet.data import scale_rows
from bpnet.errors import ConfigError

MAXIMA = dict(shift=2, rotate=15, scale=0.1, shear=10)           # the largest the docs suggest
ELASTIC = dict(elastic_alpha=34, elastic_sigma=4)                 # Simard et al. 2003


def digits(n, seed=0):
    """n synthetic centred 'digits' (n, 784) uint8: random strokes in a 20-row box of width 6-14."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    for k in range(n):
        width = int(rng.integers(6, 15))
        left = 14 - width // 2
        box = rng.integers(0, 256, (20, width)) * (rng.random((20, width)) < 0.5)
        images[k, 4:24, left:left + width] = box
        images[k, 4, left] = images[k, 23, left + width - 1] = 255        # the box is exactly 20 × width
    return images.reshape(n, 784)


def blob(offset, sigma=1.5):
    """A smooth Gaussian blob centred at CENTRE + offset, as one uint8 row (1, 784)."""
    y, x = np.mgrid[:28, :28]
    g = np.exp(-((y - CENTRE - offset[0]) ** 2 + (x - CENTRE - offset[1]) ** 2) / (2 * sigma ** 2))
    return np.round(255 * g).astype(np.uint8).reshape(1, 784)


def centre_of_mass(rows):
    """(B, 2) centres of mass, (row, col), relative to CENTRE."""
    images = rows.reshape(-1, 28, 28).astype(float)
    g = np.arange(28) - CENTRE
    mass = images.sum(axis=(1, 2))
    return np.stack([images.sum(2) @ g / mass, images.sum(1) @ g / mass], 1)


def identity(n):
    return warp_for(np.repeat(np.eye(2)[None], n, 0), np.zeros((n, 2)))


def render_outside(images, warp, pad=28):
    """The same warp on a field padded by ``pad`` on every side (the elastic field extended with
    its border values), by map_coordinates per image in mode grid-constant: (B, 28+2pad, 28+2pad)."""
    n = len(images)
    p = np.arange(-pad, 28 + pad, dtype=float)
    grids = (p[:, None], p[None, :])
    big = np.empty((n, 28 + 2 * pad, 28 + 2 * pad))
    for b in range(n):
        coords = [warp.M_inv[b, k, 0] * grids[0] + warp.M_inv[b, k, 1] * grids[1] + warp.offset[b, k]
                  for k in range(2)]
        if warp.field is not None:
            coords = [c + np.pad(warp.field[k, b], pad, mode="edge") for k, c in enumerate(coords)]
        big[b] = ndimage.map_coordinates(images[b].astype(float), coords, order=1, mode="grid-constant")
    return big


def map_coordinates_oracle(images, warp):
    """scipy's bilinear interpolation (order=1, zeros outside) of each image (B, 28, 28) at s(p),
    the warp's grid computed in float64: (B, 28, 28)."""
    p = np.arange(28, dtype=float)
    out = np.empty(images.shape)
    for b in range(len(images)):
        coords = [warp.M_inv[b, k, 0] * p[:, None] + warp.M_inv[b, k, 1] * p[None, :] + warp.offset[b, k]
                  for k in range(2)]
        if warp.field is not None:
            coords = [c + warp.field[k, b] for k, c in enumerate(coords)]
        out[b] = ndimage.map_coordinates(images[b].astype(float), coords, order=1, mode="grid-constant")
    return out


def test_bilinear_sampler_equals_map_coordinates_in_and_beyond_the_field():
    n = 24
    rows = digits(n, seed=6)
    rows.reshape(n, 28, 28)[:, [0, -1], :] = 200                      # ink on the edges, to interpolate towards 0
    rows.reshape(n, 28, 28)[:, :, [0, -1]] = 100
    images = rows.reshape(n, 28, 28)
    # Large maps send many points off the field (and off by less than a pixel, into the zero border).
    wild = Augmenter(AugmentConfig(shift=10, rotate=180, scale=0.6, shear=40, elastic_alpha=60, elastic_sigma=3),
                     capacity=n + 8)                                   # tiles beyond the batch stay unread
    warp = wild.draw(images, np.random.default_rng(7))
    expected = map_coordinates_oracle(images, warp) / 255
    assert (expected == 0).mean() > 0.2 and ((0 < expected) & (expected < 0.1)).any()
    np.testing.assert_allclose(wild.apply(rows, warp).reshape(n, 28, 28), expected, atol=1e-5, rtol=0)
    floats = rows / 255.0                                              # float64 input, float32 output
    np.testing.assert_allclose(wild.apply(floats, warp).reshape(n, 28, 28), expected, atol=1e-5, rtol=0)
    # Half-pixel and whole-pixel shifts up to and past the border, no elastic field. Tolerance: a float32
    # coordinate below 32 is within 2⁻²⁰ (1e-6) of its float64 value, and so is its fraction.
    shifts = np.array([[0.5, -0.5], [-27.5, 0], [0, 27.5], [28, 0], [-0.25, 27.75], [1e-3, -1e-3]])
    warp = warp_for(np.repeat(np.eye(2)[None], len(shifts), 0), shifts)
    np.testing.assert_allclose(wild.apply(rows[:6], warp).reshape(6, 28, 28),
                               map_coordinates_oracle(images[:6], warp) / 255, atol=3e-6, rtol=0)


def test_off_is_exactly_scale_rows():
    rows = digits(16)
    assert not AugmentConfig().enabled
    out = np.empty((16, 784), np.float32)
    result = Augmenter(AugmentConfig())(rows, np.random.default_rng(0), out)
    assert result is out and np.array_equal(out, scale_rows(rows))


def test_identity_warp_through_map_coordinates_is_exact():
    rows = digits(16)
    augmenter = Augmenter(AugmentConfig(rotate=1))
    assert np.array_equal(augmenter.apply(rows, identity(16)), scale_rows(rows))
    floats = scale_rows(rows)
    assert np.array_equal(augmenter.apply(floats, identity(16)), floats)


def test_same_generator_state_same_output_and_buffers_do_not_leak_between_batches():
    config = AugmentConfig(**MAXIMA, **ELASTIC)
    rows = digits(40)
    first = Augmenter(config, capacity=8)(rows, np.random.default_rng(5))        # grows its buffers
    reused = Augmenter(config, capacity=64)
    reused(digits(64, seed=1), np.random.default_rng(9))                          # a larger batch before
    assert np.array_equal(reused(rows, np.random.default_rng(5)), first)
    assert not np.array_equal(reused(rows, np.random.default_rng(6)), first)


def test_output_shape_dtype_range():
    rows = digits(32)
    rows.reshape(32, 28, 28)[:, 10:18, 10:18] = 255                               # saturated ink
    out = Augmenter(AugmentConfig(**MAXIMA, **ELASTIC))(rows, np.random.default_rng(0))
    assert out.shape == (32, 784) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1 and out.max() > 0.9


def test_shift_moves_the_centre_of_mass():
    rows = blob((0, 0))
    moved = Augmenter(AugmentConfig(shift=2)).apply(rows, warp_for(np.eye(2)[None], [(0.0, 2.0)]))
    np.testing.assert_allclose(centre_of_mass(moved) - centre_of_mass(rows), [[0, 2]], atol=1e-6)
    np.testing.assert_allclose(moved.reshape(28, 28)[:, 2:], scale_rows(rows).reshape(28, 28)[:, :-2])


def test_rotation_by_90_degrees_is_rot90():
    rows = digits(4)
    rotated = Augmenter(AugmentConfig(rotate=90)).apply(rows, warp_for(affine_matrices(90, 1, 0).repeat(4, 0),
                                                                       np.zeros((4, 2))))
    expected = np.rot90(scale_rows(rows).reshape(4, 28, 28), axes=(1, 2)).reshape(4, 784)
    np.testing.assert_allclose(rotated, expected, atol=1e-6)


def test_scale_and_shear_move_points_about_the_centre():
    rows = blob((3, -2))
    augmenter = Augmenter(AugmentConfig(scale=0.5))
    scaled = augmenter.apply(rows, warp_for(affine_matrices(0, 1.5, 0), np.zeros((1, 2))))
    np.testing.assert_allclose(centre_of_mass(scaled), [[4.5, -3]], atol=0.02)
    np.testing.assert_allclose(scaled.sum() / scale_rows(rows).sum(), 1.5 ** 2, rtol=0.01)   # area × s²
    sheared = augmenter.apply(blob((4, 0)), warp_for(affine_matrices(0, 1, 45), np.zeros((1, 2))))
    np.testing.assert_allclose(centre_of_mass(sheared), [[4, 4]], atol=0.02)                # x += tan φ · y


def test_draws_stay_within_the_maxima():
    n = 400
    augmenter = Augmenter(AugmentConfig(**MAXIMA), capacity=n)
    warp = augmenter.draw(digits(n).reshape(n, 28, 28), np.random.default_rng(1))
    M = np.linalg.inv(warp.M_inv)                                 # M = s·R(θ)·Sh(φ)
    s = np.sqrt(np.linalg.det(M))                                  # rotation and shear keep area
    theta = np.arctan2(-M[:, 0, 1], M[:, 1, 1])
    R = affine_matrices(np.degrees(theta), 1, 0)
    shear = np.degrees(np.arctan(np.linalg.solve(R, M / s[:, None, None])[:, 1, 0]))
    shift = np.einsum("bij,bj->bi", M, CENTRE - warp.offset) - CENTRE      # p = M(q − c) + c + t
    for values, limit in ((s - 1, 0.1), (np.degrees(theta), 15), (shear, 10), (shift, 2)):
        assert np.abs(values).max() <= limit + 1e-9 and np.abs(values).max() > 0.9 * limit


def rendered_with_surroundings(augmenter, rows, warp):
    """(big, inside): the warped digits rendered on a field three times as wide (render_outside) and its
    middle 28x28, checked to be what ``augmenter.apply`` gives."""
    n = len(rows)
    big = render_outside(rows.reshape(n, 28, 28), warp)
    inside = big[:, 28:56, 28:56]
    np.testing.assert_allclose(inside / 255, augmenter.apply(rows, warp).reshape(n, 28, 28), atol=1e-5)
    return big, inside


def test_affine_maxima_keep_a_centred_digit_entirely_in_the_field():
    n = 64
    rows = digits(n, seed=3)
    images = rows.reshape(n, 28, 28)
    augmenter = Augmenter(AugmentConfig(**MAXIMA), capacity=n)
    warp = augmenter.draw(images, np.random.default_rng(2))
    big, inside = rendered_with_surroundings(augmenter, rows, warp)
    outside = big.copy()
    outside[:, 28:56, 28:56] = 0
    assert inside.sum(axis=(1, 2)).min() > 0 and outside.max() == 0                # exactly no ink outside


def test_elastic_changes_the_digit_keeps_its_ink_and_loses_at_most_one_percent_of_it():
    n = 64
    rows = digits(n, seed=4)
    images = rows.reshape(n, 28, 28)
    elastic = Augmenter(AugmentConfig(**ELASTIC), capacity=n)
    warp = elastic.draw(images, np.random.default_rng(3))
    out = elastic.apply(rows, warp)
    assert np.abs(out - scale_rows(rows)).max() > 0.5
    # Elastic maps stretch some parts and squeeze others: the ink is kept on average.
    ink = out.sum(1) / scale_rows(rows).sum(1)
    assert abs(ink.mean() - 1) < 0.05 and np.abs(ink - 1).max() < 0.5, ink
    both = Augmenter(AugmentConfig(**MAXIMA, **ELASTIC), capacity=n)
    warp = both.draw(images, np.random.default_rng(4))
    big, inside = rendered_with_surroundings(both, rows, warp)
    # Not part of the shift's bound (see bpnet.augment): the edge-extended field carries 0.8% of
    # these digits' ink out of the field (real MNIST: 0.5%), none at all without it (test above).
    assert 0 < (big.sum() - inside.sum()) / big.sum() <= 0.01


def test_elastic_field_is_gaussian_filter_of_uniform_noise():
    augmenter = Augmenter(AugmentConfig(elastic_alpha=2, elastic_sigma=6), capacity=8)
    field = augmenter.elastic_field(np.random.default_rng(0), 8).copy()
    k = np.random.default_rng(0).integers(0, 2 ** 32, size=16 * 784 // 4, dtype=np.uint32).view(np.uint8)
    U = (2 * k.reshape(16, 28, 28).astype(float) + 1) / 256 - 1               # 256 levels in (−1, 1)
    expected = 2 * ndimage.gaussian_filter(U, (0, 6, 6))                       # by scipy's filter in float64
    np.testing.assert_allclose(field.reshape(16, 28, 28), expected, atol=1e-5)


def test_ink_boxes():
    images = np.zeros((2, 28, 28), np.uint8)
    images[0, 3:9, 5:20] = 1
    assert ink_boxes(images).tolist() == [[3, 8, 5, 19], [0, 27, 0, 27]]


@pytest.mark.parametrize("field, value", [("shift", -1), ("rotate", float("nan")), ("scale", 1.5),
                                          ("elastic_sigma", 0), ("shear", "10")])
def test_out_of_range_config_names_its_key(field, value):
    with pytest.raises(ConfigError, match=f"augment.{field} must be a number") as info:
        AugmentConfig(**{field: value}).validate()
    assert info.value.key == f"augment.{field}"
