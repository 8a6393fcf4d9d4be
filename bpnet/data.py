"""MNIST-format datasets: find, verify and parse the IDX files, split and scale them.

The seeds feed the network column matrices: A⁰ of shape (784, N) with pixel
values in [0, 1], and one-hot targets Y of shape (10, N). In memory bpnet keeps
the images as uint8 rows, (N, 784), one contiguous row per example: a shuffled
minibatch is then a gather of whole rows, and its column matrix is the
transposed view ``rows.T`` (see :func:`columns`), so no strided copy is made.
"""

import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

N_PIXELS = 28 * 28
N_CLASSES = 10

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# Exact byte length of each decompressed file: a 16-byte header + 28*28 per image,
# an 8-byte header + 1 per label.
EXPECTED_BYTES = {
    TRAIN_IMAGES: 16 + 60000 * N_PIXELS,
    TRAIN_LABELS: 8 + 60000,
    TEST_IMAGES: 16 + 10000 * N_PIXELS,
    TEST_LABELS: 8 + 10000,
}


@dataclass(frozen=True)
class Dataset:
    """A named MNIST-format dataset: its mirrors and the SHA-256 of each decompressed file."""

    name: str
    mirrors: tuple
    sha256: dict


DATASETS = {
    "mnist": Dataset(
        name="mnist",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        sha256={
            TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
    ),
    "fashion-mnist": Dataset(
        name="fashion-mnist",
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        sha256={
            TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    ),
}


def get_dataset(name):
    """The :class:`Dataset` called ``name``; a :class:`DataError` naming the choices otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}") from None


def resolve_data_dir(cli_dir=None, config_dir=None, dataset="mnist"):
    """The data folder: ``--data-dir`` > ``BPNET_DATA_DIR`` > config ``data.dir`` > ``./data``.

    The default for a dataset other than MNIST is ``./data/<dataset>``: every dataset's
    files have the same names, so two of them must never share a folder.
    """
    for candidate in (cli_dir, os.environ.get("BPNET_DATA_DIR"), config_dir):
        if candidate:
            return Path(candidate).expanduser()
    return Path("data") if dataset == "mnist" else Path("data") / dataset


# ----------------------------------------------------------------------------- IDX files

def gunzip(raw, limit):
    """Decompress the gzip bytes ``raw``, which should hold ``limit`` bytes once inflated.

    Inflates at most ``limit`` + 1 bytes, so a gzip bomb costs no more memory than the
    file it pretends to be. A truncated, corrupt or overlong stream, or bytes after its
    end, is a :class:`DataError`. The MNIST files are single gzip members; a second
    member is refused like any other trailing data (accepting them would let a file of
    thousands of empty members cost quadratic time).
    """
    inflater = zlib.decompressobj(wbits=31)          # 31: a gzip header and trailer, CRC checked
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise DataError(f"not a complete gzip file ({exc})") from None
    if len(out) > limit:
        raise DataError(f"expected {limit} bytes, got more than {limit}")
    if not inflater.eof:
        raise DataError("not a complete gzip file (the compressed stream ends early)")
    if inflater.unused_data:
        raise DataError(f"not a single gzip stream ({len(inflater.unused_data)} more bytes after its end)")
    return out


def gz_size_limit(filename):
    """The most bytes a ``.gz`` of ``filename`` may have: expected + expected // 100 + 64 KiB.

    Deflate grows incompressible data by 5 bytes per 64 KiB block at worst, and gzip
    adds a header (perhaps with a file name) and an 8-byte trailer: anything larger is
    not this file, so it is neither read nor downloaded past this size.
    """
    expected = EXPECTED_BYTES[filename]
    return expected + expected // 100 + 64 * 1024


def parse_idx(raw, label, ndim, expected_count=None):
    """Parse IDX bytes into a uint8 array, validating everything the format promises.

    Images (type 0x08, ``ndim`` 3) come back as (N, 784) rows, labels (type 0x08,
    ``ndim`` 1) as (N,). ``label`` names the file in error messages.
    """
    is_images = ndim == 3
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(f"{label}: expected an IDX header of {header_len} bytes, got {len(raw)}")
    zero, type_code, file_ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00" or type_code != 0x08:
        raise DataError(f"{label}: not an IDX file of unsigned bytes (magic {raw[:4].hex()})")
    if file_ndim != ndim:
        raise DataError(f"{label}: expected {ndim} dimensions, got {file_ndim}")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if is_images and dims[1:] != [28, 28]:
        raise DataError(f"{label}: expected 28x28 images, got {dims[1]}x{dims[2]}")
    if expected_count is not None and dims[0] != expected_count:
        raise DataError(f"{label}: expected {expected_count} items, got {dims[0]}")
    expected_len = header_len + int(np.prod(dims))
    if len(raw) != expected_len:
        raise DataError(f"{label}: expected {expected_len} bytes, got {len(raw)}")
    array = np.frombuffer(raw, dtype=np.uint8, offset=header_len)
    if is_images:
        return array.reshape(dims[0], N_PIXELS)
    if array.size and array.max() >= N_CLASSES:
        raise DataError(f"{label}: label {int(array.max())} is outside 0-9")
    return array


def find_file(data_dir, filename):
    """The path of ``filename`` in ``data_dir``, gzipped or raw, or None."""
    for candidate in (Path(data_dir) / (filename + ".gz"), Path(data_dir) / filename):
        if candidate.is_file():
            return candidate
    return None


def verify(raw, filename, dataset, gzipped):
    """Check the bytes of the IDX file ``filename`` (gzipped or not): a complete gzip stream,
    the expected length and the dataset's published SHA-256; the decompressed bytes.

    Used for local files and for downloads alike; the :class:`DataError` names no file,
    since only the caller knows where the bytes came from.
    """
    expected = EXPECTED_BYTES[filename]
    if gzipped:
        raw = gunzip(raw, expected)
    if len(raw) != expected:
        raise DataError(f"expected {expected} bytes, got {len(raw)}")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != dataset.sha256[filename]:
        raise DataError(f"SHA-256 {digest[:12]}… does not match {dataset.name}'s {filename}; "
                        f"is it another dataset or a corrupted file?")
    return raw


def read_verified(path, filename, dataset):
    """Read a local IDX file (``.gz`` or raw) and :func:`verify` it; the decompressed bytes.

    A file whose size cannot be right (a raw file of another length, a ``.gz`` over
    :func:`gz_size_limit`) is refused from its size, without reading it.
    """
    label = str(path)
    gzipped = label.endswith(".gz")
    expected = EXPECTED_BYTES[filename]
    limit = gz_size_limit(filename) if gzipped else expected
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if not gzipped and size != expected:
                raise DataError(f"{label}: expected {expected} bytes, got {size}")
            if gzipped and size > limit:
                raise DataError(f"{label}: {size} bytes, too large to be a gzip of {filename} "
                                f"(at most {limit} bytes for its {expected})")
            raw = f.read(limit + 1)      # + 1: a file that grew since fstat cannot pass as whole
    except OSError as exc:
        raise DataError(f"{label}: cannot read ({exc.strerror or exc})") from None
    try:
        return verify(raw, filename, dataset, gzipped)
    except DataError as exc:
        raise DataError(f"{label}: {exc}") from None


def missing_files(data_dir):
    """The file names of the four IDX files not present in ``data_dir`` (in either form)."""
    return [name for name in FILES if find_file(data_dir, name) is None]


# ----------------------------------------------------------------------------- splits

@dataclass
class Split:
    """Examples of one split: ``images`` (N, 784) uint8 rows and ``labels`` (N,) uint8."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self):
        return len(self.labels)

    def A0(self, dtype=np.float32):
        """The column matrix A⁰ of the seeds, (784, N), pixels scaled to [0, 1]."""
        return columns(self.images, dtype)

    def Y(self, dtype=np.float32):
        """The one-hot target matrix Y, (10, N)."""
        return one_hot(self.labels, dtype)


@dataclass
class MNIST:
    """The three splits: ``train`` and ``val`` (held out of the 60,000) and ``test``."""

    train: Split
    val: Split
    test: Split
    name: str = "mnist"
    folder: "Path | None" = None      # where the files were read, absolute; None if not from files
    seed: "int | None" = None         # the seed of the validation split; None if not made by load


def scale_rows(rows, out=None, dtype=np.float32):
    """uint8 pixel rows (N, 784) to floats in [0, 1], written into ``out`` if given.

    The result's dtype is ``out``'s if given (``dtype`` is then ignored), else ``dtype``;
    the scale is a scalar of that dtype, so numpy neither promotes float32 to float64
    nor scales float64 with a float32 1/255.
    """
    dtype = np.dtype(out.dtype if out is not None else dtype)
    if out is None:
        out = np.empty(rows.shape, dtype=dtype)
    # Converting first and scaling in place measured ~10% faster than one mixed-type multiply.
    np.copyto(out, rows)
    out *= dtype.type(1.0 / 255.0)
    return out


def columns(rows, dtype=np.float32):
    """A⁰ = the scaled rows as a (784, N) column matrix (a transposed view of fresh rows)."""
    return scale_rows(rows, dtype=dtype).T


def one_hot(labels, dtype=np.float32, out=None):
    """Y with Y[k, n] = 1 where labels[n] == k, shape (10, N), written into ``out`` if given."""
    if out is None:
        Y = np.zeros((N_CLASSES, len(labels)), dtype=dtype)
    else:
        Y = out
        Y.fill(0)
    Y[labels, np.arange(len(labels))] = 1
    return Y


def split_validation(images, labels, n_val, seed):
    """Hold ``n_val`` examples out of the training set, chosen by a permutation from ``seed``."""
    if not 0 <= n_val < len(labels):
        raise DataError(f"data.validation must be between 0 and {len(labels) - 1}, got {n_val}")
    order = np.random.default_rng(seed).permutation(len(labels))
    # Sorting each side keeps the rows in file order: reproducible and cache-friendly.
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    return Split(images[train_idx], labels[train_idx]), Split(images[val_idx], labels[val_idx])


def load_files(data_dir, dataset):
    """Read and validate the four files of ``dataset`` from ``data_dir``; (train, test) Splits."""
    data_dir = Path(data_dir)
    arrays = {}
    for name in FILES:
        path = find_file(data_dir, name)
        if path is None:
            raise DataError(
                f"{data_dir / (name + '.gz')}: not found; run `bpnet download --dataset {dataset.name}` "
                f"or point --data-dir / BPNET_DATA_DIR at a folder that has it"
            )
        raw = read_verified(path, name, dataset)
        arrays[name] = parse_idx(raw, str(path), ndim=3 if "idx3" in name else 1)
    splits = []
    for images, labels in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        if len(arrays[images]) != len(arrays[labels]):
            raise DataError(
                f"{data_dir}: {images} has {len(arrays[images])} images but "
                f"{labels} has {len(arrays[labels])} labels"
            )
        splits.append(Split(arrays[images], arrays[labels]))
    return splits


def load(dataset="mnist", data_dir=None, validation=5000, seed=0, download=True, progress=None):
    """Load a dataset as an :class:`MNIST` of three splits, downloading what is missing.

    ``data_dir`` defaults as in :func:`resolve_data_dir`. ``progress`` is passed to
    the downloader (a tqdm-like factory, or None for silence).
    """
    ds = get_dataset(dataset)
    data_dir = resolve_data_dir(data_dir, dataset=ds.name)
    if download and missing_files(data_dir):
        from .download import download as fetch

        fetch(ds.name, data_dir, progress=progress)
    train, test = load_files(data_dir, ds)
    train, val = split_validation(train.images, train.labels, validation, seed)
    return MNIST(train=train, val=val, test=test, name=ds.name, folder=data_dir.resolve(), seed=seed)
