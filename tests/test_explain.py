"""bpnet.explain and bpnet.dryrun: the equations, their code, the counts, and `bpnet explain` / `train --dry-run`."""

import dataclasses
import importlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

from bpnet import blas, config, dryrun, optim
from bpnet.cli import cli
from bpnet.explain import explain, format_text, memory, pretty
from bpnet.network import Network, Workspace

SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹ᴸᵀᵗˡⁿ"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="bpnet")


def resolve(reference):
    """The object a code reference 'bpnet/network.py Network.forward' names."""
    path, name = reference.split(" ")
    obj = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


CONFIGS = [("mnist", []), ("sigmoid-mse", []), ("seed-fullbatch", []), ("fast", []),
           ("fashion-mnist", ["train.optimizer=adam"]),
           ("mnist", ["model.activation=tanh", "model.hidden=[30,20,10]", "train.optimizer=sgd",
                      "train.weight_decay=0.01"])]


@pytest.mark.parametrize("name, overrides", CONFIGS)
def test_every_equation_names_a_function_that_exists(name, overrides):
    facts = explain(config.load(name, overrides), name=name)
    references = [ref for section in ("forward", "backward", "update") for line in facts[section]
                  for ref in line["code"]]
    assert references and all(line["code"] for s in ("forward", "backward") for line in facts[s])
    for reference in references:
        assert reference.startswith("bpnet/") and callable(resolve(reference)), reference


def test_the_equations_of_a_three_layer_network():
    facts = explain(config.load("mnist"), name="mnist")
    assert facts["network"] == "784-256-128-10 relu, softmax + cross_entropy"
    forward = [(x["equation"], x["shapes"], x["code"]) for x in facts["forward"]]
    assert forward[0] == ("Z^1 = W^1 A^0 + b^1", "(256, N) = (256, 784)(784, N) + (256, 1)",
                          ["bpnet/network.py Network.forward"])
    assert forward[1] == ("A^1 = ReLU(Z^1)", "(256, N)", ["bpnet/network.py ReLU.forward"])
    assert len(forward) == 2 * 3 + 1                # Z per layer, A per hidden layer, the head's A and C
    backward = {x["equation"]: x for x in facts["backward"]}
    assert backward["Δ^3 = A^3 − Y"]["code"] == ["bpnet/network.py SoftmaxCrossEntropy.delta"]
    delta1 = backward["Δ^1 = (W^2)^T Δ^2 ⊙ ReLU'(Z^1)"]
    assert delta1["shapes"] == "(256, N) = (256, 128)(128, N) ⊙ (256, N)" and delta1["rule"] == "BP2"
    assert delta1["code"] == ["bpnet/network.py Network.backward", "bpnet/network.py ReLU.prime"]
    assert backward["∂C/∂W^1 = (1/N) Δ^1 (A^0)^T"]["shapes"] == "(256, 784) = (256, N)(N, 784)"
    assert "∂C/∂b^1 = (1/N) Σ_n Δ^1" in backward
    assert not any("Δ^0" in equation for equation in backward)       # the input needs no error
    update = [x["equation"] for x in facts["update"]]
    assert update[0] == "α_t = α_0 · ½(1 + cos(π t / T))"           # mnist.yaml: cosine, momentum
    assert "U^l ← μ (α/α') U^l + α ∂C/∂W^l" in update and "W^l ← W^l − U^l" in update
    assert facts["N"] == 128 and facts["batches_per_epoch"] == 430       # ⌈55000 / 128⌉


def test_the_sigmoid_quadratic_head_and_adam_with_weight_decay():
    facts = explain(config.load("sigmoid-mse", ["train.optimizer=adam", "train.weight_decay=0.001"]))
    equations = [x["equation"] for s in ("forward", "backward", "update") for x in facts[s]]
    assert "Δ^2 = (A^2 − Y) ⊙ σ'(Z^2)" in equations and "A^1 = σ(Z^1)" in equations
    assert "∂C/∂W^l ← ∂C/∂W^l + λ W^l" in equations
    assert "M̂ = M / (1 − β_1^t),  V̂ = V / (1 − β_2^t)" in equations
    assert facts["optimizer"] == "Adam" and facts["update"][0]["equation"] == "α = 3"


def test_an_optimiser_or_schedule_it_does_not_know_gets_a_generic_line(monkeypatch):
    class Lion(optim.Optimizer):
        def update(self, name, param, grad):
            param -= grad

    monkeypatch.setattr(optim, "make_optimizer", lambda t: Lion(t.lr))
    cfg = config.load("mnist")
    cfg.train = dataclasses.replace(cfg.train, schedule="warmup")
    facts = explain(cfg)
    update = facts["update"]
    assert update[0]["equation"] == "α_t = α(t)" and "warmup" in update[0]["shapes"]
    assert update[-1]["equation"] == "W^l ← Lion(W^l, ∂C/∂W^l)"
    assert update[-1]["code"] == [f"{__name__.replace('.', '/')}.py {Lion.update.__qualname__}"]
    assert "Lion" in format_text(facts)


def test_parameters_match_the_network_and_flops_match_the_products_it_runs(monkeypatch):
    cfg = config.load("mnist", ["model.hidden=[20,15]"])
    facts = explain(cfg, batch=7)
    network = Network.for_mnist(cfg.model).initialise("he", np.random.default_rng(0))
    assert facts["parameters"] == network.n_parameters() == sum(r["parameters"] for r in facts["layers"])
    # Count 2·m·k·n of every matrix product forward and backward actually compute, as profile_step.py
    # does; the column sums of ∂C/∂b and of the softmax (products with a vector) are elementwise work.
    counted, inside = {"flops": 0}, []

    def counting(function, count=True):
        def wrapper(A, B, *args, **kwargs):
            if inside:
                return function(A, B, *args, **kwargs)
            inside.append(1)
            try:
                if count and np.ndim(A) == np.ndim(B) == 2:
                    counted["flops"] += 2 * A.size * B.shape[1]
                return function(A, B, *args, **kwargs)
            finally:
                inside.pop()
        return wrapper

    monkeypatch.setattr(np, "matmul", counting(np.matmul))
    monkeypatch.setattr(blas, "gemm", counting(blas.gemm))
    monkeypatch.setattr(blas, "gemv", counting(blas.gemv, count=False))
    rng = np.random.default_rng(1)
    A0, Y = rng.random((784, 7), dtype=np.float32), np.eye(10, 7, dtype=np.float32)
    Z, A = network.forward(A0)
    assert counted["flops"] == 7 * facts["flops"]["forward_per_example"]
    counted["flops"] = 0
    network.backward(Z, A, Y)
    assert counted["flops"] == 7 * facts["flops"]["backward_per_example"]
    assert facts["flops"]["per_batch"] == 7 * (facts["flops"]["forward_per_example"]
                                               + facts["flops"]["backward_per_example"])


@pytest.mark.parametrize("name, gradients", [("sgd", True), ("momentum", False), ("adam", True)])
def test_memory_is_what_a_training_step_allocates(name, gradients):
    """Z, A, Δ as the workspace holds them, parameters, gradients and the optimiser's state arrays."""
    cfg = config.load("mnist", ["model.hidden=[12,9]", f"train.optimizer={name}", "train.dtype=float64"])
    network = Network.for_mnist(cfg.model, np.float64).initialise("he", np.random.default_rng(0))
    optimizer, workspace, params = optim.make_optimizer(cfg.train), Workspace(), network.parameters()
    rng = np.random.default_rng(0)
    A0, Y = rng.random((784, 5)), np.eye(10, 5)
    Z, A = network.forward(A0, workspace)
    grads, beta = optimizer.gradient_buffers(params)
    network.backward(Z, A, Y, workspace, scale=optimizer.gradient_scale,
                     out=([None, *grads[0::2]], [None, *grads[1::2]]), beta=beta)
    optimizer.step(params, grads, accumulated=True)
    held = memory(network.sizes, 5, "float64", optim.make_optimizer(cfg.train))["bytes"]
    for part, key in (("Z", "Z"), ("A", "A"), ("delta", "delta")):
        assert held[part] == sum(a.nbytes for (k, _, _), a in workspace.arrays.items() if k == key)
    assert held["parameters"] == sum(p.nbytes for _, p in params)
    state = sum(v.nbytes for k, v in optimizer.state.items() if k not in optim.SCALARS)
    assert held["optimizer_state"] == state
    assert held["gradients"] == (sum(g.nbytes for g in grads) if gradients else 0)
    assert held["input"] == (784 + 10) * 5 * 8 + 784 * 5
    assert held["total"] == sum(v for k, v in held.items() if k != "total")


def test_a_full_batch_is_counted_in_chunks():
    facts = explain(config.load("seed-fullbatch"))
    assert facts["N"] == 55000 and facts["batches_per_epoch"] == 1
    assert facts["memory"]["columns"] == 1024                   # bpnet.batches.CHUNK
    assert "taken in chunks of 1,024 columns" in format_text(facts)


def test_pretty_raises_and_lowers():
    assert pretty("Z^12 = W^12 A^11 + b^12") == "Z¹² = W¹² A¹¹ + b¹²"
    assert pretty("(W^3)^T Δ^3, β_1^t, Σ_n, A^3_in") == "(W³)ᵀ Δ³, β₁ᵗ, Σₙ, A³ᵢₙ"
    assert pretty("cross_entropy, x^y, Δ^L") == "cross_entropy, x^y, Δᴸ"      # nothing to raise in x^y


def test_text_uses_unicode_and_json_stays_plain():
    facts = explain(config.load("mnist"), name="mnist")
    text = format_text(facts)
    first = text.splitlines()[0]
    assert first.startswith("784-256-128-10 relu, softmax + cross_entropy") and "config mnist" in first
    assert "N = 128: examples in a batch" in text and "Δ¹ = (W²)ᵀ Δ² ⊙ ReLU'(Z¹)" in text
    assert "^" not in text
    plain = json.dumps([facts[s] for s in ("forward", "backward", "update", "legend")], ensure_ascii=False)
    assert not set(SUPERSCRIPTS) & set(plain)
    # The columns line up: every forward line's shapes start in the same column.
    rows = [line for line in text.splitlines() if line.startswith("  Z") or line.startswith("  A")]
    assert len({line.index("(", line.index("=") + 8) for line in rows if "Network.forward" in line}) == 1


def test_explain_command():
    result = invoke("explain", "--config", "sigmoid-mse", "--batch", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("784-100-10 sigmoid, sigmoid + mse") and "N = 1:" in result.stdout
    result = invoke("explain", "--set", "model.hidden=[5]", "--json")
    assert result.exit_code == 0
    facts = json.loads(result.stdout)
    assert facts["sizes"] == [784, 5, 10] and facts["config"] == "mnist"


@pytest.mark.parametrize("args, message", [
    (["--config", "nope"], "Error: nope: no such config file or shipped config"),
    (["--set", "train.lr=-1"], "Error: --set 'train.lr=-1': train.lr must be > 0, got -1"),
    (["--batch", "0"], "Error: Invalid value for '--batch'"),
])
def test_explain_refuses_bad_input(args, message):
    result = invoke("explain", *args)
    assert result.exit_code == 2 and result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1


# ----------------------------------------------------------------------------- dry run

def test_dry_run_facts_and_nothing_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BPNET_DATA_DIR", str(tmp_path / "no-data"))
    cfg = config.load("mnist", ["model.hidden=[16]", "data.validation=10000", "train.epochs=3"])
    facts = dryrun.dry_run(cfg, name="mnist", steps=4, warmup=1, min_seconds=0)
    assert facts["data"] == {"dataset": "mnist", "folder": str(tmp_path / "no-data"), "present": False,
                             "train": 50000, "validation": 10000, "of": 60000}
    assert facts["batch"]["per_epoch"] == 391 and facts["batch"]["last"] == 50000 - 390 * 128
    e = facts["estimate"]
    assert e["steps_timed"] == 4 and e["step_seconds"] > 0 and e["validations"] == 3
    assert e["training_seconds_per_epoch"] == pytest.approx(e["step_seconds"] * 50000 / 128)
    assert e["run_seconds"] == pytest.approx(3 * e["training_seconds_per_epoch"] + 3 * e["validation_seconds"])
    assert facts["flops_per_epoch"]["training"] == 50000 * (2 * 784 * 16 * 2 + 2 * 16 * 10 * 3)
    assert list(tmp_path.iterdir()) == []


def test_train_dry_run_command_writes_and_downloads_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BPNET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BPNET_MIRROR", "http://127.0.0.1:9/")          # a download would fail loudly
    monkeypatch.setattr(dryrun, "STEPS", 3)
    monkeypatch.setattr(dryrun, "MIN_SECONDS", 0.0)
    result = invoke("train", "--dry-run", "--set", "model.hidden=[8]", "--set", "train.log_every=5")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("Dry run: nothing is trained, written or downloaded.")
    assert "network  784-8-10 relu, softmax + cross_entropy: 6,370 parameters, float32" in out
    assert "(not there: training would download it)" in out
    assert "55,000 training examples (60,000 − 5,000 held out for validation)" in out
    assert "an estimate:" in out and "2 validation passes" in out           # epochs 5 and 10
    assert list(tmp_path.iterdir()) == []                   # no runs/, no data/, no config.yaml


def test_train_dry_run_refuses_bad_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("train", "--dry-run", "--config", "missing.yaml")
    assert result.exit_code == 2 and result.stderr.startswith("Error: missing.yaml: no such config file")
    result = invoke("train", "--dry-run", "--resume", "nowhere")
    assert result.exit_code == 2 and result.stderr == "Error: nowhere: no last.npz to resume from\n"
    assert list(tmp_path.iterdir()) == []
