"""Checkpoints: one ``.npz`` with the parameters, the optimiser state and a JSON metadata string.

Arrays: ``W1..WL``, ``b1..bL`` (1-based like the math), ``opt.<key>`` for the
optimiser state, and ``meta``, a JSON string holding the resolved config, the
epoch, step, metrics, the bpnet version and the file's ``format`` (a later bpnet
that changes what is stored raises it, so this one refuses what it cannot read).
Files are written atomically and read without pickle; each array's .npy header is
checked against its size before the array is allocated, and everything read is
validated before it is used.
"""

import json
import math
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .config import from_dict
from .errors import BpnetError, CheckpointError, ConfigError
from .files import atomic_write
from .network import Network, mnist_sizes, parameter_sizes
from .optim import OPTIMIZERS, SCALARS

FORMAT = 1


@dataclass
class Checkpoint:
    network: Network
    config: object                      # bpnet.config.Config
    meta: dict = field(default_factory=dict)
    optimizer_state: dict = field(default_factory=dict)
    path: "Path | None" = None          # the file it was loaded from, resolved (runs/latest moves on)


def save(path, network, config, meta=None, optimizer_state=None):
    """Write a checkpoint to ``path`` atomically. ``meta`` is extra JSON-able metadata."""
    meta = dict(meta or {})
    meta.update(format=FORMAT, bpnet_version=__version__, config=config.to_dict())
    arrays = dict(network.parameters())
    for key, value in (optimizer_state or {}).items():
        arrays[f"opt.{key}"] = value
    arrays["meta"] = np.array(json.dumps(meta))
    try:
        atomic_write(path, lambda f: np.savez(f, **arrays))
    except OSError as exc:
        raise BpnetError(f"{path}: cannot save checkpoint ({exc.strerror or exc})") from None


# What keeps a small file from making the loader allocate gigabytes: each array may be no
# larger than its parameter is in float64 under the checkpoint's own config (1 MiB at
# least, so a wrong shape still gets its own message below), and a large member may not
# inflate more than 64x: np.savez stores arrays as they are, while a deflated member of
# zeros states its size honestly and so passes the header check.
MIN_MEMBER_LIMIT = 1 << 20
MAX_INFLATION = 64
# np.savez stores, np.savez_compressed deflates; a checkpoint re-zipped with bzip2 or LZMA loads too.
READABLE_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
SLOTS = {slot for optimizer in OPTIMIZERS.values() for slot in optimizer.slots}    # "u", "m", "v"


def _read(path):
    """The metadata, the config and the arrays (by name, ``W1.npy`` is ``W1``) of the .npz at
    ``path``: the metadata first, then only the arrays a network of its config can have."""
    try:
        with open(path, "rb") as f:
            # np.load would read anything else as a .npy or, from "PK" on, as a pickle
            if not zipfile.is_zipfile(f):
                raise CheckpointError(f"{path}: not a .npz checkpoint (not a zip archive)")
            with zipfile.ZipFile(f) as archive:
                members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
                if "meta" not in members:
                    raise CheckpointError(f"{path}: has no metadata; not a bpnet checkpoint")
                meta = _read_meta(path, _read_member(path, archive, members.pop("meta"), 16 * MIN_MEMBER_LIMIT))
                config = _read_config(path, meta)
                elements = parameter_sizes(mnist_sizes(config.model.hidden))
                limits = {name: _limit(path, name, elements) for name in members}     # names first
                arrays = {name: _read_member(path, archive, info, limits[name])
                          for name, info in members.items()}
                return meta, config, arrays
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint{_unfinished_hint(path)}") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file") from None
    except ValueError as exc:
        raise CheckpointError(f"{path}: not a bpnet checkpoint ({exc})") from None
    except MemoryError:      # a zip that lies about a member's size gets past _read_member's check
        raise CheckpointError(f"{path}: an array is too large to load; not a bpnet checkpoint") from None
    # RuntimeError: what zipfile raises for a member it cannot read, should one get past _read_member
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint ({exc})") from None


def _unfinished_hint(path):
    """Why a run folder may have no best.npz yet: it was stopped before an epoch was reported."""
    path = Path(path)
    if path.name == "best.npz" and (path.parent / "last.npz").is_file():
        return (f"; the run was stopped before its first reported epoch (train.log_every) wrote it: "
                f"finish it with bpnet train --resume {path.parent}")
    return ""


def _limit(path, name, elements):
    """The most bytes the member ``name`` may hold: W1..WL, b1..bL (``elements`` gives their
    entries) and their optimiser state (``opt.<slot>_<parameter>``, ``opt.t``, ``opt.lr``)
    are all there is."""
    key = name.removeprefix("opt.")
    slot, _, parameter = key.partition("_")
    if name in elements:
        n = elements[name]
    elif name.startswith("opt.") and key in SCALARS:
        n = 1
    elif name.startswith("opt.") and slot in SLOTS and parameter in elements:
        n = elements[parameter]
    elif name[:1] in "Wb" and name[1:].isdigit() and int(name[1:]) > 0:
        raise CheckpointError(f"{path}: has more layers than its config describes")
    else:
        raise CheckpointError(f"{path}: holds an array named {name[:40]!r}, which is not bpnet's")
    return max(8 * n, MIN_MEMBER_LIMIT)


def _read_member(path, archive, info, limit):
    """The array in the .npy member ``info``, its header checked before anything is allocated.

    A header promises shape and dtype, so prod(shape) * itemsize bytes of data; a member
    that does not hold exactly that many (a tiny file claiming a (10**12, 784) array), or
    more than ``limit`` bytes, is refused here, where np.load would first allocate them.
    """
    fmt = np.lib.format
    # Checked here so the message names the member, where zipfile's own error prints its repr.
    if info.flag_bits & 0x1:
        raise CheckpointError(f"{path}: not a bpnet checkpoint ({info.filename} is encrypted)")
    if info.compress_type not in READABLE_COMPRESSION:
        raise CheckpointError(f"{path}: not a bpnet checkpoint ({info.filename} uses zip compression "
                              f"method {info.compress_type}, which zipfile cannot read)")
    with archive.open(info) as member:
        if member.read(len(fmt.MAGIC_PREFIX)) != fmt.MAGIC_PREFIX:
            raise CheckpointError(f"{path}: not a bpnet checkpoint ({info.filename} is not a numpy array)")
        member.seek(0)
        version = fmt.read_magic(member)
        if version not in ((1, 0), (2, 0)):      # np.save writes 3.0 only for unicode field names
            raise CheckpointError(f"{path}: not a bpnet checkpoint ({info.filename} is .npy version {version})")
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read_header(member)
        if dtype.hasobject:
            raise CheckpointError(f"{path}: holds a pickled object; refusing to load it")
        claimed, held = math.prod(shape) * dtype.itemsize, info.file_size - member.tell()
        if claimed != held:
            raise CheckpointError(f"{path}: not a bpnet checkpoint ({info.filename} claims a {shape} {dtype} "
                                  f"array of {claimed} bytes but holds {held})")
        if claimed > limit:
            what = "bpnet's metadata ever needs" if info.filename == "meta.npy" else \
                "the network its config describes has there"
            raise CheckpointError(f"{path}: {info.filename} holds {claimed} bytes, more than {what}")
        if claimed > MIN_MEMBER_LIMIT and claimed > MAX_INFLATION * info.compress_size:
            fold = claimed // max(info.compress_size, 1)
            raise CheckpointError(f"{path}: {info.filename} inflates {fold}-fold; not an array bpnet wrote")
        member.seek(0)
        array = fmt.read_array(member, allow_pickle=False)
        # Written on a machine of the other byte order (">f4" on this one): the same numbers, in native order.
        return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def _read_meta(path, array):
    if array.dtype.kind != "U" or array.shape != ():
        raise CheckpointError(f"{path}: has no metadata; not a bpnet checkpoint")
    try:
        meta = json.loads(str(array))
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: its metadata is not valid JSON") from None
    except RecursionError:      # valid JSON, but nested deeper than Python's stack allows
        raise CheckpointError(f"{path}: its metadata is not valid JSON for bpnet (nested too deeply)") from None
    if not isinstance(meta, dict) or "config" not in meta:
        raise CheckpointError(f"{path}: its metadata has no config")
    version = meta.get("format", FORMAT)
    if type(version) is not int or not 1 <= version <= FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {version!r} is not one this bpnet "
                              f"{__version__} reads (format {FORMAT}); a newer bpnet wrote it?")
    return meta


def _read_config(path, meta):
    try:
        return from_dict(meta["config"])
    except ConfigError as exc:
        raise CheckpointError(f"{path}: its config is invalid: {exc}") from None


def _check_parameters(path, arrays, sizes):
    """Names W1..WL, b1..bL present, floating, finite, shapes chaining sizes[0] = 784 to sizes[L] = 10."""
    L = len(sizes) - 1
    for l in range(1, L + 1):
        for name in (f"W{l}", f"b{l}"):
            if name not in arrays:
                raise CheckpointError(f"{path}: array {name} is missing")
            if arrays[name].dtype not in (np.float32, np.float64):
                raise CheckpointError(f"{path}: {name} has dtype {arrays[name].dtype}, expected float32 or float64")
            if not np.isfinite(arrays[name]).all():
                raise CheckpointError(f"{path}: {name} holds NaN or infinite values")
        W, b = arrays[f"W{l}"], arrays[f"b{l}"]
        if W.shape != (sizes[l], sizes[l - 1]) or b.shape != (sizes[l], 1):
            raise CheckpointError(
                f"{path}: W{l} {W.shape} and b{l} {b.shape} do not match the layer sizes "
                f"{'-'.join(map(str, sizes))}; expected ({sizes[l]}, {sizes[l - 1]}) and ({sizes[l]}, 1)"
            )
    if len({arrays[f"{k}{l}"].dtype for k in "Wb" for l in range(1, L + 1)}) != 1:
        raise CheckpointError(f"{path}: the layers do not share one dtype")


def load(path):
    """Read and validate a checkpoint; a :class:`Checkpoint`, or a :class:`CheckpointError`."""
    meta, config, arrays = _read(path)
    sizes = mnist_sizes(config.model.hidden)
    _check_parameters(path, arrays, sizes)
    L = len(sizes) - 1
    network = Network.for_mnist(config.model, dtype=arrays["W1"].dtype)
    for l in range(1, L + 1):
        network.W[l][...] = arrays[f"W{l}"]
        network.b[l][...] = arrays[f"b{l}"]
    state = {k[4:]: v for k, v in arrays.items() if k.startswith("opt.")}
    return Checkpoint(network=network, config=config, meta=meta, optimizer_state=state, path=Path(path).resolve())
