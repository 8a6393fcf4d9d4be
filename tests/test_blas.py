"""blas.gemm: C ← AB + βC in every layout, through BLAS and through its numpy fallback."""

import sys

import numpy as np
import pytest

from bpnet import blas

LAYOUTS = [(a, b, c) for a in "CF" for b in "CF" for c in "CF"]


@pytest.fixture(autouse=True)
def found_blas_again():
    """_find caches what it found in a global; a test that fakes a piece must not leave it cached."""
    saved = blas._routines
    yield
    blas._routines = saved


@pytest.fixture(params=["blas", "numpy"])
def path(request, monkeypatch):
    """Run a test through the bound BLAS routine and again through the numpy fallback."""
    if request.param == "blas" and not blas.available():
        pytest.skip("numpy's OpenBLAS is not found on this platform")
    if request.param == "blas":
        monkeypatch.setattr(blas, "MIN_BLAS_SIZE", 0)          # these small products too
    if request.param == "numpy":
        monkeypatch.setattr(blas, "_routines", {})
    return request.param


def operands(dtype, orders, shape=(5, 7, 3), seed=0):
    rng = np.random.default_rng(seed)
    m, k, n = shape
    return [np.asarray(rng.normal(size=s), dtype, order=o) for s, o in zip([(m, k), (k, n), (m, n)], orders)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("orders", LAYOUTS)
@pytest.mark.parametrize("beta", [1.0, 0.9, -0.5])
def test_gemm_is_ab_plus_beta_c_in_every_layout(path, dtype, orders, beta):
    A, B, C = operands(dtype, orders)
    expected = A.astype(np.float64) @ B.astype(np.float64) + beta * C.astype(np.float64)
    out = blas.gemm(A, B, C, beta)
    assert out is C and C.dtype == dtype and C.flags[orders[2] + "_CONTIGUOUS"]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(C, expected, rtol=tol, atol=tol)


def test_beta_zero_overwrites_whatever_c_held():
    """β = 0 is numpy's matmul with out= on every path (no BLAS call is needed for it)."""
    A, B, C = operands(np.float32, "FCF")
    C[...] = np.nan
    blas.gemm(A, B, C, 0.0)
    np.testing.assert_allclose(C, A @ B, rtol=1e-6)


@pytest.mark.parametrize("beta", [0.0, 1.0, 0.5])
def test_gemv_with_a_vector_of_ones_sums_the_rows(beta):
    """The bias gradient's form: Δ (n, N), example-major, times 𝟙 (N,), into the column of db (n, 1)."""
    delta = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    db = np.full((3, 1), 10.0, np.float32)
    out = blas.gemv(delta, np.ones(4, np.float32), db[:, 0], beta)
    assert np.shares_memory(out, db)
    np.testing.assert_array_equal(db[:, 0], 10.0 * beta + np.array([6.0, 22.0, 38.0]))     # the row sums
    with pytest.raises(ValueError, match=r"\(3, 4\) @ \(3,\) do not give \(3,\)"):
        blas.gemv(delta, np.ones(3, np.float32), db[:, 0], beta)


def test_only_products_of_at_least_min_blas_size_entries_make_the_foreign_call(monkeypatch):
    """Below the threshold the call's own cost outweighs what it saves (see MIN_BLAS_SIZE)."""
    found = blas.available()                        # looked up before _call is faked
    calls = []
    monkeypatch.setattr(blas, "_call", lambda *args: calls.append(args[3].shape) or False)
    side = int(np.ceil(np.sqrt(blas.MIN_BLAS_SIZE)))
    for m in (side - 1, side):
        A, B, C = operands(np.float32, "CCC", shape=(m, 4, m))
        expected = A @ B + 0.9 * C
        np.testing.assert_allclose(blas.gemm(A, B, C, 0.9), expected, rtol=1e-5)
    assert calls == ([(side, side)] if found else [])


def test_strided_and_aliased_operands_give_the_right_answer(path):
    """Layouts BLAS cannot take (a strided view, C overlapping A) go through numpy instead."""
    A, B, C = operands(np.float64, "CCC", shape=(4, 4, 4))
    wide = np.zeros((4, 8))
    wide[:, ::2] = B
    expected = A @ B + 2 * C
    np.testing.assert_allclose(blas.gemm(A, wide[:, ::2], C, 2.0), expected, rtol=1e-12)
    square = A.copy()
    np.testing.assert_allclose(blas.gemm(square, B, square, 1.0), A @ B + A, rtol=1e-12)


def test_mismatched_shapes_are_refused():
    A, B, C = operands(np.float32, "CCC")
    with pytest.raises(ValueError, match=r"\(5, 7\) @ \(7, 3\) do not give \(3, 5\)"):
        blas.gemm(A, B, C.T, 1.0)


def test_other_dtypes_use_numpy():
    A, B, C = (np.arange(4).reshape(2, 2) for _ in range(3))
    np.testing.assert_array_equal(blas.gemm(A, B, C, 1), [[2, 4], [8, 14]])


def numpy_uses_scipy_openblas():
    blas_info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return blas_info.get("name") == "scipy-openblas" and "USE64BITINT" in blas_info.get("openblas configuration", "")


@pytest.mark.skipif(not sys.platform.startswith("linux") or not numpy_uses_scipy_openblas(),
                    reason="checks numpy's Linux wheels, which bundle scipy-openblas")
def test_numpys_own_openblas_is_found_where_its_wheels_bundle_it():
    """The fused momentum update is a speed feature: losing it must fail a test, not pass silently."""
    assert blas.available()
    assert set(blas._find()) == {np.dtype(np.float32), np.dtype(np.float64)}
