"""bpnet.runs: run folders (created, refused, cleaned of a killed run's temporary files) and metrics.jsonl."""

import os

import pytest

from bpnet import runs, train as training
from bpnet.errors import BpnetError, ConfigError
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
