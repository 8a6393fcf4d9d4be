"""bpnet.plot: learning curves from a run's metrics.jsonl, and their errors."""

import dataclasses
import io
import json
import sys
import warnings

import numpy as np

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
def test_plot_writes_a_png_of_three_panels(tmp_path, validation):
    run = run_with_metrics(tmp_path / "run", validation=validation)
    path = plot_run(run)
    assert path == run / "curves.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1400, 400)
    # Cost and accuracy drew train, and validation when there was one; the third panel the learning rate.
    figure = _figure("run", runs.read_metrics(run))
    assert [len(axes.get_lines()) for axes in figure.axes] == ([2, 2, 1] if validation else [1, 1, 1])
    assert [axes.get_title() for axes in figure.axes] == ["cost", "accuracy", "learning rate (at the epoch's end)"]
    assert list(figure.axes[2].get_lines()[0].get_ydata()) == [0.1, 0.1, 0.1]


def diagnosed(records, layers=3, saturated=False, missing=()):
    """The records with made-up diagnostics (bpnet.diagnostics), but for the epochs ``missing``."""
    out = []
    for r in records:
        if r.epoch in missing:               # a record without diagnostics: a gap in every line
            out.append(dataclasses.replace(r, diagnostics=None))
            continue
        e, per_layer = r.epoch, range(1, layers + 1)
        out.append(dataclasses.replace(r, diagnostics={
            "grad_norm": [1.0 / (e * l) for l in per_layer], "update_ratio": [1e-3 * l for l in per_layer],
            "weight_norm": [10.0 + e for _ in per_layer],
            "dead_fraction": [0.1 * e / l for l in range(1, layers)] + [None],
            "saturated_fraction": [0.5] * (layers - 1) + [None] if saturated else None}))
    return out


def test_diagnostics_get_a_panel_each_and_a_line_per_layer(tmp_path):
    records = diagnosed(runs.read_metrics(run_with_metrics(tmp_path / "run", epochs=4)), missing={2})
    figure = _figure("run", records)
    titles = [axes.get_title() for axes in figure.axes]
    assert titles[3:] == ["gradient norm ‖∂C/∂Wˡ‖", "update ratio ‖ΔWˡ‖ / ‖Wˡ‖",
                          "weight norm ‖Wˡ‖", "dead ReLU units (fraction)"]      # saturation is null: no panel
    lines = [axes.get_lines() for axes in figure.axes[3:]]
    assert [len(x) for x in lines] == [3, 3, 3, 2]             # the output layer has no dead fraction
    assert [line.get_label() for line in lines[0]] == ["layer 1", "layer 2", "layer 3"]
    np.testing.assert_allclose(lines[0][1].get_ydata(), [1 / 2, np.nan, 1 / 6, 1 / 8])
    assert figure.axes[3].get_yscale() == "log" and figure.axes[6].get_yscale() == "linear"
    records[-1].diagnostics["update_ratio"][0] = 0.0          # a float32 step too small to move W
    figure = _figure("run", records)
    assert figure.axes[4].get_yscale() == "log"                # the 0 is a gap, the rest stays readable
    assert np.isnan(figure.axes[4].get_lines()[0].get_ydata()[-1])
    figure = _figure("run", diagnosed(records, layers=2, saturated=True))
    assert len(figure.axes) == 3 + 5 and figure.axes[-1].get_title() == "saturated units (fraction)"
    assert plot_png_size(figure) == (1400, 800)


def test_a_trained_runs_diagnostics_are_drawn(data, tmp_path):
    from bpnet import train as training
    from helpers import config

    training.train(config(epochs=3, batch_size=100), data, tmp_path / "run")
    records = runs.read_metrics(tmp_path / "run")
    figure = _figure("run", records)
    panels = {axes.get_title(): axes for axes in figure.axes[3:]}
    # A ReLU network: no saturation panel.
    assert list(panels) == ["gradient norm ‖∂C/∂Wˡ‖", "update ratio ‖ΔWˡ‖ / ‖Wˡ‖", "weight norm ‖Wˡ‖",
                            "dead ReLU units (fraction)"]
    assert [len(axes.get_lines()) for axes in panels.values()] == [2, 2, 2, 1]
    np.testing.assert_array_equal(panels["weight norm ‖Wˡ‖"].get_lines()[1].get_ydata(),
                                  [r.diagnostics["weight_norm"][1] for r in records])
    with Image.open(plot_run(tmp_path / "run")) as image:
        assert image.size == (1400, 800)


def plot_png_size(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    with Image.open(buffer) as image:
        return image.size


def test_records_without_diagnostics_draw_no_diagnostics_panels(tmp_path):
    records = diagnosed(runs.read_metrics(run_with_metrics(tmp_path / "run")), missing={1, 2, 3})
    assert len(_figure("run", records).axes) == 3


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
    assert [list(axes.get_xticks()) for axes in figure.axes] == [[1], [1], [1]]
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
