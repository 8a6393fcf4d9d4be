"""The ``bpnet`` command, invoked in-process with click's CliRunner.

Every test runs in its own temporary folder (so ``runs/`` lands there) with the
network unreachable: $BPNET_MIRROR and every built-in mirror are refused local
ports. Real MNIST is used only where a test is about training or real files.
"""

import dataclasses
import functools
import gzip
import http.server
import json
import os
import re
import shutil
import socket
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from bpnet import checkpoint, data
from bpnet import config as config_module
from bpnet import download as download_module
from bpnet.cli import UNSURE_BELOW, cli
from bpnet.config import from_dict
from bpnet.network import Network
from bpnet.runs import read_metrics

# CI gives the real data as a relative $BPNET_DATA_DIR, meant from where pytest starts;
# these tests change folder, so they resolve it against that starting folder.
INVOCATION_DIR = Path.cwd()
COMMANDS = ["download", "train", "eval", "predict", "plot", "gradcheck", "explain", "info"]
# Large batches: few BLAS calls, so a busy machine slows the real-data runs down least.
TINY_TRAIN = ["--set", "data.validation=1000", "--set", "train.epochs=1", "--set", "model.hidden=[16]",
              "--set", "train.batch_size=1000"]


# ----------------------------------------------------------------------------- helpers

def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="bpnet")


def explain(result):
    """Everything worth seeing when an assertion about a CLI result fails."""
    exc = "" if result.exception is None or isinstance(result.exception, SystemExit) else repr(result.exception)
    return (f"\n--- exit code {result.exit_code} {exc}\n--- stdout\n{result.stdout}"
            f"--- stderr\n{result.stderr}---")


def check(result, code, *expected, stream="stderr"):
    """Assert the exit code, that each expected snippet is in ``stream``, and that nothing crashed."""
    text = getattr(result, stream)
    assert result.exit_code == code, explain(result)
    for snippet in expected:
        assert snippet in text, f"{snippet!r} not in {stream}" + explain(result)
    assert "Traceback" not in result.stdout + result.stderr, explain(result)
    if code != 0:   # a handled error, not an exception escaping click
        assert result.exception is None or isinstance(result.exception, SystemExit), explain(result)
    return result


def error_line(result, code):
    """The one-line ``Error: …`` message of a failed command (nothing else on stderr)."""
    check(result, code)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), explain(result)
    return lines[0]


def refused_url():
    """A URL on a port that is bound but not listening: connecting is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}/"


@pytest.fixture(autouse=True)
def sandbox(tmp_path, monkeypatch):
    """A fresh cwd; no data folder; every mirror refused; download retries without waiting."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BPNET_DATA_DIR", str(tmp_path / "no-data-here"))
    monkeypatch.setenv("BPNET_MIRROR", "http://127.0.0.1:9/")
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setitem(download_module.download.__kwdefaults__, "backoff", 0.0)
    sockets, mirrors = [], {}
    for name, dataset in data.DATASETS.items():
        sock, url = refused_url()
        sockets.append(sock)
        mirrors[name] = url
        monkeypatch.setitem(data.DATASETS, name, dataclasses.replace(dataset, mirrors=(url,)))
    yield SimpleNamespace(mirrors=mirrors)
    for sock in sockets:
        sock.close()


def absolute(path):
    return (INVOCATION_DIR / path).resolve()


@pytest.fixture
def real(mnist_gz_dir):
    return absolute(mnist_gz_dir)


def tiny_checkpoint(path, hidden=(3,), meta=None, **data_config):
    config = from_dict({"model": {"hidden": list(hidden)}, "data": {"validation": 1000, **data_config}})
    network = Network([784, *hidden, 10]).initialise("he", np.random.default_rng(0))
    checkpoint.save(path, network, config, meta={"epoch": 1, **(meta or {})})
    return path


def real_test_split(real):
    mnist = data.DATASETS["mnist"]
    arrays = [data.parse_idx(data.read_verified(real / (name + ".gz"), name, mnist), name, ndim)
              for name, ndim in ((data.TEST_IMAGES, 3), (data.TEST_LABELS, 1))]
    return data.Split(*arrays)


# ----------------------------------------------------------------------------- version and help

def test_version():
    from bpnet import __version__

    result = check(invoke("--version"), 0, f"bpnet, version {__version__}", stream="stdout")
    assert result.stdout.strip() == f"bpnet, version {__version__}"


def test_group_help():
    result = check(invoke("--help"), 0, "Example", "--debug", *COMMANDS, stream="stdout")
    assert result.stderr == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_shows_defaults_and_an_example(command):
    result = check(invoke(command, "--help"), 0, "default:", "Example", stream="stdout")
    first = result.stdout.splitlines()[0]
    assert first.startswith("Usage: ") and f" {command} " in first, first


@pytest.mark.parametrize("args, expected", [
    (["fly"], "Error: No such command 'fly'. (see 'bpnet --help')"),
    (["--fly"], "Error: No such option '--fly'. (see 'bpnet --help')"),
    (["predict", "x.png", "--top", "11"],
     "Error: Invalid value for '--top': 11 is not in the range 1<=x<=10. (see 'bpnet predict --help')"),
    (["eval"], "Error: Missing argument 'CHECKPOINT'. (see 'bpnet eval --help')"),
    (["train", "--zzz"], "Error: No such option '--zzz'. (see 'bpnet train --help')"),
    (["train", "--set"], "Error: Option '--set' requires an argument."),
])
def test_bad_usage_is_one_line_and_exit_2(args, expected):
    assert error_line(invoke(*args), 2) == expected


def test_bpnet_alone_shows_the_help():
    result = invoke()
    assert "Usage: bpnet" in result.stdout + result.stderr and "Example" in result.stdout + result.stderr


# ----------------------------------------------------------------------------- train: bad config

def test_train_with_malformed_config(tmp_path):
    (tmp_path / "bad.yaml").write_text("train:\n  lr: [0.1\nmodel: {}\n")
    line = error_line(invoke("train", "--config", "bad.yaml"), 2)
    assert re.fullmatch(r"Error: bad\.yaml: not valid YAML at line \d+, column \d+", line), line
    assert not (tmp_path / "runs").exists()


def test_train_with_unknown_key(tmp_path):
    (tmp_path / "typo.yaml").write_text("train:\n  epoch: 3\n")
    line = error_line(invoke("train", "--config", "typo.yaml"), 2)
    assert line.startswith("Error: typo.yaml: unknown key train.epoch; expected one of")


def test_train_set_out_of_range():
    line = error_line(invoke("train", "--set", "train.lr=-1"), 2)
    assert line == "Error: --set 'train.lr=-1': train.lr must be > 0, got -1"


def test_train_malformed_set():
    line = error_line(invoke("train", "--set", "train.lr"), 2)
    assert "expected section.key=value" in line


def test_train_missing_config_lists_shipped_ones():
    line = error_line(invoke("train", "--config", "nope"), 2)
    assert line.startswith("Error: nope: no such config file or shipped config (shipped: ")
    assert "mnist" in line


def test_train_resume_without_a_run():
    line = error_line(invoke("train", "--resume", "runs/nothing"), 2)
    assert "no last.npz to resume from" in line


def test_gradcheck_bad_config_is_exit_2():
    line = error_line(invoke("gradcheck", "--set", "model.hidden=[0]"), 2)
    assert "model.hidden must be a list of integers in [1, 1,000,000]" in line


@pytest.mark.parametrize("tolerance", ["nan", "inf", "-1"])
def test_gradcheck_refuses_a_tolerance_that_cannot_fail_or_pass(tolerance):
    line = error_line(invoke("gradcheck", "--tolerance", tolerance), 2)
    assert "--tolerance must be a finite number >= 0" in line


# ----------------------------------------------------------------------------- train: bad data

def test_train_with_no_data_and_no_network(tmp_path, sandbox):
    result = check(invoke("train", *TINY_TRAIN, "--data-dir", "data/mnist"), 1,
                   "Error: could not download train-images-idx3-ubyte.gz from any mirror:")
    reasons = result.stderr.splitlines()[1:]
    assert reasons == [
        "  http://127.0.0.1:9/train-images-idx3-ubyte.gz: connection refused (3 attempts)",
        f"  {sandbox.mirrors['mnist']}train-images-idx3-ubyte.gz: connection refused (3 attempts)",
    ], explain(result)
    assert not (tmp_path / "data").exists()                   # nothing half-downloaded, no empty folders
    assert not (tmp_path / "runs").exists()                    # no run folder for a run that never started


def copy_real_files(real, folder):
    """Copy the four real .gz files into a new ``folder``; it."""
    folder.mkdir()
    for name in data.FILES:
        shutil.copyfile(real / (name + ".gz"), folder / (name + ".gz"))
    return folder


@pytest.fixture
def data_copy(real, tmp_path):
    """A writable copy of the real files in tmp_path/d."""
    return copy_real_files(real, tmp_path / "d")


def test_train_with_truncated_gz(data_copy):
    path = data_copy / (data.TRAIN_LABELS + ".gz")
    path.write_bytes(path.read_bytes()[:1000])
    line = error_line(invoke("train", *TINY_TRAIN, "--data-dir", data_copy), 2)
    assert line.startswith(f"Error: {path}: not a complete gzip file"), line
    assert len(path.read_bytes()) == 1000                       # reported, left alone


def test_train_with_short_images_file(data_copy):
    path = data_copy / (data.TRAIN_IMAGES + ".gz")
    path.write_bytes(gzip.compress(bytes(1200)))
    line = error_line(invoke("train", *TINY_TRAIN, "--data-dir", data_copy), 2)
    assert line == f"Error: {path}: expected 47040016 bytes, got 1200"


def test_train_with_one_file_missing_tries_to_download_it(data_copy, tmp_path):
    (data_copy / (data.TEST_LABELS + ".gz")).unlink()
    before = {p.name: p.read_bytes() for p in data_copy.iterdir()}
    check(invoke("train", *TINY_TRAIN, "--data-dir", data_copy), 1,
          "Error: could not download t10k-labels-idx1-ubyte.gz from any mirror:",
          "127.0.0.1:9/t10k-labels-idx1-ubyte.gz: connection refused")
    assert {p.name: p.read_bytes() for p in data_copy.iterdir()} == before   # nothing lost or added
    assert not (tmp_path / "runs").exists()


def test_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = invoke("train", *TINY_TRAIN, "--data-dir", "afile")
    assert result.exit_code == 2, explain(result)
    assert "afile" in result.stderr and "Traceback" not in result.stderr


# ----------------------------------------------------------------------------- eval and predict: bad input

def test_eval_missing_checkpoint():
    assert error_line(invoke("eval", "nope.npz"), 2) == "Error: nope.npz: no such checkpoint"


def test_eval_tampered_checkpoint(tmp_path):
    path = tiny_checkpoint(tmp_path / "c.npz")
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["W1"] = np.zeros((10, 783), np.float32)
    np.savez(path, **arrays)
    line = error_line(invoke("eval", "c.npz"), 2)
    assert line.startswith("Error: c.npz: W1 (10, 783) and b1 (3, 1) do not match the layer sizes 784-3-10")


def test_eval_text_file(tmp_path):
    (tmp_path / "c.npz").write_text("hello")
    assert error_line(invoke("eval", "c.npz"), 2).startswith("Error: c.npz: not a .npz checkpoint")


def digit_png(path):
    from PIL import Image

    pixels = np.zeros((28, 28), np.uint8)
    pixels[6:22, 12:16] = 255            # a one
    Image.fromarray(pixels).save(path)
    return path


def huge_weights_checkpoint(path, source):
    """``source``'s network with weights finite but so large that its outputs overflow."""
    ckpt = checkpoint.load(source)
    for W in ckpt.network.W[1:]:
        W *= np.float32(1e37)
    checkpoint.save(path, ckpt.network, ckpt.config, meta=ckpt.meta)
    return path


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["train", "--help"],
                                  ["predict", "good.png", "--checkpoint", "c.npz"]])
def test_a_reader_that_went_away_gives_141_and_nothing_on_stderr(tmp_path, args):
    """stdout is a pipe whose reading end is already closed, so the first write fails (EPIPE)."""
    import subprocess
    import sys

    tiny_checkpoint(tmp_path / "c.npz")
    digit_png(tmp_path / "good.png")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "bpnet", *args], cwd=tmp_path, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr == "", proc.stderr


def test_debug_shows_the_traceback():
    result = invoke("--debug", "eval", "nope.npz")
    assert result.exit_code == 2, explain(result)
    assert "Traceback" in result.stderr and "CheckpointError" in result.stderr
    assert result.stderr.rstrip().endswith("Error: nope.npz: no such checkpoint")


# ----------------------------------------------------------------------------- the data folder's precedence

@pytest.mark.parametrize("where", ["flag", "env", "recorded", "config", "cwd"])
def test_eval_finds_data_by_precedence(tmp_path, monkeypatch, real, where):
    """--data-dir > $BPNET_DATA_DIR > the folder the checkpoint's run read > its config's data.dir > ./data;
    the others point nowhere."""
    nowhere = str(tmp_path / "nowhere")
    config_dir = str(real) if where == "config" else nowhere
    empty = tmp_path / "recorded-but-empty"                  # exists, so it would be used (and downloaded into)
    empty.mkdir()
    recorded = {"data_dir": str(real) if where == "recorded" else str(empty)}
    tiny_checkpoint(tmp_path / "c.npz", meta=recorded if where in ("flag", "env", "recorded") else None,
                    dir=config_dir)
    args = ["eval", "c.npz", "--json"]
    if where == "flag":
        args += ["--data-dir", real]
    if where == "env":
        monkeypatch.setenv("BPNET_DATA_DIR", str(real))
    elif where in ("recorded", "config", "cwd"):
        monkeypatch.delenv("BPNET_DATA_DIR")
    if where == "cwd":
        tiny_checkpoint(tmp_path / "c.npz")          # no data.dir in the config at all
        (tmp_path / "data").symlink_to(real, target_is_directory=True)
    result = check(invoke(*args), 0)
    assert json.loads(result.stdout)["n"] == 10000
    assert not Path(nowhere).exists() and not any(empty.iterdir())            # nothing was downloaded anywhere


# ----------------------------------------------------------------------------- download

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_mirror(tmp_path, real):
    """A local HTTP server over a copy of the real MNIST files; ``stop()`` takes it down."""
    root = copy_real_files(real, tmp_path / "mirror")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    stopped = []

    def stop():
        if not stopped:
            server.shutdown()
            server.server_close()
            stopped.append(True)

    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}/", root=root, stop=stop)
    stop()


def test_download_from_a_local_mirror(http_mirror, monkeypatch, tmp_path, real):
    monkeypatch.setenv("BPNET_MIRROR", http_mirror.url)
    result = check(invoke("download", "--data-dir", "fetched", "-q"), 0,
                   "mnist: 4 files verified in fetched", stream="stdout")
    assert result.stderr == ""
    assert sorted(os.listdir(tmp_path / "fetched")) == sorted(name + ".gz" for name in data.FILES)
    for name in data.FILES:
        assert (tmp_path / "fetched" / (name + ".gz")).read_bytes() == (real / (name + ".gz")).read_bytes()
    # A second run finds everything in place even with the mirror gone.
    http_mirror.stop()
    check(invoke("download", "--data-dir", "fetched"), 0, "4 files verified", stream="stdout")


def test_download_with_the_server_down(http_mirror, monkeypatch, tmp_path, sandbox):
    http_mirror.stop()
    monkeypatch.setenv("BPNET_MIRROR", http_mirror.url)
    result = check(invoke("download", "--data-dir", "fetched"), 1,
                   "Error: could not download train-images-idx3-ubyte.gz from any mirror:",
                   f"  {http_mirror.url}train-images-idx3-ubyte.gz: connection refused",
                   f"  {sandbox.mirrors['mnist']}train-images-idx3-ubyte.gz: connection refused")
    assert len(result.stderr.splitlines()) == 3, explain(result)
    assert not (tmp_path / "fetched").exists()


def test_download_into_the_environment_folder(http_mirror, monkeypatch, tmp_path):
    monkeypatch.setenv("BPNET_MIRROR", http_mirror.url)
    monkeypatch.setenv("BPNET_DATA_DIR", str(tmp_path / "envdata"))
    check(invoke("download", "-q"), 0, f"verified in {tmp_path / 'envdata'}", stream="stdout")
    assert len(os.listdir(tmp_path / "envdata")) == 4


# ----------------------------------------------------------------------------- gradcheck

def test_gradcheck_passes(tmp_path):
    (tmp_path / "tiny.yaml").write_text("model:\n  hidden: [5]\n  activation: tanh\n")
    result = check(invoke("gradcheck", "--config", "tiny.yaml"), 0, "784-5-10 tanh", "passed", stream="stdout")
    assert "FAILED" not in result.stdout
    assert len(re.findall(r"relative error", result.stdout)) == 5     # W1 b1 W2 b2 and the summary


def test_gradcheck_finds_a_shipped_config_from_any_folder():
    shipped = yaml.safe_load((Path(config_module.__file__).parent / "configs" / "mnist.yaml").read_text())
    sizes = "-".join(map(str, [784, *shipped["model"]["hidden"], 10]))
    check(invoke("gradcheck", "--config", "mnist", "--entries", "3", "--examples", "2"), 0,
          f"gradient check of {sizes}", "passed", stream="stdout")


def test_gradcheck_fails_with_exit_1_on_an_impossible_tolerance(tmp_path):
    (tmp_path / "tiny.yaml").write_text("model:\n  hidden: []\n")
    result = invoke("gradcheck", "--config", "tiny.yaml", "--tolerance", "0")
    assert result.exit_code == 1, explain(result)
    assert result.stderr.strip().splitlines()[-1].startswith("Error: gradient check failed: largest relative error")
    assert "Traceback" not in result.stderr


# ----------------------------------------------------------------------------- end to end on real data

@pytest.fixture(scope="module")
def trained(mnist_gz_dir, tmp_path_factory):
    """One tiny run of ``bpnet train`` on real MNIST, without --out, in a fresh folder."""
    real = absolute(mnist_gz_dir)
    root = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("BPNET_MIRROR", "http://127.0.0.1:9/")      # never the real network
        mp.setitem(data.DATASETS, "mnist", dataclasses.replace(data.DATASETS["mnist"], mirrors=()))
        mp.setenv("BPNET_DATA_DIR", str(root / "no-data-here"))
        result = invoke("train", *TINY_TRAIN, "--data-dir", real, "--quiet")
    check(result, 0, "test accuracy", stream="stdout")
    runs = [p for p in (root / "runs").iterdir() if p.name != "latest"]
    assert len(runs) == 1 and runs[0].name.startswith("mnist-"), runs
    return SimpleNamespace(root=root, run=runs[0], result=result, real=real)


def test_train_writes_its_run_folder(trained):
    run = trained.run
    for name in ("config.yaml", "metrics.jsonl", "last.npz", "best.npz"):
        assert (run / name).is_file(), name
    latest = trained.root / "runs" / "latest"
    assert latest.is_symlink() and latest.resolve() == run.resolve()
    assert not [p for p in os.listdir(run) if p.endswith(".tmp")]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["epoch"] == 1 and 0 <= records[0]["val_accuracy"] <= 1
    saved = from_dict(yaml.safe_load((run / "config.yaml").read_text()))
    assert saved.model.hidden == [16] and saved.train.epochs == 1 and saved.data.validation == 1000
    out = trained.result.stdout
    assert "784-16-10" in out and "59000 train / 1000 val" in out and "epoch 1/1" in out
    assert checkpoint.load(run / "best.npz").network.sizes == [784, 16, 10]


def test_eval_agrees_with_train(trained, monkeypatch):
    monkeypatch.setenv("BPNET_DATA_DIR", str(trained.real))
    result = check(invoke("eval", trained.run / "best.npz", "--json"), 0)
    report = json.loads(result.stdout)
    assert 0 <= report["accuracy"] <= 1 and report["split"] == "test" and report["n"] == 10000
    cm = np.array(report["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 10000
    assert np.trace(cm) == round(report["accuracy"] * 10000)
    assert len(report["per_class"]) == 10
    assert [row["support"] for row in report["per_class"]] == cm.sum(axis=1).tolist()
    printed = re.search(r"test accuracy (\d+\.\d\d)%", trained.result.stdout).group(1)
    assert f"{report['accuracy'] * 100:.2f}" == printed
    assert report["accuracy"] > 0.5          # it did learn something


def test_eval_tables_on_the_val_split(trained, monkeypatch):
    monkeypatch.setenv("BPNET_DATA_DIR", str(trained.real))
    result = check(invoke("eval", trained.run / "best.npz", "--split", "val"), 0,
                   "val: accuracy", "/1000)", "confusion matrix", "precision", stream="stdout")
    assert result.stderr == ""


def test_predict_matches_the_network(trained, tmp_path):
    from PIL import Image

    test = real_test_split(trained.real)
    ckpt = checkpoint.load(trained.run / "best.npz")
    picks = [0, 1, 2, 3, 4, 7]
    files = []
    for i in picks:
        path = tmp_path / f"test{i}.png"
        Image.fromarray(test.images[i].reshape(28, 28)).save(path)
        files.append(path.name)
    proba = ckpt.network.predict_proba(data.columns(test.images[picks], ckpt.network.dtype))
    expected = np.argmax(proba, axis=0)

    result = check(invoke("predict", *files, "--checkpoint", trained.run / "best.npz", "--json", "--top", "3"), 0)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(picks)
    for k, (line, name) in enumerate(zip(lines, files)):
        assert set(line) == {"file", "digit", "probability", "top", "unsure"}
        assert line["unsure"] == (line["probability"] < UNSURE_BELOW)
        assert line["file"] == name and line["digit"] == int(expected[k])
        assert line["probability"] == pytest.approx(float(proba[expected[k], k]), rel=1e-5)
        assert len(line["top"]) == 3 and line["top"][0] == {"digit": line["digit"], "probability": line["probability"]}
        assert [t["probability"] for t in line["top"]] == sorted((t["probability"] for t in line["top"]), reverse=True)


def test_predict_uses_runs_latest_by_default(trained, monkeypatch):
    monkeypatch.chdir(trained.root)
    test = real_test_split(trained.real)
    from PIL import Image

    png = trained.root / "first-test-digit.png"
    Image.fromarray(test.images[0].reshape(28, 28)).save(png)
    try:
        result = check(invoke("predict", png.name), 0, stream="stdout")
    finally:
        png.unlink()
    assert re.fullmatch(r"first-test-digit\.png: \d \(\d+\.\d%\)\n", result.stdout), explain(result)


def test_train_with_out_folder(real, tmp_path):
    # 1,000 training examples in one batch: this test is about the folder, not the learning.
    result = check(invoke("train", *TINY_TRAIN, "--set", "model.hidden=[]", "--set", "train.optimizer=sgd",
                          "--set", "data.validation=59000", "--data-dir", real, "--out", "exp/one"), 0,
                   "run folder exp/one", stream="stdout")
    assert "784-10 relu" in result.stdout and "1000 train / 59000 val" in result.stdout
    assert sorted(os.listdir(tmp_path / "exp" / "one")) == ["best.npz", "config.yaml", "last.npz", "metrics.jsonl"]
    assert not (tmp_path / "runs").exists()


def test_train_verbose_prints_each_epochs_diagnostics(real, trained, tmp_path):
    result = check(invoke("train", *TINY_TRAIN, "--set", "train.epochs=2", "--set", "model.hidden=[16,8]",
                          "--data-dir", real, "--out", "run", "--quiet", "-v"), 0, stream="stdout")
    lines = result.stdout.splitlines()
    shown = [lines[k + 1] for k, line in enumerate(lines) if line.startswith("epoch ")]
    number, percent = r"\d[\d.]*(e-?\d+)?", r"\d+\.\d%"
    for line, record in zip(shown, read_metrics(tmp_path / "run"), strict=True):
        three = "/".join([number] * 3)
        assert re.fullmatch(rf"  layers 1/2/3: \|g\| {three}  \|ΔW\|/\|W\| {three}  \|W\| {three}  "
                            rf"dead {percent}/{percent}/–", line), line
        assert line.split("|W| ")[2].split()[0] == "/".join(f"{x:.3g}" for x in record.diagnostics["weight_norm"])
    assert "layers" not in trained.result.stdout                         # only with --verbose


# ----------------------------------------------------------------------------- divergence

def invoke_recording_warnings(*args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invoke(*args)
    return result, [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_divergence_from_the_start(real, tmp_path):
    result, runtime_warnings = invoke_recording_warnings(
        "train", *TINY_TRAIN, "--set", "train.lr=1e30", "--data-dir", real, "--out", "run")
    line = error_line(result, 1)
    assert re.search(r"training diverged: the loss became (nan|inf) at epoch 1, step \d+", line), line
    assert "no checkpoint had been saved yet" in line and "try a smaller train.lr" in line
    assert not runtime_warnings, [str(w.message) for w in runtime_warnings]   # only the one line
    assert not list((tmp_path / "run").glob("*.npz"))


def test_divergence_after_a_good_epoch_keeps_the_checkpoints(trained, tmp_path):
    run = tmp_path / "resumed"
    shutil.copytree(trained.run, run)
    before = {name: (run / name).read_bytes() for name in ("last.npz", "best.npz", "metrics.jsonl")}
    result, runtime_warnings = invoke_recording_warnings(
        "train", "--resume", "resumed", "--set", "train.epochs=2", "--set", "train.lr=1e30",
        "--data-dir", trained.real)
    check(result, 1)
    assert "Resuming 784-16-10" in result.stdout
    line = result.stderr.strip()
    assert "\n" not in line, explain(result)
    assert re.search(r"diverged: .* at epoch 2, step \d+", line), line
    assert f"the last good checkpoint {Path('resumed') / 'last.npz'} is untouched" in line
    assert not runtime_warnings, [str(w.message) for w in runtime_warnings]
    assert {name: (run / name).read_bytes() for name in before} == before
    assert not [p for p in os.listdir(run) if p.endswith(".tmp")]


def test_fashion_mnist_files_passed_as_mnist(real):
    fashion = real.parent / "fashion-mnist"
    if not all((fashion / (name + ".gz")).is_file() for name in data.FILES):
        pytest.skip(f"no Fashion-MNIST files in {fashion}")
    line = error_line(invoke("train", *TINY_TRAIN, "--data-dir", fashion), 2)
    assert line.startswith(f"Error: {fashion / (data.TRAIN_IMAGES + '.gz')}: SHA-256 "), line
    assert "does not match mnist's train-images-idx3-ubyte; is it another dataset" in line


# ----------------------------------------------------------------------------- review findings

def test_an_unforeseen_os_error_is_one_line_not_a_traceback(tmp_path):
    too_long = tmp_path / ("x" * 300)
    line = error_line(invoke("train", "--data-dir", too_long, "--set", "train.epochs=1"), 1)
    assert "name too long" in line


def test_training_into_a_folder_that_holds_another_run_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("{}\n")
    line = error_line(invoke("train", "--out", run), 2)
    assert "already exists and is not empty" in line and "--resume" in line
    assert (run / "metrics.jsonl").read_text() == "{}\n"


def test_a_run_folder_that_cannot_be_made_is_refused_before_the_data_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("in the way")
    result = invoke("train", "--out", "a-file/run", "--data-dir", "no-data-here")
    assert error_line(result, 1) == "Error: a-file/run: cannot create the run folder (Not a directory)"
    assert result.stdout == "" and sorted(os.listdir(tmp_path)) == ["a-file"]     # nothing downloaded


def test_resume_takes_config_and_folder_from_the_run(tmp_path):
    result = invoke("train", "--resume", tmp_path, "--config", "fast")
    check(result, 2, "--resume takes the config and the folder from RUN")


def test_eval_and_resume_read_the_folder_the_run_was_trained_on(tmp_path, real, monkeypatch):
    """No --data-dir the second time, and no data in the folder they run in: nothing is downloaded."""
    run = tmp_path / "run"
    check(invoke("train", "--data-dir", real, "--out", run, *TINY_TRAIN), 0)
    monkeypatch.delenv("BPNET_DATA_DIR")
    check(invoke("eval", run / "best.npz"), 0, "test: accuracy", stream="stdout")
    check(invoke("train", "--resume", run, "--set", "train.epochs=2"), 0, "test accuracy", stream="stdout")
    assert not (tmp_path / "data").exists()
    # --data-dir still comes first: an empty folder is downloaded into, and every mirror is refused here.
    check(invoke("eval", run / "best.npz", "--data-dir", tmp_path / "empty"), 1,
          "Error: could not download train-images-idx3-ubyte.gz", "refused")


def test_a_checkpoint_with_a_damaged_data_folder_is_refused(tmp_path, real):
    path = tmp_path / "best.npz"
    check(invoke("train", "--data-dir", real, "--out", tmp_path / "run", *TINY_TRAIN), 0)
    ckpt = checkpoint.load(tmp_path / "run" / "best.npz")
    checkpoint.save(path, ckpt.network, ckpt.config, meta={**ckpt.meta, "data_dir": 42})
    assert error_line(invoke("eval", path), 2) == f"Error: {path}: its data folder is damaged"


def test_eval_refuses_outputs_that_overflow(tmp_path, real):
    """Finite weights pass the checkpoint's checks; a loss of NaN must still not be shown as a result."""
    check(invoke("train", "--data-dir", real, "--out", tmp_path / "run", *TINY_TRAIN), 0)
    huge = huge_weights_checkpoint(tmp_path / "huge.npz", tmp_path / "run" / "best.npz")
    for extra in ([], ["--json"]):
        line = error_line(invoke("eval", huge, "--data-dir", real, *extra), 2)
        assert line == f"Error: {huge}: the network's outputs are not finite on the test split " \
                       f"(its weights overflow float32)"


def test_eval_of_an_empty_validation_split_is_an_error(tmp_path, real):
    run = tmp_path / "run"
    check(invoke("train", "--data-dir", real, "--out", run, *TINY_TRAIN, "--set", "data.validation=0"), 0,
          "val –", stream="stdout")
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert record["val_loss"] is None and record["val_accuracy"] is None      # valid JSON, no NaN
    line = error_line(invoke("eval", run / "best.npz", "--split", "val", "--data-dir", real), 2)
    assert "the val split is empty" in line


def test_divergence_on_the_last_step_of_an_epoch_is_caught(tmp_path, real):
    """Full batch: one step per epoch, so the step that blows up is the epoch's last."""
    run = tmp_path / "run"
    line = error_line(invoke("train", "--data-dir", real, "--out", run, "--set", "model.hidden=[8]",
                             "--set", "train.epochs=1", "--set", "train.batch_size=full",
                             "--set", "train.optimizer=sgd", "--set", "train.lr=1e38",
                             "--set", "data.validation=1000"), 1)
    assert "the weights or the validation loss became NaN or infinite" in line
    assert "no checkpoint had been saved yet" in line
    assert not (run / "last.npz").exists() and not (run / "best.npz").exists()


def test_train_says_when_it_stopped_early(real, monkeypatch):
    """patience 2 on a validation accuracy that peaks at epoch 1: the run ends after epoch 3 of 6 and says why."""
    from bpnet import train as training

    curve = iter([0.9, 0.8, 0.85, 0.5, 0.5, 0.5, 0.5])
    monkeypatch.setattr(training, "evaluate", lambda network, split, on_chunk=None: {
        "loss": 1.0, "accuracy": next(curve), "predictions": None})
    result = check(invoke("train", *TINY_TRAIN, "--set", "train.epochs=6", "--set", "train.patience=2",
                          "--data-dir", real, "--out", "run", "--quiet"), 0, stream="stdout")
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == ["1/6", "2/6", "3/6"]
    assert ("stopped early after epoch 3 of 6: val_accuracy did not improve by more than 0.0 in 2 validations "
            "(train.patience)") in lines
    assert "best epoch 1: run/best.npz" in lines
