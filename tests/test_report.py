"""bpnet.report and `bpnet eval --report`; ECE, calibration and F1 in bpnet.evaluate."""

import json
import re
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bpnet import checkpoint, report
from bpnet.cli import _format_report, cli
from bpnet.config import from_dict
from bpnet.data import Split
from bpnet.errors import BpnetError, InputError
from bpnet.evaluate import calibration, ece, per_class, probabilities
from bpnet.network import Network


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="bpnet")


def tiny(output="softmax", loss="cross_entropy", seed=0):
    return Network([784, 6, 10], "relu", output, loss).initialise("he", np.random.default_rng(seed))


def split(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return Split(rng.integers(0, 256, size=(n, 784), dtype=np.uint8), rng.integers(0, 10, size=n).astype(np.uint8))


# ----------------------------------------------------------------------------- numbers

def test_ece_of_an_overconfident_and_a_calibrated_network():
    # Four examples at confidence 0.8, two of them right: accuracy 0.5, ECE |0.5 − 0.8| = 0.3.
    P = np.full((10, 4), 0.2 / 9)
    P[[0, 1, 2, 3], [0, 1, 2, 3]] = 0.8
    assert ece(P, np.array([0, 1, 5, 5])) == pytest.approx(0.3)
    # Two bins: {0.8, 0.8} with 1 of 2 right (gap 0.3), {1.0} right (gap 0): ECE = 2/3·0.3.
    P = np.zeros((10, 3))
    P[0, 0] = P[1, 1] = 0.8
    P[2, 0] = P[2, 1] = 0.2
    P[3, 2] = 1.0
    result = calibration(P, np.array([0, 2, 3]), n_bins=10)
    assert result["ece"] == pytest.approx(2 / 3 * 0.3)
    # (0.7, 0.8] holds 0.8 (bins are closed on the right, as in Guo et al.), (0.9, 1] holds 1.0.
    counts = [b["count"] for b in result["bins"]]
    assert counts == [0] * 7 + [2, 0, 1] and result["bins"][7]["accuracy"] == 0.5
    assert result["bins"][0]["accuracy"] is None and result["bins"][9]["upper"] == 1.0


def test_ece_matches_a_direct_computation_on_random_probabilities():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(10, 500)) * 3
    P = np.exp(logits) / np.exp(logits).sum(axis=0)
    labels = rng.integers(0, 10, 500)
    confidence, correct = P.max(axis=0), P.argmax(axis=0) == labels
    expected = 0.0
    for m in range(15):
        inside = (confidence > m / 15) & (confidence <= (m + 1) / 15)
        if inside.any():
            expected += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    assert ece(P, labels) == pytest.approx(expected)


def test_per_class_f1():
    confusion = np.array([[8, 2], [4, 6]])        # class 0: P = 8/12, R = 8/10; class 1: P = 6/8, R = 6/10
    rows = per_class(confusion)
    assert rows[0]["f1"] == pytest.approx(2 * (8 / 12) * 0.8 / (8 / 12 + 0.8))
    assert rows[1]["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert per_class(np.zeros((2, 2), int))[0]["f1"] == 0.0


def test_probabilities_of_a_sigmoid_head_sum_to_one():
    P = probabilities(tiny("sigmoid", "mse"), split())
    assert P.shape == (10, 60) and np.allclose(P.sum(axis=0), 1, atol=1e-5)


def test_confident_mistakes_are_wrong_and_most_confident_first():
    P = np.array([[0.9, 0.2, 0.6, 0.1], [0.1, 0.8, 0.4, 0.9]])
    mistakes = report.confident_mistakes(P, np.array([1, 1, 1, 0]), k=5)
    assert [m["index"] for m in mistakes] == [0, 3, 2]
    assert mistakes[0] == {"index": 0, "true": 1, "predicted": 0, "probability": 0.9, "probability_true": 0.1}


# ----------------------------------------------------------------------------- the report

@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A report of a tiny random network on random images, in a folder that did not exist."""
    folder = tmp_path_factory.mktemp("report") / "new" / "report"
    return folder, report.write_report(tiny(), split(), folder, title="<tiny & co>")


def test_write_report_writes_every_file(written):
    folder, facts = written
    assert sorted(p.name for p in folder.iterdir()) == sorted(report.FILES)
    for name in report.FIGURES:
        with Image.open(folder / name) as image:
            assert image.format == "PNG" and min(image.size) > 300
    saved = json.loads((folder / "report.json").read_text())
    assert saved == json.loads(json.dumps(facts))
    for key in ("accuracy", "loss", "ece", "calibration_bins", "confusion_matrix", "per_class", "mistakes"):
        assert key in saved
    assert len(saved["calibration_bins"]) == 15 and sum(b["count"] for b in saved["calibration_bins"]) == 60
    assert sum(map(sum, saved["confusion_matrix"])) == 60 and {"f1", "precision"} <= set(saved["per_class"][0])
    wrong = 60 - round(saved["accuracy"] * 60)
    assert len(saved["mistakes"]) == min(wrong, report.N_MISTAKES)
    probabilities_shown = [m["probability"] for m in saved["mistakes"]]
    assert probabilities_shown == sorted(probabilities_shown, reverse=True)


def test_the_html_page_opens_offline(written):
    page = (written[0] / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "http://" not in page and "https://" not in page and "<script" not in page.lower()
    assert page.count('src="data:image/png;base64,') == 4
    assert "&lt;tiny &amp; co&gt;" in page and "<tiny" not in page


def test_the_weights_mosaic_scales_each_unit_by_itself():
    W = np.zeros((5, 784))
    W[0, 0], W[0, 1], W[1, 5] = 2.0, -1.0, -0.001
    mosaic = report.weights_mosaic(W, gap=1)
    assert mosaic.shape == (2 * 29 - 1, 3 * 29 - 1)         # 5 tiles in a 3-wide grid
    assert mosaic[0, 0] == 1.0 and mosaic[0, 1] == -0.5 and mosaic[0, 29 + 5] == -1.0
    assert np.isnan(mosaic[28, 0]) and np.isnan(mosaic[0, 28])           # the gaps
    assert np.isnan(mosaic[29:, 2 * 29:]).all()                           # no sixth unit
    assert report.weights_mosaic(np.ones((300, 784))).shape == (10 * 29 - 1, 10 * 29 - 1)   # 100 at most


@pytest.fixture
def quick_figures(monkeypatch):
    """Blank figures instead of the report's own, for tests about files, not pictures."""
    from matplotlib.figure import Figure

    for name in ("confusion_figure", "mistakes_figure", "calibration_figure", "weights_figure"):
        monkeypatch.setattr(report, name, lambda *args: Figure(figsize=(1, 1)))


def test_an_existing_empty_folder_is_used(tmp_path, quick_figures):
    (tmp_path / "r").mkdir()
    report.write_report(tiny(), split(), tmp_path / "r")
    assert len(list((tmp_path / "r").iterdir())) == len(report.FILES)


def test_a_folder_that_holds_files_is_refused_and_left_alone(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "confusion.png").write_bytes(b"mine")
    with pytest.raises(InputError, match="r: already holds files; give the report an empty or new folder"):
        report.write_report(tiny(), split(), folder)
    assert [p.name for p in folder.iterdir()] == ["confusion.png"]
    assert (folder / "confusion.png").read_bytes() == b"mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="file: is a file, not a folder"):
        report.write_report(tiny(), split(), tmp_path / "file")


def test_without_matplotlib_nothing_is_created(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)             # import fails
    with pytest.raises(BpnetError, match="plotting needs matplotlib: pip install matplotlib"):
        report.write_report(tiny(), split(), tmp_path / "a" / "r")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_halfway_takes_back_what_was_written(tmp_path, monkeypatch, quick_figures):
    def broken(facts, images):          # the last file: the figures and report.json are written by then
        assert len(images) == 4 and (tmp_path / "a" / "r" / "report.json").is_file()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "page", broken)
    with pytest.raises(BpnetError, match="r: cannot write the report \\(No space left on device\\)"):
        report.write_report(tiny(), split(), tmp_path / "a" / "r")
    assert list(tmp_path.iterdir()) == []                   # the folders it made are gone too


# ----------------------------------------------------------------------------- the command

@pytest.fixture
def saved(tmp_path):
    """A tiny random network saved as a checkpoint (evaluated on the real test set)."""
    path = tmp_path / "tiny.npz"
    checkpoint.save(path, tiny(), from_dict({"model": {"hidden": [6]}}))
    return path


def test_eval_report_on_the_real_test_set(saved, tmp_path, mnist_gz_dir):
    result = invoke("eval", saved, "--data-dir", mnist_gz_dir, "--report", tmp_path / "r", "--json")
    assert result.exit_code == 0, result.output
    measured = json.loads(result.stdout)                     # stdout stays one JSON object
    assert 0 <= measured["ece"] <= 1 and measured["n"] == 10000
    assert result.stderr == f"wrote {tmp_path / 'r' / 'report.html'} and its figures\n"
    written = json.loads((tmp_path / "r" / "report.json").read_text())
    assert written["ece"] == pytest.approx(measured["ece"]) and written["accuracy"] == measured["accuracy"]
    assert written["title"] == f"{saved}, mnist test split"
    text = _format_report(measured, "test")                  # what eval prints without --json
    assert re.search(r"loss \d\.\d{4}, ECE \d+\.\d\d%", text) and "precision  recall      F1" in text


def test_eval_report_into_a_folder_with_files_is_refused_before_reading_data(saved, tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    result = invoke("eval", saved, "--data-dir", tmp_path / "no-data", "--report", folder)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {folder}: already holds files; give the report an empty or new folder\n"
    assert [p.name for p in folder.iterdir()] == ["notes.txt"] and not (tmp_path / "no-data").exists()


def test_eval_report_without_matplotlib_is_one_line_exit_1(saved, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = invoke("eval", saved, "--report", tmp_path / "r")
    assert result.exit_code == 1
    assert result.stderr == "Error: plotting needs matplotlib: pip install matplotlib\n"
    assert not (tmp_path / "r").exists()
