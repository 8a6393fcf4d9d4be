"""Ctrl-C and SIGTERM on a real `bpnet train` process: save, exit 130/143, resume to the end."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bpnet import checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def start_training(tmp_path, data_dir, run):
    cmd = [sys.executable, "-m", "bpnet", "train", "--config", "mnist", "--data-dir", str(data_dir),
           "--out", str(run), "--set", "model.hidden=[16]", "--set", "train.epochs=4",
           "--set", "train.batch_size=16", "--set", "data.validation=1000"]
    return subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(stream, prefix, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if line.startswith(prefix):
            return line
        if not line:
            break
    raise AssertionError(f"no line starting with {prefix!r}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_last_checkpoint_and_resume_finishes(tmp_path, mnist_gz_dir, signum):
    run = tmp_path / "run"
    process = start_training(tmp_path, mnist_gz_dir, run)
    try:
        wait_for_line(process.stdout, "epoch 1/4")
        time.sleep(0.3)                                   # into epoch 2
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    message = stderr.strip().splitlines()[-1]
    assert message.startswith(f"Interrupted: interrupted by {signal.Signals(signum).name}; saved ")
    assert str(run / "last.npz") in message and "--resume" in message
    saved = checkpoint.load(run / "last.npz")
    assert saved.meta["epoch"] >= 1 and saved.meta["step"] > 0

    # The hint works as printed: no --data-dir, and no data where it runs (the run recorded its folder).
    command = message.split("continue with: ")[1].split()
    assert command[:3] == ["bpnet", "train", "--resume"]
    env = {k: v for k, v in os.environ.items() if k != "BPNET_DATA_DIR"}
    resumed = subprocess.run([sys.executable, "-m", "bpnet", *command[1:]],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4]
    assert checkpoint.load(run / "last.npz").meta["epoch"] == 4
    assert not (tmp_path / "data").exists()                              # nothing downloaded
    assert not [p for p in os.listdir(run) if p.endswith(".tmp")]


def test_sigterm_during_a_download_exits_143_and_leaves_no_file(tmp_path):
    """Outside the training loop SIGTERM is handled like Ctrl-C: one line, exit 143, no .part file."""
    import http.server
    import threading

    asked = threading.Event()

    class Stalling(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.set()
            self.send_response(200)
            self.send_header("Content-Length", "9912422")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + b"\0" * 4096)
            self.wfile.flush()
            time.sleep(20)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stalling)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    data_dir = tmp_path / "data"
    env = {**os.environ, "BPNET_MIRROR": f"http://127.0.0.1:{server.server_address[1]}/"}
    process = subprocess.Popen([sys.executable, "-m", "bpnet", "download", "--data-dir", str(data_dir), "-q"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert asked.wait(60), "the download never reached the server"
        deadline = time.monotonic() + 60                  # wait until the first bytes are in a .part file
        while not (data_dir.is_dir() and any(p.name.endswith(".part") for p in data_dir.iterdir())):
            assert time.monotonic() < deadline, "no .part file appeared"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
        server.shutdown()
    assert process.returncode == 143
    assert err.strip().splitlines()[-1].startswith("Interrupted:") and "Traceback" not in err
    assert not data_dir.exists() or not [p for p in data_dir.iterdir()]


def test_a_closed_output_pipe_ends_quietly_with_141(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "bpnet", "gradcheck", "--entries", "2"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()                                # the reader goes away at once, like `| head -0`
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert err == ""


def test_a_reader_that_goes_away_stops_training_after_saving(tmp_path, mnist_gz_dir):
    """`bpnet train | head -1`: exit 141 with the resume hint on stderr, and every epoch shown is saved."""
    run = tmp_path / "run"
    process = start_training(tmp_path, mnist_gz_dir, run)
    try:
        banner = process.stdout.readline()
        assert banner.startswith("Training "), banner
        process.stdout.close()                              # the reader goes away
        process.wait(timeout=120)
        stderr = process.stderr.read()
    finally:
        process.kill()
    assert process.returncode == 141, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert stderr.strip().splitlines()[-1] == (f"Interrupted: the reader of the output went away; saved "
                                                f"{run / 'last.npz'}; continue with: bpnet train --resume {run}")
    assert checkpoint.load(run / "last.npz").meta["epoch"] == 1


def test_a_reader_of_both_streams_that_goes_away_still_gives_141(tmp_path, mnist_gz_dir):
    """`bpnet train 2>&1 | head -1`: the resume hint cannot be written either, and the code stays 141."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "bpnet", "train", "--config", "mnist", "--data-dir", str(mnist_gz_dir),
           "--out", str(run), "--set", "model.hidden=[16]", "--set", "train.epochs=4",
           "--set", "train.batch_size=16", "--set", "data.validation=1000"]
    process = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout.readline().startswith("Training ")
        process.stdout.close()
        process.wait(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 141
    assert checkpoint.load(run / "last.npz").meta["epoch"] == 1
