"""bpnet.data: IDX parsing, verification against checksums, splits and scaling.

Handcrafted IDX bytes by default; a few tests read the real (read-only) MNIST files.
"""

import dataclasses
import gzip
import hashlib
import os
import shutil
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpnet import data
from bpnet.data import (
    FILES, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, columns, one_hot, parse_idx,
    read_verified, resolve_data_dir, scale_rows, split_validation,
)
from bpnet.errors import DataError, DownloadError

MNIST = data.DATASETS["mnist"]
INVOCATION_DIR = data.Path.cwd()     # a relative $BPNET_DATA_DIR (as CI sets it) is meant from here


@pytest.fixture
def real(mnist_gz_dir):
    """The real MNIST folder as an absolute path."""
    return (INVOCATION_DIR / mnist_gz_dir).resolve()


# ----------------------------------------------------------------------------- helpers

def idx_images(images, dims=None, type_code=0x08, ndim=3):
    """IDX bytes for uint8 images (N, 28, 28); ``dims`` overrides the header's dimensions."""
    images = np.asarray(images, dtype=np.uint8)
    dims = images.shape if dims is None else dims
    header = bytes([0, 0, type_code, ndim]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return header + images.tobytes()


def idx_labels(labels, count=None):
    labels = np.asarray(labels, dtype=np.uint8)
    count = len(labels) if count is None else count
    return bytes([0, 0, 0x08, 1]) + int(count).to_bytes(4, "big") + labels.tobytes()


def parse_error(raw, ndim, expected_count=None, label="f.idx"):
    with pytest.raises(DataError) as info:
        parse_idx(raw, label, ndim, expected_count)
    message = str(info.value)
    assert message.startswith(label + ": ") and "\n" not in message, message
    return message


@pytest.fixture
def offline(monkeypatch):
    """No test here may reach the network: every mirror is a refused local port, retries are instant."""
    from bpnet import download as dl

    monkeypatch.setenv("BPNET_MIRROR", "http://127.0.0.1:9/")
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setitem(data.DATASETS, "mnist", dataclasses.replace(MNIST, mirrors=("http://127.0.0.1:9/x/",)))
    monkeypatch.setitem(dl.download.__kwdefaults__, "backoff", 0.0)
    monkeypatch.setitem(dl.download.__kwdefaults__, "attempts", 1)


@pytest.fixture
def tiny_dataset(monkeypatch, tmp_path, offline):
    """A folder with a tiny valid 'mnist' (3 train, 2 test examples); sizes and checksums patched to match."""
    rng = np.random.default_rng(0)
    raws = {
        TRAIN_IMAGES: idx_images(rng.integers(0, 256, (3, 28, 28))),
        TRAIN_LABELS: idx_labels([1, 2, 3]),
        TEST_IMAGES: idx_images(rng.integers(0, 256, (2, 28, 28))),
        TEST_LABELS: idx_labels([9, 0]),
    }

    def install(raws):
        folder = tmp_path / "tiny"
        folder.mkdir(exist_ok=True)
        for name, raw in raws.items():
            monkeypatch.setitem(data.EXPECTED_BYTES, name, len(raw))
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
        sha = {name: hashlib.sha256(raw).hexdigest() for name, raw in raws.items()}
        monkeypatch.setitem(data.DATASETS, "mnist", dataclasses.replace(data.DATASETS["mnist"], sha256=sha))
        return folder

    install.raws = raws
    return install


# ----------------------------------------------------------------------------- parse_idx

def test_parse_images_round_trip():
    images = np.random.default_rng(1).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    rows = parse_idx(idx_images(images), "x", ndim=3, expected_count=4)
    assert rows.shape == (4, 784) and rows.dtype == np.uint8
    np.testing.assert_array_equal(rows, images.reshape(4, 784))


def test_parse_labels_round_trip():
    labels = parse_idx(idx_labels([0, 9, 5, 5]), "x", ndim=1)
    assert labels.dtype == np.uint8
    assert labels.tolist() == [0, 9, 5, 5]


def test_parse_empty_files():
    assert parse_idx(idx_labels([]), "x", ndim=1).shape == (0,)
    assert parse_idx(idx_images(np.zeros((0, 28, 28))), "x", ndim=3).shape == (0, 784)


@pytest.mark.parametrize("magic", [b"\x00\x00\x09\x03", b"\x01\x00\x08\x03", b"PK\x03\x04", b"\x1f\x8b\x08\x00"])
def test_wrong_magic(magic):
    raw = magic + idx_images(np.zeros((1, 28, 28)))[4:]
    assert "not an IDX file of unsigned bytes" in parse_error(raw, 3)


def test_wrong_ndim():
    assert parse_error(idx_labels(range(10)), ndim=3) == "f.idx: expected 3 dimensions, got 1"
    raw = idx_images(np.zeros((1, 28, 28)))
    assert parse_error(raw, ndim=1) == "f.idx: expected 1 dimensions, got 3"


def test_wrong_image_size():
    raw = idx_images(np.zeros((2, 27, 28)))
    assert parse_error(raw, 3) == "f.idx: expected 28x28 images, got 27x28"


def test_truncated_body():
    raw = idx_images(np.zeros((3, 28, 28)))
    assert parse_error(raw[:1200], 3) == f"f.idx: expected {16 + 3 * 784} bytes, got 1200"


def test_trailing_bytes():
    raw = idx_labels([1, 2]) + b"\x00"
    assert parse_error(raw, 1) == "f.idx: expected 10 bytes, got 11"


def test_count_in_header_disagrees_with_body():
    assert parse_error(idx_labels([1, 2, 3], count=5), 1) == "f.idx: expected 13 bytes, got 11"


def test_truncated_header():
    assert parse_error(b"\x00\x00\x08", 3) == "f.idx: expected an IDX header of 16 bytes, got 3"


def test_expected_count():
    assert parse_error(idx_labels([1, 2]), 1, expected_count=3) == "f.idx: expected 3 items, got 2"


def test_label_out_of_range():
    assert parse_error(idx_labels([3, 10, 2]), 1) == "f.idx: label 10 is outside 0-9"
    assert "label 255" in parse_error(idx_labels([255]), 1)


# ----------------------------------------------------------------------------- read_verified

@pytest.fixture
def real_test_labels(real):
    """The decompressed real t10k labels (10,008 bytes)."""
    return gzip.decompress((real / (TEST_LABELS + ".gz")).read_bytes())


def verify_error(path, name=TEST_LABELS, dataset=MNIST):
    with pytest.raises(DataError) as info:
        read_verified(path, name, dataset)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message


def test_real_file_verifies_gz_and_raw(tmp_path, real_test_labels, real):
    assert read_verified(real / (TEST_LABELS + ".gz"), TEST_LABELS, MNIST) == real_test_labels
    raw = tmp_path / TEST_LABELS
    raw.write_bytes(real_test_labels)
    assert read_verified(raw, TEST_LABELS, MNIST) == real_test_labels


def test_truncated_gz(tmp_path, real):
    gz = (real / (TEST_LABELS + ".gz")).read_bytes()
    path = tmp_path / (TEST_LABELS + ".gz")
    path.write_bytes(gz[:len(gz) // 2])
    assert "not a complete gzip file" in verify_error(path)


def test_not_gzip_at_all(tmp_path):
    path = tmp_path / (TEST_LABELS + ".gz")
    path.write_bytes(b"<html>captive portal</html>")
    assert "not a complete gzip file" in verify_error(path)


def test_complete_gzip_of_a_short_file(tmp_path, real_test_labels):
    path = tmp_path / (TEST_LABELS + ".gz")
    path.write_bytes(gzip.compress(real_test_labels[:1200]))
    assert verify_error(path) == f"{path}: expected 10008 bytes, got 1200"


def test_truncated_raw_file(tmp_path, real_test_labels):
    path = tmp_path / TEST_LABELS
    path.write_bytes(real_test_labels[:1200])
    assert verify_error(path) == f"{path}: expected 10008 bytes, got 1200"


def peak_bytes(call):
    """Call ``call()``; the most memory Python allocated meanwhile, and the result."""
    tracemalloc.start()
    try:
        result = call()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def test_gzip_bomb_is_refused_without_inflating_it(tmp_path):
    path = tmp_path / (TEST_LABELS + ".gz")
    path.write_bytes(gzip.compress(b"\0" * 50_000_000))        # 48 KB that inflate to 50 MB
    assert path.stat().st_size < data.gz_size_limit(TEST_LABELS)  # so it is read, not refused by size
    peak, message = peak_bytes(lambda: verify_error(path))
    assert message == f"{path}: expected 10008 bytes, got more than 10008"
    assert peak < 1_000_000, f"{peak} bytes allocated for a 10,008-byte file"


def test_gunzip_inflates_no_more_than_the_limit_allows():
    gz = gzip.compress(b"x" * 10)
    assert data.gunzip(gz, 10) == b"x" * 10
    assert data.gunzip(gz, 11) == b"x" * 10       # short: verify reports the length
    with pytest.raises(DataError, match=r"^expected 9 bytes, got more than 9$"):
        data.gunzip(gz, 9)


@pytest.mark.parametrize("size", [10009, 64 << 20])
def test_raw_file_of_another_size_is_refused_unread(tmp_path, size):
    path = tmp_path / TEST_LABELS
    with open(path, "wb") as f:
        f.truncate(size)                          # sparse: costs no disk
    peak, message = peak_bytes(lambda: verify_error(path))
    assert message == f"{path}: expected 10008 bytes, got {size}"
    assert peak < 1_000_000


@pytest.mark.parametrize("extra", [0, 1, 64 << 20])
def test_gz_larger_than_any_gzip_of_the_file_is_refused_unread(tmp_path, extra):
    limit = data.gz_size_limit(TEST_LABELS)
    assert limit == 10008 + 100 + 65536
    path = tmp_path / (TEST_LABELS + ".gz")
    with open(path, "wb") as f:
        f.truncate(limit + extra)
    peak, message = peak_bytes(lambda: verify_error(path))
    if extra == 0:                                # at the limit it is read, and is no gzip
        assert "not a complete gzip file" in message, message
    else:
        assert message == (f"{path}: {limit + extra} bytes, too large to be a gzip of {TEST_LABELS} "
                           f"(at most {limit} bytes for its 10008)")
        assert peak < 1_000_000


@pytest.mark.parametrize("tail", ["garbage", "second member"])
def test_anything_after_the_gzip_stream_is_refused(tmp_path, real_test_labels, tail):
    # The MNIST files are one gzip member each; bpnet accepts nothing else (see data.gunzip).
    if tail == "garbage":
        gz = gzip.compress(real_test_labels) + b"junk"
        after = 4
    else:
        second = gzip.compress(real_test_labels[5000:])
        gz = gzip.compress(real_test_labels[:5000]) + second
        after = len(second)
    path = tmp_path / (TEST_LABELS + ".gz")
    path.write_bytes(gz)
    assert verify_error(path) == f"{path}: not a single gzip stream ({after} more bytes after its end)"


def test_corrupt_gzip_fails_its_crc(tmp_path, real_test_labels):
    gz = bytearray(gzip.compress(real_test_labels))
    gz[-8] ^= 1                                   # the CRC-32 in the trailer
    path = tmp_path / (TEST_LABELS + ".gz")
    path.write_bytes(bytes(gz))
    message = verify_error(path)
    assert "not a complete gzip file" in message and "incorrect data check" in message, message


def test_right_length_wrong_checksum(tmp_path, real_test_labels):
    tampered = bytearray(real_test_labels)
    tampered[100] = (tampered[100] + 1) % 10                  # still a valid label
    path = tmp_path / (TEST_LABELS + ".gz")
    path.write_bytes(gzip.compress(bytes(tampered)))
    message = verify_error(path)
    assert "SHA-256" in message and f"does not match mnist's {TEST_LABELS}" in message


def test_unreadable_path(tmp_path):
    (tmp_path / TEST_LABELS).mkdir()
    assert "cannot read" in verify_error(tmp_path / TEST_LABELS)


def test_fashion_mnist_files_used_as_mnist(real, offline):
    fashion = real.parent / "fashion-mnist"
    if not (fashion / (TEST_LABELS + ".gz")).is_file():
        pytest.skip(f"no Fashion-MNIST files in {fashion}")
    message = verify_error(fashion / (TEST_LABELS + ".gz"))
    assert "SHA-256" in message and "another dataset" in message
    with pytest.raises(DataError, match="SHA-256 .* does not match mnist's .*another dataset"):
        data.load("mnist", fashion)
    # ...while they are exactly what fashion-mnist promises.
    assert read_verified(fashion / (TEST_LABELS + ".gz"), TEST_LABELS, data.DATASETS["fashion-mnist"])


# ----------------------------------------------------------------------------- load_files / load

def test_tiny_dataset_loads(tiny_dataset):
    folder = tiny_dataset(tiny_dataset.raws)
    mnist = data.load("mnist", folder, validation=1, seed=0)
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (2, 1, 2)
    assert sorted(mnist.train.labels.tolist() + mnist.val.labels.tolist()) == [1, 2, 3]
    assert mnist.test.labels.tolist() == [9, 0] and mnist.name == "mnist"


def test_raw_files_are_accepted(tiny_dataset):
    folder = tiny_dataset(tiny_dataset.raws)
    for name in FILES:
        gz = folder / (name + ".gz")
        (folder / name).write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    train, test = data.load_files(folder, data.DATASETS["mnist"])
    assert len(train) == 3 and len(test) == 2


def test_images_and_labels_count_mismatch(tiny_dataset):
    folder = tiny_dataset({**tiny_dataset.raws, TRAIN_LABELS: idx_labels([1, 2])})
    with pytest.raises(DataError) as info:
        data.load("mnist", folder, validation=0)
    assert str(info.value) == f"{folder}: {TRAIN_IMAGES} has 3 images but {TRAIN_LABELS} has 2 labels"


def test_valid_checksum_but_bad_idx_names_the_file(tiny_dataset):
    folder = tiny_dataset({**tiny_dataset.raws, TEST_LABELS: idx_labels([4, 12])})
    with pytest.raises(DataError, match=rf"{TEST_LABELS}\.gz: label 12 is outside 0-9"):
        data.load("mnist", folder, validation=0)


def test_validation_too_large(tiny_dataset):
    folder = tiny_dataset(tiny_dataset.raws)
    with pytest.raises(DataError, match="data.validation must be between 0 and 2, got 3"):
        data.load("mnist", folder, validation=3)


def test_missing_files_without_download_name_the_file(tmp_path, offline):
    with pytest.raises(DataError) as info:
        data.load("mnist", tmp_path, download=False)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / (TRAIN_IMAGES + '.gz')}: not found; run `bpnet download")


def test_missing_files_with_download_impossible(tmp_path, offline):
    folder = tmp_path / "empty"
    with pytest.raises(DownloadError) as info:
        data.load("mnist", folder)
    assert len(info.value.reasons) == 2
    assert all("127.0.0.1:9" in r and "connection refused" in r for r in info.value.reasons)
    assert not folder.exists()          # nothing half-downloaded, not even the folder


def test_truncated_local_file_is_not_downloaded_again(tiny_dataset):
    # A present-but-broken file is reported, not silently replaced (nothing is missing).
    folder = tiny_dataset(tiny_dataset.raws)
    gz = folder / (TEST_IMAGES + ".gz")
    gz.write_bytes(gz.read_bytes()[:20])
    with pytest.raises(DataError, match="not a complete gzip file"):
        data.load("mnist", folder)
    assert len(gz.read_bytes()) == 20


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'cifar'; choose from mnist, fashion-mnist"):
        data.load("cifar")


# ----------------------------------------------------------------------------- splits

@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 300), data_=st.data())
def test_split_validation_properties(n, data_):
    n_val = data_.draw(st.integers(0, n - 1))
    seed = data_.draw(st.integers(0, 2**32 - 1))
    images = np.arange(n)[:, None].repeat(3, axis=1)            # row i holds i: traceable
    labels = (np.arange(n) % 10).astype(np.uint8)
    train, val = split_validation(images, labels, n_val, seed)
    train_idx, val_idx = train.images[:, 0], val.images[:, 0]
    assert len(val) == n_val and len(train) == n - n_val
    assert not set(train_idx) & set(val_idx)                       # disjoint
    assert sorted(np.concatenate([train_idx, val_idx]).tolist()) == list(range(n))   # covers all
    assert (np.diff(train_idx) > 0).all() and (np.diff(val_idx) > 0).all()         # file order
    np.testing.assert_array_equal(train.labels, labels[train_idx])   # labels follow their images
    np.testing.assert_array_equal(val.labels, labels[val_idx])
    again_train, again_val = split_validation(images, labels, n_val, seed)
    np.testing.assert_array_equal(again_val.images, val.images)     # deterministic by seed
    np.testing.assert_array_equal(again_train.images, train.images)


def test_split_depends_on_the_seed():
    images, labels = np.arange(1000)[:, None], np.zeros(1000, np.uint8)
    _, a = split_validation(images, labels, 100, 0)
    _, b = split_validation(images, labels, 100, 1)
    assert not np.array_equal(a.images, b.images)


@pytest.mark.parametrize("n_val", [-1, 10, 11])
def test_split_out_of_range(n_val):
    with pytest.raises(DataError, match="data.validation must be between 0 and 9"):
        split_validation(np.zeros((10, 784), np.uint8), np.zeros(10, np.uint8), n_val, 0)


# ----------------------------------------------------------------------------- scaling

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_columns_and_one_hot(dtype):
    rows = np.array([[0] * 783 + [255], [128] * 784, list(range(256)) * 3 + [0] * 16], dtype=np.uint8)
    A0 = columns(rows, dtype)
    assert A0.shape == (784, 3) and A0.dtype == dtype
    assert A0.min() >= 0 and A0.max() <= 1
    assert A0[783, 0] == 1 and A0[0, 0] == 0
    np.testing.assert_allclose(A0, rows.T / 255.0, rtol=1e-6)
    Y = one_hot(np.array([3, 0, 9], np.uint8), dtype)
    assert Y.shape == (10, 3) and Y.dtype == dtype
    assert Y.sum(axis=0).tolist() == [1, 1, 1]
    assert np.argmax(Y, axis=0).tolist() == [3, 0, 9]


def test_one_hot_into_a_reused_buffer_clears_the_previous_labels():
    out = np.empty((10, 3), np.float32, order="F")
    one_hot(np.array([1, 2, 3]), out=out)
    Y = one_hot(np.array([3, 0, 9]), out=out)
    assert Y is out
    np.testing.assert_array_equal(Y, np.eye(10, dtype=np.float32)[:, [3, 0, 9]])

def test_float32_stays_float32():
    rows = np.full((2, 784), 200, np.uint8)
    assert scale_rows(rows).dtype == np.float32                  # the default
    assert scale_rows(rows, dtype=np.float32).dtype == np.float32
    out = np.empty((2, 784), np.float32)
    assert scale_rows(rows, out=out) is out
    split = data.Split(rows, np.array([1, 2], np.uint8))
    assert split.A0().dtype == np.float32 and split.Y().dtype == np.float32
    assert split.A0(np.float64).dtype == np.float64


def test_a_float64_buffer_is_scaled_in_float64():
    rows = np.arange(256, dtype=np.uint8).reshape(1, 256)
    out = scale_rows(rows, out=np.empty((1, 256), np.float64))
    np.testing.assert_array_equal(out, np.arange(256.0).reshape(1, 256) * (1 / 255))


# ----------------------------------------------------------------------------- the data folder

def test_resolve_data_dir_precedence(monkeypatch):
    monkeypatch.setenv("BPNET_DATA_DIR", "/env/dir")
    assert resolve_data_dir("/cli/dir", "/config/dir") == data.Path("/cli/dir")
    assert resolve_data_dir(None, "/config/dir") == data.Path("/env/dir")
    monkeypatch.delenv("BPNET_DATA_DIR")
    assert resolve_data_dir(None, "/config/dir") == data.Path("/config/dir")
    assert resolve_data_dir(None, None) == data.Path("data")
    assert resolve_data_dir(None, None, "fashion-mnist") == data.Path("data/fashion-mnist")   # own folder
    assert resolve_data_dir(None, "/config/dir", "fashion-mnist") == data.Path("/config/dir")
    monkeypatch.setenv("BPNET_DATA_DIR", "")                      # empty counts as unset
    assert resolve_data_dir() == data.Path("data")
    monkeypatch.setenv("HOME", "/home/someone")
    assert resolve_data_dir("~/mnist") == data.Path("/home/someone/mnist")


def test_load_uses_the_environment_when_no_folder_is_given(tiny_dataset, monkeypatch, tmp_path):
    folder = tiny_dataset(tiny_dataset.raws)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BPNET_DATA_DIR", str(folder))
    assert len(data.load("mnist", validation=0).test) == 2
    monkeypatch.delenv("BPNET_DATA_DIR")
    shutil.move(str(folder), str(tmp_path / "data"))              # ./data is the last resort
    assert len(data.load("mnist", validation=0).test) == 2


# ----------------------------------------------------------------------------- real data

def test_real_mnist_from_the_read_only_folder(real, offline):
    folder = real
    before = sorted(os.listdir(folder))
    mnist = data.load("mnist", folder, validation=5000, seed=0)
    assert sorted(os.listdir(folder)) == before                    # nothing written there
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (55000, 5000, 10000)
    assert mnist.train.images.shape == (55000, 784) and mnist.train.images.dtype == np.uint8
    assert mnist.test.labels.min() == 0 and mnist.test.labels.max() == 9
    # The validation examples are exactly those the seed's permutation holds out, disjoint from train.
    train_idx, val_idx = (s.images[:, 0] for s in
                          split_validation(np.arange(60000)[:, None], np.zeros(60000, np.uint8), 5000, 0))
    assert not set(train_idx) & set(val_idx)
    full, _ = data.load_files(folder, MNIST)
    np.testing.assert_array_equal(mnist.val.images, full.images[val_idx])
    np.testing.assert_array_equal(mnist.train.labels, full.labels[train_idx])


def test_load_looks_for_a_dataset_in_its_own_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BPNET_DATA_DIR", raising=False)
    with pytest.raises(DataError, match=r"^data/fashion-mnist/train-images-idx3-ubyte\.gz: not found"):
        data.load("fashion-mnist", download=False)
