"""Download the four gzipped IDX files of a dataset, trying each mirror in turn.

A file only lands in the data folder once every byte is verified: it is streamed
into a hidden ``.part`` file next to its destination, checked exactly as the loader
checks a local file (complete gzip, length, SHA-256), and only then renamed into
place (:func:`bpnet.files.atomic_write`). Any failure, Ctrl-C included, deletes
the ``.part`` file; a body longer than any gzip of the file could be is cut off
(:func:`bpnet.data.gz_size_limit`).

Transient failures (connection errors, timeouts, HTTP 5xx and 429) are retried
with exponential backoff; anything else (a 404, an HTML page, a bad checksum…)
cannot get better by asking again, so the next mirror is tried at once. When
every mirror fails, :class:`DownloadError` lists one reason per URL.

The library never prints: pass ``progress=tqdm.tqdm`` to see progress bars.
"""

import os
import time
from pathlib import Path

import requests
import urllib3

from . import data
from .errors import DataError, DownloadError
from .files import atomic_write, missing_folders, remove_empty_folders

CHUNK_BYTES = 1 << 16


class _Failed(Exception):
    """This URL cannot give us the file; the message is the one-line reason."""


class _Transient(_Failed):
    """A failure that may go away if we ask the same URL again."""


def mirror_urls(dataset):
    """Base URLs to try, in order: ``$BPNET_MIRROR`` if set, then the dataset's mirrors."""
    bases = list(dataset.mirrors)
    override = os.environ.get("BPNET_MIRROR")
    if override:
        bases.insert(0, override if override.endswith("/") else override + "/")
    return bases


def download(dataset_name, data_dir, progress=None, session=None, *,
             attempts=3, backoff=0.5, timeout=(10, 30), deadline=300.0):
    """Make sure the four files of ``dataset_name`` are in ``data_dir``; their paths.

    A file already there and valid (as ``<name>.gz`` or decompressed) is kept and
    not requested; a missing or invalid one is downloaded as ``<name>.gz``, unless it is an
    intact file of another dataset, which is never replaced.

    ``progress`` is a tqdm-like factory (or None for silence). ``session`` is a
    :class:`requests.Session` to reuse. Each URL gets ``attempts`` tries on
    transient failures, waiting ``backoff`` * 2**i seconds between them;
    ``timeout`` is requests' (connect, read) timeout and ``deadline`` caps the
    seconds one download may take. Raises :class:`DownloadError` when fetching fails, and
    :class:`bpnet.errors.DataError` for a folder it cannot make or another dataset's file.
    """
    dataset = data.get_dataset(dataset_name)
    data_dir = Path(data_dir)
    created = missing_folders(data_dir)
    _make_dir(data_dir)
    options = dict(progress=progress, attempts=attempts, backoff=backoff,
                   timeout=timeout, deadline=deadline)
    own_session = session is None
    session = requests.Session() if own_session else session
    try:
        return [_ensure(name, dataset, data_dir, session, options) for name in data.FILES]
    except BaseException:
        remove_empty_folders(created)     # a failed first download leaves no empty folders behind
        raise
    finally:
        if own_session:
            session.close()


def _make_dir(data_dir):
    if data_dir.exists() and not data_dir.is_dir():
        raise DataError(f"{data_dir}: is a file, not a data folder")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise DownloadError(f"cannot create the data folder {data_dir}: {reason}") from None


def _ensure(name, dataset, data_dir, session, options):
    """The path of a valid copy of ``name``, downloading it if needed."""
    local = _valid_local(data_dir, name, dataset)
    if local is not None:
        return local
    _refuse_other_datasets(data_dir, name, dataset)
    # An invalid local .gz is replaced only once a good copy is verified; an invalid
    # decompressed file is left alone but shadowed (find_file prefers the .gz).
    target = data_dir / (name + ".gz")
    reasons = []
    for base in mirror_urls(dataset):
        url = base + name + ".gz"
        try:
            _with_retries(lambda: _fetch(url, target, name, dataset, session, options), options)
            return target
        except _Failed as exc:
            reasons.append(f"{url}: {exc}")
    raise DownloadError(f"could not download {name}.gz from any mirror:", reasons)


def _valid_local(data_dir, name, dataset):
    """The local copy of ``name`` the loader would read, if it is valid; else None."""
    local = data.find_file(data_dir, name)
    if local is None:
        return None
    try:
        data.read_verified(local, name, dataset)
    except DataError:
        return None
    return local


def _refuse_other_datasets(data_dir, name, dataset):
    """A local file that is another dataset's ``name``, intact, is somebody's data: never
    replace it (the datasets' files share their names, not their contents)."""
    local = data.find_file(data_dir, name)
    if local is None:
        return
    for other in data.DATASETS.values():
        if other.name == dataset.name:
            continue
        try:
            data.read_verified(local, name, other)
        except DataError:
            continue
        raise DataError(f"{local}: is {other.name}'s {name}, not {dataset.name}'s; "
                        f"give {dataset.name} a folder of its own (--data-dir)")


def _with_retries(fetch, options):
    """Call ``fetch`` until it succeeds, retrying transient failures with backoff."""
    attempts = max(1, options["attempts"])
    for attempt in range(attempts):
        try:
            return fetch()
        except _Transient as exc:
            if attempt + 1 == attempts:
                tries = f" ({attempts} attempts)" if attempts > 1 else ""
                raise _Failed(f"{exc}{tries}") from None
            time.sleep(options["backoff"] * 2 ** attempt)


def _fetch(url, target, name, dataset, session, options):
    """One attempt: stream ``url`` into a temporary file beside ``target``, verify it, move it into place."""
    def write(part):
        _stream(url, part, name, session, options)
        part.seek(0)
        _verify(part.read(), name, dataset)

    try:
        atomic_write(target, write, suffix=".part")
    except OSError as exc:  # the network's errors are _Failed by now: this one is local
        raise DownloadError(f"cannot write {target}: {exc.strerror or exc}") from None


def _stream(url, out, name, session, options):
    """GET ``url`` and write its body, exactly as served, to the open file ``out``.

    A body longer than :func:`bpnet.data.gz_size_limit` is not this file: it is
    refused as soon as it says so (Content-Length) or grows past it, so a hostile or
    broken server cannot fill the disk.
    """
    limit = data.gz_size_limit(name)
    too_long = f"more than {limit} bytes; not this file"
    # identity: a server must not compress the .gz again; decode_content=False below
    # stops urllib3 from transparently gunzipping a body sent with Content-Encoding: gzip.
    headers = {"Accept-Encoding": "identity"}
    try:
        response = session.get(url, stream=True, timeout=options["timeout"], headers=headers)
    except requests.RequestException as exc:
        raise _describe(exc) from None
    with response:
        _check_response(response)
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None  # unknown: the bar just counts
        if total is not None and total > limit:
            raise _Failed(too_long)
        bar = _open_bar(options["progress"], total, name)
        try:
            stop = time.monotonic() + options["deadline"]
            received = 0
            for chunk in _chunks(response):
                received += len(chunk)
                if received > limit:
                    raise _Failed(too_long)
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
                if time.monotonic() > stop:
                    raise _Failed(f"took longer than {options['deadline']:g} s")
        finally:
            if bar is not None:
                bar.close()


def _open_bar(progress, total, name):
    """A progress bar from the tqdm-like factory ``progress``, or None."""
    if progress is None:
        return None
    return progress(total=total, unit="B", unit_scale=True, desc=name)


def _check_response(response):
    """Reject an error status or an HTML page before reading the body."""
    status = response.status_code
    if status >= 400:
        reason = f"HTTP {status} {response.reason or ''}".strip()
        raise (_Transient if status >= 500 or status == 429 else _Failed)(reason)
    if response.headers.get("Content-Type", "").lower().startswith("text/html"):
        raise _Failed("got an HTML page, not data")


def _chunks(response):
    """The raw body in chunks; a network failure mid-body becomes a :class:`_Transient`."""
    try:
        while True:
            chunk = response.raw.read(CHUNK_BYTES, decode_content=False)
            if not chunk:
                return
            yield chunk
    except urllib3.exceptions.ReadTimeoutError:
        raise _Transient("timed out") from None
    except (urllib3.exceptions.HTTPError, OSError):
        raise _Transient("connection broken during the download") from None


def _describe(exc):
    """A short reason for a failed request; transient unless retrying cannot help."""
    if isinstance(exc, requests.Timeout):
        return _Transient("timed out")
    if isinstance(exc, requests.exceptions.SSLError):
        return _Failed("SSL error (certificate or TLS problem)")
    if isinstance(exc, requests.ConnectionError):
        text = str(exc).lower()
        if "refused" in text:
            return _Transient("connection refused")
        if any(s in text for s in ("name or service not known", "nodename nor servname", "getaddrinfo")):
            return _Transient("host not found")
        return _Transient("connection failed")
    return _Failed(f"bad request ({type(exc).__name__})")  # e.g. a malformed $BPNET_MIRROR


def _verify(blob, name, dataset):
    """Check downloaded gzip bytes: data not HTML, then :func:`bpnet.data.verify`'s checks."""
    if blob[:64].lstrip()[:1] == b"<":
        raise _Failed("got an HTML page, not data")
    try:
        data.verify(blob, name, dataset, gzipped=True)
    except DataError as exc:
        raise _Failed(str(exc)) from None
