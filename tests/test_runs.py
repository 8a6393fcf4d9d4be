"""bpnet.runs: run folders (created, refused, cleaned of a killed run's temporary files) and metrics.jsonl."""

import json
import os

import pytest

from bpnet import runs, train as training
from bpnet.errors import BpnetError, CheckpointError, ConfigError
from helpers import config


def test_check_new_run_dir_probes_without_keeping(tmp_path):
    (tmp_path / "a-file").write_text("in the way")
    with pytest.raises(BpnetError, match="a-file/run: cannot create the run folder"):
        runs.check_new_run_dir(tmp_path / "a-file" / "run")
    runs.check_new_run_dir(tmp_path / "new" / "run")       # can be made: only probed, not kept
    assert sorted(os.listdir(tmp_path)) == ["a-file"]


def test_a_new_run_refuses_a_folder_that_holds_files(data, tmp_path):
    training.train(config(epochs=1), data, tmp_path / "run")
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        training.train(config(epochs=1), data, tmp_path / "run")


def test_a_full_disk_when_writing_config_yaml_leaves_nothing(data, tmp_path, monkeypatch):
    def disk_full(path, write, suffix=".tmp"):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs, "atomic_write", disk_full)
    with pytest.raises(BpnetError, match=r"a/b/config.yaml: cannot write \(No space left on device\)"):
        training.train(config(), data, tmp_path / "a" / "b")
    assert os.listdir(tmp_path) == []


STALE = [".last.npz.k2j4_x9a.tmp", ".config.yaml.abc12345.tmp", ".best.npz.zz_0.tmp", ".metrics.jsonl.q1.tmp"]
NOT_OURS = ["notes.tmp", ".last.npz.tmp", ".other.npz.abc.tmp", ".last.npz.abc.tmp.bak", "last.npz.abc.tmp"]


def test_a_resumed_run_removes_the_temporary_files_a_killed_one_left(data, tmp_path):
    """A save killed mid-write leaves its .<file>.<random>.tmp for good; the run's next start removes
    those, and only those: anything else in the folder is not bpnet's to delete."""
    from bpnet import resume

    run = tmp_path / "run"
    training.train(config(epochs=1), data, run)
    for name in STALE + NOT_OURS:
        (run / name).write_bytes(b"half a checkpoint")
    (run / ".last.npz.dir0.tmp").mkdir()                       # a folder of that name is not a file it wrote
    ckpt, cfg = resume.load_for_resume(run, ["train.epochs=2"])
    training.train(cfg, data, run, resume=ckpt)
    left = sorted(name for name in os.listdir(run) if name not in runs.RUN_FILES)
    assert left == sorted(NOT_OURS + [".last.npz.dir0.tmp"])


def test_a_folder_holding_only_a_killed_runs_temporary_files_takes_a_new_run(data, tmp_path):
    """Killed while writing its first config.yaml, a new run leaves a folder with a temporary file
    only: --out may still use it (the file is removed), while a folder with anything else is refused."""
    run = tmp_path / "run"
    run.mkdir()
    (run / STALE[1]).write_bytes(b"train:")
    runs.check_new_run_dir(run)
    training.train(config(epochs=1), data, run)
    assert sorted(os.listdir(run)) == ["best.npz", "config.yaml", "last.npz", "metrics.jsonl"]
    other = tmp_path / "other"
    other.mkdir()
    (other / NOT_OURS[0]).write_bytes(b"")
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        runs.check_new_run_dir(other)


def test_the_pattern_is_the_one_atomic_write_uses(tmp_path):
    """The names matched are those files.temp_file_beside really makes (mkstemp's random part)."""
    from bpnet.files import temp_file_beside

    for name in runs.RUN_FILES:
        for _ in range(20):
            fd, tmp = temp_file_beside(tmp_path / name)
            os.close(fd)
            assert runs.is_stale_temp_file(os.path.basename(tmp)), tmp
    assert not any(runs.is_stale_temp_file(name) for name in NOT_OURS)


# ----------------------------------------------------------------------------- metrics.jsonl

OLD_LINE = {"epoch": 1, "step": 12, "train_loss": 0.5, "train_accuracy": 0.5, "val_loss": 0.6, "val_accuracy": 0.4,
            "seconds": 1.0, "lr": 0.1}


def test_a_record_written_before_diagnostics_existed_still_reads(tmp_path):
    (tmp_path / "metrics.jsonl").write_text(json.dumps(OLD_LINE) + "\n")
    assert runs.read_metrics(tmp_path) == [runs.EpochRecord(**OLD_LINE)]
    assert runs.read_metrics(tmp_path)[0].diagnostics is None


@pytest.mark.parametrize("damage", [
    lambda d: d["grad_norm"].pop(),                              # a layer short
    lambda d: d["weight_norm"].__setitem__(0, -1.0),
    lambda d: d["grad_norm"].__setitem__(0, "large"),
    lambda d: d["dead_fraction"].__setitem__(0, 1.5),
    lambda d: d["dead_fraction"].__setitem__(1, 0.0),            # the output layer has no dead units
    lambda d: d.__setitem__("update_ratio", None),
    lambda d: d.__setitem__("loss_norm", [1.0, 1.0]),
])
def test_a_damaged_diagnostics_field_is_a_damaged_line(data, tmp_path, damage):
    training.train(config(epochs=2), data, tmp_path / "run")
    path = tmp_path / "run" / "metrics.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert runs.read_metrics(tmp_path / "run")[1].diagnostics == lines[1]["diagnostics"]
    damage(lines[1]["diagnostics"])
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(CheckpointError, match="metrics.jsonl: line 2 is damaged"):
        runs.read_metrics(tmp_path / "run")
