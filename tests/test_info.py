"""bpnet.info and `bpnet info`: what a checkpoint holds, and whether a run can resume from it."""

import json
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from bpnet import __version__, checkpoint, train as training
from bpnet.cli import cli
from bpnet.config import from_dict
from bpnet.data import MNIST, Split
from bpnet.errors import CheckpointError
from bpnet.info import format_text, info
from bpnet.network import Network


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="bpnet")


def tiny_data(seed=0):
    rng = np.random.default_rng(seed)

    def split(n):
        return Split(rng.integers(0, 256, size=(n, 784), dtype=np.uint8), rng.integers(0, 10, size=n).astype(np.uint8))

    return MNIST(split(200), split(50), split(50), name="synthetic")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished two-epoch run of a tiny network: RUN/last.npz and RUN/best.npz."""
    folder = tmp_path_factory.mktemp("info") / "run"
    cfg = from_dict({"model": {"hidden": [4]}, "train": {"epochs": 2, "batch_size": 100}})
    training.train(cfg, tiny_data(), folder)
    return folder


def test_a_finished_runs_last_checkpoint(run):
    facts = info(run / "last.npz")
    assert facts["network"] == "784-4-10 relu, softmax + cross_entropy" and facts["parameters"] == 3190
    assert (facts["epoch"], facts["epochs"], facts["step"]) == (2, 2, 4)
    assert facts["metrics"]["epoch"] == 2 and 0 <= facts["metrics"]["val_accuracy"] <= 1
    assert facts["bpnet_version"] == __version__ and facts["file_bytes"] == (run / "last.npz").stat().st_size
    assert facts["resumable"] and facts["resume"].startswith(f"bpnet train --resume {run}")
    assert "add more with --set train.epochs=N" in facts["resume"]
    assert facts["config"]["model"]["hidden"] == [4] and facts["optimizer_state"][0] == "lr"
    text = format_text(facts)
    assert text.splitlines()[0] == str(run / "last.npz")
    assert "  epoch      2 of 2, step 4" in text and f"written by bpnet {__version__}" in text
    assert "  resumable  yes: bpnet train --resume" in text and "hidden=[4]" in text


def test_best_npz_is_not_where_a_run_resumes(run):
    facts = info(run / "best.npz")
    assert not facts["resumable"]
    assert facts["resume"] == (f"best.npz holds the best epoch's weights; a run resumes from its last.npz "
                               f"({run / 'last.npz'})")


def test_a_copy_of_last_npz_elsewhere_is_not_resumable(run, tmp_path):
    shutil.copy(run / "last.npz", tmp_path / "model.npz")
    facts = info(tmp_path / "model.npz")
    assert not facts["resumable"] and "a run resumes from its last.npz" in facts["resume"]


def test_a_checkpoint_saved_from_python_without_metrics(tmp_path):
    network = Network([784, 3, 10]).initialise("he", np.random.default_rng(0))
    cfg = from_dict({"model": {"hidden": [3]}})
    checkpoint.save(tmp_path / "mine.npz", network, cfg)
    facts = info(tmp_path / "mine.npz")
    assert facts["metrics"] is None and facts["epoch"] is None and facts["data_dir"] is None
    assert not facts["resumable"] and "not a resumable training checkpoint (no epoch" in facts["resume"]
    text = format_text(facts)
    assert "  metrics    none recorded" in text and "  epoch      unknown" in text
    assert "read from unknown" in text


def test_a_checkpoint_of_a_bpnet_that_did_not_record_its_version(tmp_path):
    network = Network([784, 3, 10])
    meta = {"format": 1, "config": from_dict({"model": {"hidden": [3]}}).to_dict()}
    np.savez(tmp_path / "old.npz", **dict(network.parameters()), meta=np.array(json.dumps(meta)))
    facts = info(tmp_path / "old.npz")
    assert facts["bpnet_version"] is None and "written by bpnet unknown" in format_text(facts)


def test_info_command(run):
    result = invoke("info", run / "best.npz", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["resumable"] is False
    result = invoke("info", run / "last.npz")
    assert result.exit_code == 0 and "resumable  yes" in result.stdout


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such checkpoint"),
    (lambda p: p.write_text("hello"), "not a .npz checkpoint (not a zip archive)"),
    (lambda p: np.savez(p, W1=np.zeros(3)), "has no metadata; not a bpnet checkpoint"),
])
def test_info_refuses_what_is_not_a_checkpoint(tmp_path, make, message):
    path = tmp_path / "x.npz"
    make(path)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        info(path)
    result = invoke("info", path)
    assert result.exit_code == 2 and result.stderr == f"Error: {path}: {message}\n"
