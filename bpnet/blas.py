"""C ← AB + βC as one BLAS call: the accumulating matrix product numpy's matmul lacks.

With it the momentum update u ← μu + α ∂C/∂W is the weight gradient's own product
(BLAS GEMM computes C ← αAB + βC; here α is folded into Δ and β = μ), and the
optimiser is left one pass, W ← W − u, instead of three (see optim.Momentum). On
the 784-800-800-10 network that saved 0.45–0.72 ms of a 13–14 ms step at 1 thread and
0.48–0.65 ms of 8–10 ms at 2 threads (medians of paired differences in two runs of
scripts/ab_fused_update.py at each thread count).

numpy's own wheels carry OpenBLAS as "scipy-openblas" (64-bit integers, symbols
``scipy_cblas_sgemm64_``). This module calls GEMM in that very library, which numpy
has already loaded, so the call shares numpy's thread pool and thread setting. Where
numpy uses another BLAS, or the library is not found, or it fails a small check when
first used, :func:`gemm` gives the same result with two numpy operations instead.
"""

import ctypes
import glob
import os

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_routines = None            # {dtype: the C function} once looked for; {} if there is none


def _library_paths():
    """Where numpy's wheels put their OpenBLAS: numpy.libs (Linux, Windows), numpy/.dylibs (macOS)."""
    package = os.path.dirname(np.__file__)
    patterns = [os.path.join(package + ".libs", "*scipy_openblas64_*"),
                os.path.join(package, ".dylibs", "*scipy_openblas64_*")]
    return sorted(path for pattern in patterns for path in glob.glob(pattern))


def _bind(path):
    """{float32: sgemm, float64: dgemm} from the library at ``path``, or {} if it lacks them."""
    try:
        library = ctypes.CDLL(path)
        functions = {np.dtype(np.float32): (library.scipy_cblas_sgemm64_, ctypes.c_float),
                     np.dtype(np.float64): (library.scipy_cblas_dgemm64_, ctypes.c_double)}
    except (OSError, AttributeError):
        return {}
    routines = {}
    for dtype, (function, scalar) in functions.items():
        size, pointer = ctypes.c_int64, ctypes.c_void_p
        function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, size, size, size, scalar,
                             pointer, size, pointer, size, scalar, pointer, size]
        function.restype = None
        routines[dtype] = function
    return routines


def _works(routines):
    """Whether each bound GEMM gives numpy's answer on small products in every layout used."""
    rng = np.random.default_rng(0)
    for dtype in routines:
        for order_a, order_b, order_c in [("C", "C", "C"), ("F", "C", "F"), ("C", "F", "C")]:
            A = np.asarray(rng.normal(size=(3, 4)), dtype, order=order_a)
            B = np.asarray(rng.normal(size=(4, 5)), dtype, order=order_b)
            C = np.asarray(rng.normal(size=(3, 5)), dtype, order=order_c)
            expected = A @ B + 0.5 * C
            if not _call(routines[dtype], A, B, C, 0.5) or not np.allclose(C, expected, rtol=1e-4, atol=1e-5):
                return False
    return True


def _find():
    global _routines
    if _routines is None:
        _routines = {}
        for path in _library_paths():
            routines = _bind(path)
            if routines and _works(routines):
                _routines = routines
                break
    return _routines


def available():
    """Whether :func:`gemm` calls BLAS directly (otherwise it uses numpy, with the same result)."""
    return bool(_find())


def _operand(X):
    """(transpose flag, leading dimension) of a contiguous matrix for a row-major GEMM, or None."""
    if X.flags.c_contiguous:
        return _NO_TRANS, X.shape[1]
    if X.flags.f_contiguous:
        return _TRANS, X.shape[0]
    return None


def _call(function, A, B, C, beta):
    """C ← AB + βC through ``function``; False (C untouched) for a layout it cannot take."""
    if not C.flags.c_contiguous:
        if not C.flags.f_contiguous:
            return False
        A, B, C = B.T, A.T, C.T                 # Cᵀ ← BᵀAᵀ + βCᵀ, with Cᵀ row-major
    a, b = _operand(A), _operand(B)
    if a is None or b is None or min(C.shape + A.shape[1:]) == 0 or not C.flags.writeable:
        return False
    (M, K), N = A.shape, B.shape[1]
    function(_ROW_MAJOR, a[0], b[0], M, N, K, 1.0, A.ctypes.data, max(a[1], 1),
             B.ctypes.data, max(b[1], 1), beta, C.ctypes.data, max(N, 1))
    return True


# Below this many entries of C, numpy's matmul and two passes over C are quicker than the
# foreign call, which costs about 10 µs in Python and ctypes alone (measured: a 128 × 10 C
# took 36 µs through BLAS and 20 µs through numpy; 784 × 128 took 307 and 334 µs).
MIN_BLAS_SIZE = 65536


def gemm(A, B, C, beta):
    """C ← AB + βC in place, and returns C. A (m, k), B (k, n), C (m, n), one float dtype.

    β = 0 overwrites C (whatever it held, NaN included); β = 1 adds AB to it.
    """
    if A.shape[1] != B.shape[0] or C.shape != (A.shape[0], B.shape[1]):
        raise ValueError(f"gemm: shapes {A.shape} @ {B.shape} do not give {C.shape}")
    if beta == 0:
        return np.matmul(A, B, out=C)
    function = _find().get(C.dtype) if A.dtype == B.dtype == C.dtype and C.size >= MIN_BLAS_SIZE else None
    if function is None or np.may_share_memory(C, A) or np.may_share_memory(C, B) \
            or not _call(function, A, B, C, beta):
        _accumulate(A @ B, C, beta)
    return C


def gemv(A, x, y, beta):
    """y ← Ax + βy in place, and returns y. A (m, n), x (n,), y (m,).

    Only through numpy: y is a bias-sized vector, for which a foreign call costs more than
    the passes it would save.
    """
    if A.shape[1:] != x.shape or y.shape != A.shape[:1]:
        raise ValueError(f"gemv: shapes {A.shape} @ {x.shape} do not give {y.shape}")
    if beta == 0:
        return np.matmul(A, x, out=y)
    return _accumulate(A @ x, y, beta)


def _accumulate(product, out, beta):
    """out ← product + β·out."""
    if beta != 1:
        out *= out.dtype.type(beta)
    out += product
    return out
