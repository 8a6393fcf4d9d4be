"""bpnet.checkpoint: atomic saves, exact round trips, and refusal of anything tampered with."""

import io
import json
import math
import os
import pickle
import stat
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from bpnet import checkpoint
from bpnet.cli import cli
from bpnet.config import from_dict
from bpnet.errors import BpnetError, CheckpointError
from bpnet.network import Network

HIDDEN = [3]


def tiny_config(hidden=HIDDEN, dtype="float32"):
    return from_dict({"model": {"hidden": list(hidden)}, "train": {"dtype": dtype, "optimizer": "adam"}})


def tiny_network(hidden=HIDDEN, dtype=np.float32, seed=0):
    return Network([784, *hidden, 10], dtype=dtype).initialise("he", np.random.default_rng(seed))


def save_tiny(path, hidden=HIDDEN, dtype="float32", meta=None, optimizer_state=None):
    network = tiny_network(hidden, np.dtype(dtype))
    checkpoint.save(path, network, tiny_config(hidden, dtype), meta=meta, optimizer_state=optimizer_state)
    return network


def arrays_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def tamper(tmp_path, change, name="tampered.npz"):
    """Save a good tiny checkpoint, let ``change(arrays)`` edit its arrays, and write them back."""
    good = tmp_path / "good.npz"
    save_tiny(good)
    arrays = arrays_of(good)
    change(arrays)
    path = tmp_path / name
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def set_meta(arrays, **changes):
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes)
    arrays["meta"] = np.array(json.dumps(meta))


def load_error(path):
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(str(path)), message
    return message


def run_eval(path):
    """``bpnet eval PATH`` in-process; the result (stderr separate from stdout)."""
    return CliRunner().invoke(cli, ["eval", str(path)])


def explain(result):
    return f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n{result.exception!r}"


# ----------------------------------------------------------------------------- round trip

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip(tmp_path, dtype):
    path = tmp_path / "c.npz"
    state = {"t": np.array(7), "m_W1": np.full((3, 784), 0.5, dtype), "v_b2": np.arange(10.0).reshape(10, 1)}
    network = save_tiny(path, dtype=dtype, meta={"epoch": 4, "step": 99, "note": "ü"}, optimizer_state=state)
    ckpt = checkpoint.load(path)
    assert ckpt.network.sizes == [784, 3, 10]
    assert ckpt.network.dtype == np.dtype(dtype)
    for (name, want), (name2, got) in zip(network.parameters(), ckpt.network.parameters()):
        assert name == name2 and got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, want)
    assert ckpt.config == tiny_config(dtype=dtype)
    assert ckpt.meta["epoch"] == 4 and ckpt.meta["step"] == 99 and ckpt.meta["note"] == "ü"
    assert ckpt.meta["format"] == 1 and "bpnet_version" in ckpt.meta
    assert set(ckpt.optimizer_state) == set(state)
    for key, value in state.items():
        assert ckpt.optimizer_state[key].dtype == value.dtype
        np.testing.assert_array_equal(ckpt.optimizer_state[key], value)
    # The loaded network computes exactly what the saved one did.
    A0 = np.random.default_rng(1).uniform(0, 1, (784, 5)).astype(dtype)
    np.testing.assert_array_equal(ckpt.network.predict_proba(A0), network.predict_proba(A0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_checkpoint_from_a_machine_of_the_other_byte_order_loads(tmp_path, dtype):
    """np.savez keeps an array's byte order: a big-endian machine writes >f4 and >U metadata."""
    path = tmp_path / "c.npz"
    network = save_tiny(path, dtype=dtype, optimizer_state={"u_W1": np.full((3, 784), 0.5, dtype)})
    swapped = {name: array.astype(array.dtype.newbyteorder("S")) for name, array in arrays_of(path).items()}
    assert all(not array.dtype.isnative for array in swapped.values())
    np.savez(path, **swapped)
    ckpt = checkpoint.load(path)
    for (_, want), (_, got) in zip(network.parameters(), ckpt.network.parameters()):
        assert got.dtype == np.dtype(dtype) and got.dtype.isnative
        np.testing.assert_array_equal(got, want)
    assert ckpt.optimizer_state["u_W1"].dtype.isnative and ckpt.optimizer_state["u_W1"][0, 0] == 0.5


def test_no_hidden_layer_round_trip(tmp_path):
    path = tmp_path / "c.npz"
    network = save_tiny(path, hidden=[])
    ckpt = checkpoint.load(path)
    assert ckpt.network.sizes == [784, 10] and ckpt.config.model.hidden == []
    np.testing.assert_array_equal(ckpt.network.W[1], network.W[1])


def test_optimizer_state_round_trips_through_a_real_optimizer(tmp_path):
    from bpnet.optim import make_optimizer

    network = tiny_network()
    config = tiny_config()
    optimizer = make_optimizer(config.train)
    grads = [np.ones_like(p) for _, p in network.parameters()]
    optimizer.step(network.parameters(), grads)
    path = tmp_path / "c.npz"
    checkpoint.save(path, network, config, optimizer_state=optimizer.state)
    again = make_optimizer(config.train)
    again.load_state(checkpoint.load(path).optimizer_state)
    assert set(again.state) == set(optimizer.state)
    for key in optimizer.state:
        np.testing.assert_array_equal(again.state[key], optimizer.state[key])


def test_a_compressed_npz_loads_too(tmp_path):
    # bpnet writes stored members; np.savez_compressed deflates them (and each member is rewound after its header check)
    path = tmp_path / "c.npz"
    network = save_tiny(path)
    np.savez_compressed(tmp_path / "z.npz", **arrays_of(path))
    with zipfile.ZipFile(tmp_path / "z.npz") as z:
        assert {info.compress_type for info in z.infolist()} == {zipfile.ZIP_DEFLATED}
    np.testing.assert_array_equal(checkpoint.load(tmp_path / "z.npz").network.W[1], network.W[1])


def test_a_saved_checkpoint_is_never_pickled(tmp_path):
    path = tmp_path / "c.npz"
    save_tiny(path, optimizer_state={"t": np.array(3)})
    arrays = arrays_of(path)       # allow_pickle=False: raises if anything needed pickle
    assert all(a.dtype != object for a in arrays.values())


# ----------------------------------------------------------------------------- atomic writes

def test_save_leaves_no_temporary_file(tmp_path):
    save_tiny(tmp_path / "c.npz")
    save_tiny(tmp_path / "c.npz")    # overwriting, too
    assert os.listdir(tmp_path) == ["c.npz"]


def test_file_permissions_follow_the_umask_not_0600(tmp_path):
    path = tmp_path / "c.npz"
    old = os.umask(0o022)
    try:
        save_tiny(path)
    finally:
        os.umask(old)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o644, oct(mode)


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch, exc):
    path = tmp_path / "c.npz"
    save_tiny(path)
    before = path.read_bytes()

    def savez_then_fail(f, **arrays):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise exc

    monkeypatch.setattr(checkpoint.np, "savez", savez_then_fail)
    with pytest.raises((BpnetError, KeyboardInterrupt)) as info:
        save_tiny(path, hidden=[5])
    if isinstance(exc, OSError):
        assert str(info.value) == f"{path}: cannot save checkpoint (No space left on device)"
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]     # no .tmp left behind
    monkeypatch.undo()
    assert checkpoint.load(path).network.sizes == [784, 3, 10]


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint.np, "savez", lambda f, **a: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(BpnetError, match="cannot save checkpoint"):
        save_tiny(tmp_path / "c.npz")
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_folder_is_one_clear_error(tmp_path):
    with pytest.raises(BpnetError) as info:
        save_tiny(tmp_path / "nope" / "c.npz")
    assert "cannot save checkpoint" in str(info.value) and "\n" not in str(info.value)


# ----------------------------------------------------------------------------- tampered checkpoints

def drop(name):
    return lambda arrays: arrays.pop(name)


def replace(name, value):
    return lambda arrays: arrays.__setitem__(name, value)


TAMPERED = {
    "missing W2": (drop("W2"), "array W2 is missing"),
    "missing b1": (drop("b1"), "array b1 is missing"),
    "wrong W1 shape": (replace("W1", np.zeros((10, 783), np.float32)), "W1 (10, 783) and b1 (3, 1) do not match"),
    "shapes do not chain": (replace("W2", np.zeros((10, 4), np.float32)), "expected (10, 3) and (10, 1)"),
    "wrong bias shape": (replace("b1", np.zeros((3,), np.float32)), "do not match the layer sizes 784-3-10"),
    "extra layer": (replace("W3", np.zeros((10, 10), np.float32)), "more layers than its config describes"),
    "int weights": (replace("W1", np.zeros((3, 784), np.int64)), "W1 has dtype int64, expected float32 or float64"),
    "complex weights": (replace("b2", np.zeros((10, 1), np.complex64)), "b2 has dtype complex64"),
    "NaN": (lambda a: a["W2"].__setitem__((0, 0), np.nan), "W2 holds NaN or infinite values"),
    "inf": (lambda a: a["b1"].__setitem__((1, 0), -np.inf), "b1 holds NaN or infinite values"),
    "mixed dtypes": (replace("W2", np.zeros((10, 3), np.float64)), "do not share one dtype"),
    "missing meta": (drop("meta"), "has no metadata"),
    "meta not a string": (replace("meta", np.array([1, 2])), "has no metadata"),
    "meta not JSON": (replace("meta", np.array("{not json")), "metadata is not valid JSON"),
    "meta a JSON list": (replace("meta", np.array("[1, 2]")), "metadata has no config"),
    "meta without config": (lambda a: a.__setitem__("meta", np.array(json.dumps({"epoch": 1}))),
                            "metadata has no config"),
    "invalid config": (lambda a: set_meta(a, config={"train": {"lr": -1}}),
                       "its config is invalid: train.lr must be > 0, got -1"),
    "config unknown key": (lambda a: set_meta(a, config={"model": {"layers": 3}}),
                           "its config is invalid: unknown key model.layers"),
    "config not a mapping": (lambda a: set_meta(a, config=[1]), "its config is invalid"),
    "format from the future": (lambda a: set_meta(a, format=2), "checkpoint format 2 is not one this bpnet"),
    "format not a number": (lambda a: set_meta(a, format="1"), "checkpoint format '1' is not one"),
    "config disagrees with weights": (lambda a: set_meta(a, config={"model": {"hidden": [4]}}),
                                      "do not match the layer sizes 784-4-10"),
    # valid JSON, but json.loads would raise RecursionError
    "meta nested too deeply": (replace("meta", np.array("[" * 100_000 + "]" * 100_000)),
                               "its metadata is not valid JSON for bpnet (nested too deeply)"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_checkpoint_is_refused(tmp_path, case):
    change, expected = TAMPERED[case]
    path = tamper(tmp_path, change)
    message = load_error(path)
    assert expected in message, message


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_checkpoint_exits_2_from_eval(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    path = tamper(tmp_path, TAMPERED[case][0])
    assert_eval_refuses(path.name, TAMPERED[case][1])


def assert_eval_refuses(name, expected):
    """`bpnet eval name` (in the current folder) exits 2 with one Error line holding ``expected``."""
    result = run_eval(name)
    assert result.exit_code == 2, explain(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {name}: "), explain(result)
    assert expected in lines[0], explain(result)
    assert "Traceback" not in result.output + result.stderr


def npy_header(shape, descr="<f4"):
    """The bytes of a version 1.0 .npy header promising an array of ``shape`` and ``descr``."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


def with_member(name, payload, compression=zipfile.ZIP_STORED):
    """A writer of a good tiny checkpoint whose zip member ``name`` holds the bytes ``payload``."""
    def write(path):
        good = path.with_name("good.npz")
        save_tiny(good)
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                if info.filename == name:
                    dst.writestr(name, payload, compression)
                else:
                    dst.writestr(info.filename, src.read(info))
    return write


def with_deflated_big_network(hidden):
    """A checkpoint whose config declares ``hidden`` and whose W1 is deflated zeros of that
    shape: every size in it is honest, only the compression ratio gives it away."""
    def write(path):
        save_tiny(path)
        arrays = arrays_of(path)
        meta = json.loads(str(arrays.pop("meta")))
        meta["config"]["model"]["hidden"] = [hidden]
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
            dst.writestr("meta.npy", npy_bytes(np.array(json.dumps(meta))))
            dst.writestr("W1.npy", npy_bytes(np.zeros((hidden, 784), np.float32)))
    return write


def npy_bytes(array):
    out = io.BytesIO()
    np.lib.format.write_array(out, array)
    return out.getvalue()


def with_deflated_extra(name, shape):
    """A writer of a good tiny checkpoint plus a deflated member ``name`` of zeros of ``shape``:
    a few kilobytes on disk that state a large size honestly."""
    def write(path):
        save_tiny(path)
        with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as dst:
            with dst.open(name, "w", force_zip64=True) as member:
                member.write(npy_header(shape))
                zeros = bytes(1 << 20)
                for _ in range(math.prod(shape) * 4 // len(zeros)):
                    member.write(zeros)
    return write


# Files np.savez cannot write: {case: (write(path), what the error says)}.
def with_extra_member(name, payload):
    """A writer of a good tiny checkpoint with one more member, ``name``, holding ``payload``."""
    def write(path):
        save_tiny(path)
        with zipfile.ZipFile(path, "a") as dst:
            dst.writestr(name, payload)
    return write


def with_patched_member(name, payload, flags=0, method=None):
    """A writer of a good tiny checkpoint whose member ``name`` holds ``payload`` stored as is,
    with its zip headers then patched: general-purpose ``flags`` set, compression ``method``."""
    def write(path):
        with_member(name, payload)(path)
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            local = archive.getinfo(name).header_offset
        central = data.find(b"PK\x01\x02")                            # the central directory's entries
        while data[central + 46:central + 46 + len(name)] != name.encode():
            central = data.find(b"PK\x01\x02", central + 1)
        for flag_at, method_at in ((local + 6, local + 8), (central + 8, central + 10)):
            data[flag_at] |= flags
            if method is not None:
                data[method_at:method_at + 2] = method.to_bytes(2, "little")
        path.write_bytes(data)
    return write


def with_deflated_member(name, shape):
    """A writer of a good tiny checkpoint whose member ``name`` is deflated zeros of ``shape``."""
    def write(path):
        with_member(name, npy_header(shape, "<f8") + bytes(math.prod(shape) * 8), zipfile.ZIP_DEFLATED)(path)
    return write


CRAFTED = {
    "an encrypted member": (with_patched_member("b1.npy", npy_header((3, 1)) + bytes(12), flags=1),
                            "not a bpnet checkpoint (b1.npy is encrypted)"),
    "an unknown compression method": (with_patched_member("b1.npy", npy_header((3, 1)) + bytes(12), method=99),
                                      "b1.npy uses zip compression method 99, which zipfile cannot read"),
    "a deflated member that does not inflate": (with_patched_member("b1.npy", b"\xff" * 100, method=8),
                                                "not a readable .npz checkpoint (Error -3"),
    "metadata of 24 MiB": (with_deflated_member("meta.npy", (3 << 20,)),
                           "meta.npy holds 25165824 bytes, more than bpnet's metadata ever needs"),
    "a layer 0": (with_extra_member("W0.npy", npy_header((3, 1)) + bytes(12)),
                  "holds an array named 'W0', which is not bpnet's"),
    "just PK": (lambda path: path.write_bytes(b"PK"), "not a .npz checkpoint (not a zip archive)"),
    "a zip's first bytes": (lambda path: path.write_bytes(b"PK\x03\x04" + bytes(100)),
                            "not a .npz checkpoint (not a zip archive)"),
    "header claims a huge array": (
        with_member("W1.npy", npy_header((10**12, 784)) + bytes(16)),
        "W1.npy claims a (1000000000000, 784) float32 array of 3136000000000000 bytes but holds 16"),
    "header claims more than the data": (with_member("b1.npy", npy_header((3, 1)) + bytes(8)),
                                         "b1.npy claims a (3, 1) float32 array of 12 bytes but holds 8"),
    "data beyond the header's array": (with_member("b1.npy", npy_header((3, 1)) + bytes(16)),
                                       "b1.npy claims a (3, 1) float32 array of 12 bytes but holds 16"),
    "member not a .npy": (with_member("W1.npy", b"not an npy file"), "W1.npy is not a numpy array"),
    ".npy version 3": (with_member("W1.npy", b"\x93NUMPY\x03\x00" + bytes(100)), "W1.npy is .npy version (3, 0)"),
    "a deflated 64 MiB of zeros under a name of bpnet's": (
        with_deflated_extra("opt.u_W1.npy", (1 << 14, 1 << 10)),
        "opt.u_W1.npy holds 67108864 bytes, more than the network its config describes has there"),
    "a large network's weights, deflated zeros": (with_deflated_big_network(2000), "W1.npy inflates"),
    "an array under a name that is not bpnet's": (with_deflated_extra("big.npy", (1 << 10, 1 << 10)),
                                                  "holds an array named 'big', which is not bpnet's"),
    "optimiser state of a parameter that does not exist": (
        with_deflated_extra("opt.u_W7.npy", (1 << 8, 1 << 10)), "holds an array named 'opt.u_W7'"),
}


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_checkpoint_zipped_again_with_another_compression_loads(tmp_path, compression):
    save_tiny(tmp_path / "good.npz")
    with zipfile.ZipFile(tmp_path / "good.npz") as src, \
            zipfile.ZipFile(tmp_path / "again.npz", "w", compression) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    good, again = checkpoint.load(tmp_path / "good.npz"), checkpoint.load(tmp_path / "again.npz")
    for (name, expected), (_, loaded) in zip(good.network.parameters(), again.network.parameters()):
        np.testing.assert_array_equal(loaded, expected, err_msg=name)


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_file_is_refused(tmp_path, case):
    write, expected = CRAFTED[case]
    path = tmp_path / "crafted.npz"
    write(path)
    message = load_error(path)
    assert expected in message and "pickle" not in message, message


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_file_exits_2_from_eval(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    CRAFTED[case][0](tmp_path / "crafted.npz")
    assert_eval_refuses("crafted.npz", CRAFTED[case][1])


def test_a_run_stopped_before_it_wrote_best_npz_says_how_to_finish_it(tmp_path):
    save_tiny(tmp_path / "last.npz")
    message = load_error(tmp_path / "best.npz")
    assert message == (f"{tmp_path / 'best.npz'}: no such checkpoint; the run was stopped before its first "
                       f"reported epoch (train.log_every) wrote it: finish it with bpnet train --resume {tmp_path}")


def test_a_memory_error_while_reading_an_array_is_one_error(tmp_path, monkeypatch):
    # A zip can lie about a member's size too; then numpy's allocation fails, and says so.
    path = tmp_path / "c.npz"
    save_tiny(path)

    def out_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 2.85 PiB for an array")

    monkeypatch.setattr(np.lib.format, "read_array", out_of_memory)
    assert load_error(path) == f"{path}: an array is too large to load; not a bpnet checkpoint"


class _Boobytrap:
    """Unpickling this would create the marker file: loading must never get that far."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_object_array_is_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "PWNED"
    good = tmp_path / "good.npz"
    save_tiny(good)
    arrays = arrays_of(good)
    trap = np.empty(1, dtype=object)
    trap[0] = _Boobytrap(marker)
    arrays["W2"] = trap
    path = tmp_path / "evil.npz"
    np.savez(path, allow_pickle=True, **arrays)
    # The trap is armed: pickle would indeed run it.
    with zipfile.ZipFile(path) as z:
        assert b"PWNED" in z.read("W2.npy")
    assert not marker.exists()

    message = load_error(path)
    assert "pickle" in message
    assert not marker.exists()

    result = run_eval("evil.npz")
    assert result.exit_code == 2, explain(result)
    assert "pickle" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


def test_a_bare_pickle_file_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(_Boobytrap(marker)))
    load_error(path)
    assert not marker.exists()


@pytest.mark.parametrize("keep", [0, 10, 1000, -22, -1])
def test_truncated_checkpoint(tmp_path, keep):
    good = tmp_path / "good.npz"
    save_tiny(good)
    raw = good.read_bytes()
    path = tmp_path / "short.npz"
    path.write_bytes(raw[:keep] if keep >= 0 else raw[:len(raw) + keep])
    load_error(path)


def test_text_file_named_npz(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.npz").write_text("these are not weights\n")
    message = load_error("notes.npz")
    assert "not" in message and "pickle" not in message, message
    result = run_eval("notes.npz")
    assert result.exit_code == 2, explain(result)
    assert result.stderr.startswith("Error: notes.npz: ") and "Traceback" not in result.stderr


def test_a_single_npy_array_named_npz(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((3, 784), np.float32))
    load_error(path)


def test_a_zip_that_is_not_an_npz(tmp_path):
    path = tmp_path / "z.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("W1.npy", b"not an npy file")
        z.writestr("meta.npy", b"nor this")
    load_error(path)


def test_a_directory(tmp_path, monkeypatch):
    (tmp_path / "d.npz").mkdir()
    assert "is a folder" in load_error(tmp_path / "d.npz")
    monkeypatch.chdir(tmp_path)
    result = run_eval("d.npz")
    assert result.exit_code == 2, explain(result)
    assert "d.npz" in result.stderr and "directory" in result.stderr and "Traceback" not in result.stderr


def test_a_nonexistent_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_error("missing.npz") == "missing.npz: no such checkpoint"
    result = run_eval("missing.npz")
    assert result.exit_code == 2, explain(result)
    assert result.stderr == "Error: missing.npz: no such checkpoint\n", explain(result)
