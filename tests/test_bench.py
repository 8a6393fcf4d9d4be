"""scripts/bench.py in its smoke mode: it runs, trains for real and writes a well-formed report.

Only the structure and sanity of the numbers are checked, never how fast anything is.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


def positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_tiny_benchmark_writes_a_report(mnist_gz_dir, tmp_path):
    out = tmp_path / "tiny.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--no-torch", "--no-sklearn", "--workloads", "W1,W3",
         "--data-dir", str(mnist_gz_dir), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OPENBLAS_VERBOSE": "0"},       # recorded: OPENBLAS_* choose BLAS kernels
    )
    assert proc.returncode == 0, proc.stderr
    assert "| W1 " in proc.stdout and "| W3 " in proc.stdout          # the Markdown table

    report = json.loads(out.read_text())
    assert report["settings"]["threads"] == [1] and report["settings"]["tiny"] is True
    assert report["machine"]["cores"] >= 1 and report["machine"]["versions"]["numpy"]
    assert report["machine"]["openblas_environment"]["OPENBLAS_VERBOSE"] == "0"
    assert positive(report["gemm"]["1"]["peak_gflops"])

    runs = report["runs"]
    assert {(r["workload"], r["impl"]) for r in runs} == {("W1", "bpnet"), ("W3", "bpnet")}
    for run in runs:
        assert "error" not in run, run.get("error")
        assert run["epoch_seconds"] and all(positive(s) for s in run["epoch_seconds"])
        assert positive(run["rss_mb"])
        assert run["test_accuracy"] > 0.5

    rows = {row["workload"]: row for row in report["summary"]}
    assert set(rows) == {"W1", "W3"}
    for row in rows.values():
        assert row["threads"] == 1
        assert positive(row["bpnet"]["seconds_per_epoch"])
        for key in ("flops_per_epoch", "bpnet_gflops", "peak_gflops", "fraction_of_peak"):
            assert positive(row[key]), key
        assert row["torch"] is None and row["sklearn"] is None and row["ratio_bpnet_torch"] is None
        assert row["ratio_per_round"] == []
    assert report["w4"] == [] and report["rss_default_config"] is None


def test_flops_per_epoch_formula():
    spec = importlib.util.spec_from_file_location("bench", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # layer 1: forward + weight gradient (4·N·n0·n1); later layers also Wᵀ Δ (6·N·n_{l-1}·n_l)
    assert bench.flops_per_epoch((784, 128, 10), 1000) == 4 * 1000 * 784 * 128 + 6 * 1000 * 128 * 10
    assert bench.median_epoch_seconds([{"epoch_seconds": [9.0, 1.0, 3.0]}, {"epoch_seconds": [5.0]}]) == 3.0


def test_ratio_per_round_pairs_the_runs_of_each_round():
    spec = importlib.util.spec_from_file_location("bench", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    runs = [{"workload": "W1", "threads": 1, "repeat": r, "impl": impl, "epoch_seconds": [9.0, s]}
            for r, (b, t) in enumerate([(1.0, 2.0), (3.0, 4.0)]) for impl, s in (("bpnet", b), ("torch", t))]
    runs.append({"workload": "W1", "threads": 1, "repeat": 2, "impl": "bpnet", "error": "killed"})
    assert bench.round_ratios(runs, "W1", 1) == [0.5, 0.75]
    assert bench.spread({"ratio_per_round": [0.5, 0.75]}) == " (0.50–0.75)"
    assert bench.spread({"ratio_per_round": [0.5]}) == ""


@pytest.mark.parametrize("script, args, expect", [
    ("profile_step.py", ["--hidden", "16", "--steps", "3", "--warmup", "1", "--products"],
     ["784-16-10", "backward", "update", "of which matrix products"]),
    ("profile_step.py", ["--hidden", "16", "--steps", "3", "--warmup", "1", "--bare"],
     ["of which matrix products", "products alone, back to back", "GEMM peak"]),
    ("ab_fused_update.py", ["--hidden", "16", "--blocks", "2", "--steps", "2"], ["784-16-10", "paired: median"]),
    ("bench_augment.py", ["--no-batch", "--threads", "1", "--batches", "4", "--repeats", "1", "--gil-batches", "2"],
     ["BLAS threads 1", "ratio (b)/(a)", "(c)/(a)"]),
])
def test_the_profiling_scripts_run_on_the_products_api(mnist_gz_dir, script, args, expect):
    """They call Network and the optimisers the way Run.step does; an API change must not rot them."""
    proc = subprocess.run([sys.executable, str(SCRIPT.parent / script), *args, "--data-dir", str(mnist_gz_dir)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for text in expect:
        assert text in proc.stdout


def test_tiny_augmentation_overhead_is_measured_and_reported(mnist_gz_dir, tmp_path):
    """AUG trains W2's network without and with augmentation and reports their ratio (not its size)."""
    out = tmp_path / "aug.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--workloads", "AUG", "--aug-set", "rotate=10",
         "--aug-set", "elastic_alpha=0", "--data-dir", str(mnist_gz_dir), "--out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    from bpnet.config import load

    assert report["settings"]["augment"] == {**load("mnist-best").to_dict()["augment"], "rotate": 10,
                                             "elastic_alpha": 0}
    (record,) = report["augmentation"]
    assert "error" not in record, record.get("error")
    assert positive(record["plain_seconds"]) and positive(record["augmented_seconds"])
    assert record["ratio"] == record["augmented_seconds"] / record["plain_seconds"]
    assert record["test_accuracy"]["augmented"] > 0.5
    assert "| AUG 784-64-64-10" in proc.stdout and "augmented s/epoch" in proc.stdout


def test_predict_speed_times_a_process_and_reports_its_own_memory():
    spec = importlib.util.spec_from_file_location("predict_speed", SCRIPT.parent / "predict_speed.py")
    predict_speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(predict_speed)
    page = predict_speed.page(400, 300)
    assert page.size == (400, 300) and page.mode == "RGB"
    assert (page.getextrema()[0][0] < 100) and (page.getextrema()[0][1] > 150)  # a dark digit on light paper
    command = [sys.executable, "-c", "import sys; b = b'x' * (80 * 2**20); print('x: 7 (99.0%)'); sys.exit(3)"]
    out, error, code, rss = predict_speed.run(command)
    assert out.strip() == "x: 7 (99.0%)" and error == "" and code == 3
    assert 80 <= rss < 1000  # the child's own 80 MB buffer, not this test process's memory
