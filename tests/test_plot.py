"""bpnet.plot: learning curves from a run's metrics.jsonl, and their errors."""

import json
import sys
import warnings

import pytest
from click.testing import CliRunner
from PIL import Image

from bpnet import runs
from bpnet.cli import cli
from bpnet.errors import BpnetError, CheckpointError, InputError
from bpnet.plot import _figure, plot_run


def run_with_metrics(folder, epochs=3, validation=True):
    """A run folder whose metrics.jsonl holds ``epochs`` records (no training needed)."""
    folder.mkdir()
    records = [runs.EpochRecord(epoch=e, step=10 * e, train_loss=1.0 / e, train_accuracy=0.5 + 0.1 * e,
                                    val_loss=1.2 / e if validation else None,
                                    val_accuracy=0.45 + 0.1 * e if validation else None, seconds=0.5, lr=0.1)
               for e in range(1, epochs + 1)]
    runs.write_metrics(folder, records)
    return folder


@pytest.mark.parametrize("validation", [True, False])
def test_plot_writes_a_png_of_both_panels(tmp_path, validation):
    run = run_with_metrics(tmp_path / "run", validation=validation)
    path = plot_run(run)
    assert path == run / "curves.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1000, 400)
    # Both panels drew train, and validation when there was one.
    figure = _figure("run", runs.read_metrics(run))
    assert [len(axes.get_lines()) for axes in figure.axes] == ([2, 2] if validation else [1, 1])


@pytest.mark.parametrize("name, magic", [("c.svg", b"<?xml"), ("c.pdf", b"%PDF")])
def test_plot_writes_svg_and_pdf(tmp_path, name, magic):
    run = run_with_metrics(tmp_path / "run", epochs=1)
    path = plot_run(run, tmp_path / name)
    assert path.read_bytes().startswith(magic)


def test_plot_refuses_what_it_cannot_draw(tmp_path):
    with pytest.raises(InputError, match="nope: no such run folder"):
        plot_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no epoch has been reported yet"):
        plot_run(tmp_path / "empty")
    run = run_with_metrics(tmp_path / "run")
    with pytest.raises(InputError, match="must end in .png, .svg or .pdf"):
        plot_run(run, tmp_path / "c.jpg")
    (run / "metrics.jsonl").write_text('{"epoch": 1, "step": 1, "train_loss": "low", "train_accuracy": 0.5, '
                                       '"val_loss": null, "val_accuracy": null, "seconds": 1, "lr": 0.1}\n')
    with pytest.raises(CheckpointError, match="metrics.jsonl: line 1 is damaged"):
        plot_run(run)
    assert sorted(p.name for p in run.iterdir()) == ["metrics.jsonl"]      # nothing half-written


def test_plot_without_matplotlib_says_how_to_get_it(tmp_path, monkeypatch):
    run = run_with_metrics(tmp_path / "run")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)             # import fails
    with pytest.raises(BpnetError, match="plotting needs matplotlib: pip install matplotlib"):
        plot_run(run)
    assert not (run / "curves.png").exists()


def test_plot_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_with_metrics(tmp_path / "run")
    result = CliRunner().invoke(cli, ["plot", "run", "--out", "c.png"], prog_name="bpnet")
    assert result.exit_code == 0 and result.stdout == "wrote c.png\n"
    result = CliRunner().invoke(cli, ["plot"], prog_name="bpnet")               # runs/latest by default
    assert result.exit_code == 2 and result.stderr == "Error: runs/latest: no such run folder\n"


GOOD = {"epoch": 1, "step": 1, "train_loss": 0.5, "train_accuracy": 0.5, "val_loss": None,
        "val_accuracy": None, "seconds": 1.0, "lr": 0.1}


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe\n", "not UTF-8 text"),
    (b"[" * 100000 + b"\n", "line 1 is damaged"),
    (json.dumps({**GOOD, "train_accuracy": 7.5}).encode(), "line 1 is damaged"),
    (json.dumps({**GOOD, "val_loss": -1.0}).encode(), "line 1 is damaged"),
    (json.dumps({**GOOD, "epoch": 0}).encode(), "line 1 is damaged"),
    ((json.dumps(GOOD) + "\n" + json.dumps(GOOD)).encode(), "line 2 is damaged"),     # epoch 1 twice
])
def test_a_damaged_metrics_file_is_one_error(tmp_path, content, message):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        plot_run(run)


def test_a_folder_named_metrics_jsonl_is_one_error(tmp_path):
    (tmp_path / "run" / "metrics.jsonl").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="metrics.jsonl: not a file"):
        plot_run(tmp_path / "run")


def test_blank_lines_are_skipped(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text(json.dumps(GOOD) + "\n\n")
    assert [r.epoch for r in runs.read_metrics(run)] == [1]


def test_one_epoch_gets_one_whole_tick_and_out_folders_are_made(tmp_path):
    run = run_with_metrics(tmp_path / "run", epochs=1)
    figure = _figure("run", runs.read_metrics(run))
    assert [list(axes.get_xticks()) for axes in figure.axes] == [[1], [1]]
    assert plot_run(run, tmp_path / "new" / "folder" / "c.png").is_file()
    with pytest.raises(InputError, match="must end in .png, .svg or .pdf"):
        plot_run(run, "")


def test_the_cost_axis_is_logarithmic_unless_a_cost_is_zero(tmp_path):
    records = runs.read_metrics(run_with_metrics(tmp_path / "run"))
    assert _figure("run", records).axes[0].get_yscale() == "log"
    records[0] = runs.EpochRecord(**{**records[0].__dict__, "train_loss": 0.0})
    assert _figure("run", records).axes[0].get_yscale() == "linear"


def test_a_huge_finite_cost_plots_without_a_warning(tmp_path):
    run = run_with_metrics(tmp_path / "run")
    records = runs.read_metrics(run)
    records[0] = runs.EpochRecord(**{**records[0].__dict__, "train_loss": 1e308})
    runs.write_metrics(run, records)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # any warning fails the test
        assert plot_run(run).is_file()
