"""Time each matrix product of a training step in each memory layout (the measurement behind network.py).

Activations Z, A, Δ are (n_l, N) and stored example-major (order "F"). The script
times, for each layer shape, the forward product Zᵀ = Aᵀ Wᵀ with W stored output-major
("WC") or input-major ("WF"), the weight gradient as Δ Aᵀ into a C array or as
(A Δᵀ)ᵀ into an F array, and the backward product Δᵀ W. Best of n runs, in ms.

    OPENBLAS_NUM_THREADS=2 python scripts/gemm_layouts.py
"""

import time

import numpy as np

SHAPES = [(784, 128, 128), (784, 800, 128), (800, 800, 128), (128, 10, 128), (784, 10, 55000)]


def best_ms(f, n):
    f()
    best = float("inf")
    for _ in range(n):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main():
    rng = np.random.default_rng(0)
    for n_in, n_out, N in SHAPES:
        repeats = 5 if N > 1000 else 50
        A = rng.random((N, n_in), dtype=np.float32).T                       # (n_in, N), example-major
        delta = np.asfortranarray(rng.random((n_out, N), dtype=np.float32))
        W_c = rng.random((n_out, n_in), dtype=np.float32)
        W_f = np.asfortranarray(W_c)
        Z = np.empty((n_out, N), np.float32, order="F")
        previous = np.empty((n_in, N), np.float32, order="F")
        dW_c = np.empty((n_out, n_in), np.float32)
        dW_f = np.empty((n_out, n_in), np.float32, order="F")
        times = {
            "forward WC": best_ms(lambda: np.matmul(A.T, W_c.T, out=Z.T), repeats),
            "forward WF": best_ms(lambda: np.matmul(A.T, W_f.T, out=Z.T), repeats),
            "dW = ΔAᵀ (C)": best_ms(lambda: np.matmul(delta, A.T, out=dW_c), repeats),
            "dWᵀ = AΔᵀ (F)": best_ms(lambda: np.matmul(A, delta.T, out=dW_f.T), repeats),
            "ΔᵀW, WC": best_ms(lambda: np.matmul(delta.T, W_c, out=previous.T), repeats),
            "ΔᵀW, WF": best_ms(lambda: np.matmul(delta.T, W_f, out=previous.T), repeats),
        }
        print(f"n_in {n_in:4} n_out {n_out:4} N {N:6}  " + "  ".join(f"{k} {v:8.3f}" for k, v in times.items()))


if __name__ == "__main__":
    main()
