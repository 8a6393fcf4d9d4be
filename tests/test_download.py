"""bpnet.download against local HTTP servers: no test ever leaves the machine.

Most tests use a tiny handcrafted dataset (the checksums and sizes are
monkeypatched to match) to stay fast; a few download the real MNIST files.
"""

import dataclasses
import functools
import gzip
import hashlib
import http.server
import os
import shutil
import socket
import threading
import time

import pytest

from bpnet import data, files
from bpnet.download import download, mirror_urls
from bpnet.errors import DataError, DownloadError

FAST = dict(backoff=0.001, timeout=(2, 2))  # tiny backoff: retries cost nothing
FIRST = data.FILES[0]
FIRST_GZ = FIRST + ".gz"


# ----------------------------------------------------------------------------- local servers

class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that gave up (a timeout test) is expected, not worth a traceback


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the mirror's folder, misbehaving as the :class:`Mirror`'s switches say."""

    def do_GET(self):
        mirror = self.server.mirror
        mirror.requests.append(self.path)
        time.sleep(mirror.stall)
        statuses = mirror.errors.get(self.path)
        if statuses:
            self.send_error(statuses.pop(0))
        elif mirror.short_by:
            self._send_short(mirror.short_by)
        elif mirror.endless:
            self._send_endless(mirror.endless)
        else:
            super().do_GET()

    def _send_short(self, missing):
        """Promise the whole file in Content-Length, then hang up ``missing`` bytes early."""
        body = open(self.translate_path(self.path), "rb").read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:-missing])
        self.close_connection = True

    def _send_endless(self, cap):
        """Send zeros with no Content-Length until the client hangs up (or ``cap`` bytes, so a
        client that never stops fails its test instead of filling the disk)."""
        self.send_response(200)
        self.end_headers()
        chunk = bytes(1 << 16)
        try:
            for _ in range(0, cap, len(chunk)):
                self.wfile.write(chunk)
        except OSError:
            pass  # the client gave up: what it should do
        self.close_connection = True

    def guess_type(self, path):
        return self.server.mirror.content_type or super().guess_type(path)

    def end_headers(self):
        for key, value in self.server.mirror.headers.items():
            self.send_header(key, value)
        super().end_headers()

    def log_message(self, *args):
        pass


class Mirror:
    """An HTTP server on 127.0.0.1 for one folder; records every request path."""

    def __init__(self, root):
        self.requests = []
        self.errors = {}  # request path -> statuses to answer before serving the file
        self.stall = 0.0  # seconds to wait before answering
        self.short_by = 0  # bytes to leave out of every body
        self.endless = 0  # if set, every body is this many zeros, sent without a Content-Length
        self.content_type = None
        self.headers = {}
        self.server = _Server(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
        self.server.mirror = self
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        serve = functools.partial(self.server.serve_forever, poll_interval=0.01)  # quick shutdown
        threading.Thread(target=serve, daemon=True).start()

    def count(self, filename):
        return self.requests.count("/" + filename)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def make_mirror(tmp_path):
    """Factory: a running :class:`Mirror` serving ``{filename: bytes or source path}``."""
    mirrors = []

    def make(files):
        root = tmp_path / f"mirror{len(mirrors)}"
        root.mkdir()
        for filename, content in files.items():
            if isinstance(content, bytes):
                (root / filename).write_bytes(content)
            else:
                shutil.copyfile(content, root / filename)  # a copy: never a link into real data
        mirrors.append(Mirror(root))
        return mirrors[-1]

    yield make
    for mirror in mirrors:
        mirror.close()


@pytest.fixture
def dead_url():
    """Factory: a URL whose port is bound but not listening, so connecting is refused."""
    sockets = []

    def make():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"

    yield make
    for sock in sockets:
        sock.close()


@pytest.fixture(autouse=True)
def offline(monkeypatch, dead_url):
    """Replace MNIST's real mirrors by a refused local URL; clear any $BPNET_MIRROR."""
    monkeypatch.delenv("BPNET_MIRROR", raising=False)
    monkeypatch.setenv("NO_PROXY", "*")  # a proxy in the environment must not see 127.0.0.1
    url = dead_url()
    set_mirrors(monkeypatch, url)
    return url


def set_mirrors(monkeypatch, *urls):
    mnist = data.DATASETS["mnist"]
    monkeypatch.setitem(data.DATASETS, "mnist", dataclasses.replace(mnist, mirrors=urls))


# ----------------------------------------------------------------------------- data

@pytest.fixture
def tiny(monkeypatch, offline):
    """A tiny stand-in dataset: ``{filename.gz: gzip bytes}``, its sizes and checksums patched in."""
    raws = {name: f"{name} stand-in\n".encode() * 4 for name in data.FILES}
    for name, raw in raws.items():
        monkeypatch.setitem(data.EXPECTED_BYTES, name, len(raw))
    sha256 = {name: hashlib.sha256(raw).hexdigest() for name, raw in raws.items()}
    mnist = data.DATASETS["mnist"]
    monkeypatch.setitem(data.DATASETS, "mnist", dataclasses.replace(mnist, sha256=sha256))
    return {name + ".gz": gzip.compress(raw) for name, raw in raws.items()}


@pytest.fixture
def real_files(mnist_gz_dir):
    return {name + ".gz": mnist_gz_dir / (name + ".gz") for name in data.FILES}


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data" / "mnist"  # not created yet: download must create it


def all_gz(data_dir):
    return [data_dir / (name + ".gz") for name in data.FILES]


def download_failure(**kwargs):
    with pytest.raises(DownloadError) as info:
        download("mnist", kwargs.pop("data_dir"), **{**FAST, **kwargs})
    return info.value


# ----------------------------------------------------------------------------- tests

def test_complete_download_of_real_mnist(make_mirror, real_files, data_dir, monkeypatch):
    mirror = make_mirror(real_files)
    monkeypatch.setenv("BPNET_MIRROR", mirror.url.rstrip("/"))  # the '/' is added
    paths = download("mnist", data_dir, **FAST)
    assert paths == all_gz(data_dir)
    for name, path in zip(data.FILES, paths):
        data.read_verified(path, name, data.DATASETS["mnist"])
    assert sorted(os.listdir(data_dir)) == sorted(real_files)  # no .part left
    assert sorted(mirror.requests) == sorted("/" + f for f in real_files)
    umask = os.umask(0)
    os.umask(umask)
    assert {os.stat(p).st_mode & 0o777 for p in paths} == {0o666 & ~umask}   # not mkstemp's 0600


def test_load_downloads_what_is_missing(make_mirror, real_files, data_dir, monkeypatch):
    monkeypatch.setenv("BPNET_MIRROR", make_mirror(real_files).url)
    mnist = data.load("mnist", data_dir, validation=5000)
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (55000, 5000, 10000)


def test_valid_files_are_not_requested_again(make_mirror, real_files, data_dir, monkeypatch):
    mirror = make_mirror(real_files)
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    download("mnist", data_dir, **FAST)
    mirror.requests.clear()
    assert download("mnist", data_dir, **FAST) == all_gz(data_dir)
    assert mirror.requests == []


def test_valid_decompressed_file_is_kept(make_mirror, tiny, data_dir, monkeypatch):
    mirror = make_mirror(tiny)
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    data_dir.mkdir(parents=True)
    (data_dir / FIRST).write_bytes(gzip.decompress(tiny[FIRST_GZ]))
    paths = download("mnist", data_dir, **FAST)
    assert paths[0] == data_dir / FIRST
    assert mirror.count(FIRST_GZ) == 0 and len(mirror.requests) == 3


def test_invalid_local_file_is_replaced(make_mirror, tiny, data_dir, monkeypatch):
    monkeypatch.setenv("BPNET_MIRROR", make_mirror(tiny).url)
    data_dir.mkdir(parents=True)
    (data_dir / FIRST_GZ).write_bytes(b"not even gzip")
    download("mnist", data_dir, **FAST)
    assert (data_dir / FIRST_GZ).read_bytes() == tiny[FIRST_GZ]


def test_invalid_local_file_is_kept_when_every_mirror_fails(tiny, data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / FIRST_GZ).write_bytes(b"not even gzip")
    download_failure(data_dir=data_dir)
    assert os.listdir(data_dir) == [FIRST_GZ]
    assert (data_dir / FIRST_GZ).read_bytes() == b"not even gzip"


def test_corrupted_file_on_server_fails_the_checksum(make_mirror, tiny, data_dir, monkeypatch):
    size = len(gzip.decompress(tiny[FIRST_GZ]))
    mirror = make_mirror({**tiny, FIRST_GZ: gzip.compress(b"x" * size)})  # right size, wrong bytes
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    error = download_failure(data_dir=data_dir)
    assert str(error) == f"could not download {FIRST_GZ} from any mirror:"
    reason = error.reasons[0]
    assert reason.startswith(f"{mirror.url}{FIRST_GZ}: SHA-256 "), reason
    assert reason.endswith("does not match mnist's train-images-idx3-ubyte; is it another dataset or a corrupted file?")
    assert mirror.count(FIRST_GZ) == 1  # a bad checksum is not retried
    assert not data_dir.exists()  # no partial file, no temporary file


def test_server_down_lists_every_url(dead_url, offline, data_dir, monkeypatch):
    down = dead_url()
    monkeypatch.setenv("BPNET_MIRROR", down)
    error = download_failure(data_dir=data_dir, attempts=2)
    assert "\n" not in str(error)
    assert error.reasons == [
        f"{down}{FIRST_GZ}: connection refused (2 attempts)",
        f"{offline}{FIRST_GZ}: connection refused (2 attempts)",
    ]
    assert not data_dir.exists()


def test_404_falls_through_to_the_next_mirror(make_mirror, tiny, data_dir, monkeypatch):
    empty, good = make_mirror({}), make_mirror(tiny)
    monkeypatch.setenv("BPNET_MIRROR", empty.url)
    set_mirrors(monkeypatch, good.url)
    assert download("mnist", data_dir, **FAST) == all_gz(data_dir)
    assert empty.count(FIRST_GZ) == 1 and good.count(FIRST_GZ) == 1  # a 404 is not retried


def test_client_error_is_reported_not_retried(make_mirror, data_dir, tiny, monkeypatch):
    empty = make_mirror({})
    monkeypatch.setenv("BPNET_MIRROR", empty.url)
    error = download_failure(data_dir=data_dir)
    assert error.reasons[0] == f"{empty.url}{FIRST_GZ}: HTTP 404 File not found"
    assert empty.requests == ["/" + FIRST_GZ]


@pytest.mark.parametrize("how", ["content-type", "body"])
def test_html_page_instead_of_data(make_mirror, tiny, data_dir, monkeypatch, how):
    if how == "content-type":
        mirror = make_mirror(tiny)
        mirror.content_type = "text/html; charset=utf-8"
    else:
        mirror = make_mirror({**tiny, FIRST_GZ: b"\n<!DOCTYPE html><html>Sign in to Wi-Fi</html>"})
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    error = download_failure(data_dir=data_dir)
    assert error.reasons[0] == f"{mirror.url}{FIRST_GZ}: got an HTML page, not data"
    assert mirror.count(FIRST_GZ) == 1
    assert not data_dir.exists()


def test_503_is_retried_then_succeeds(make_mirror, tiny, data_dir, monkeypatch):
    mirror = make_mirror(tiny)
    mirror.errors["/" + FIRST_GZ] = [503, 503]
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    assert download("mnist", data_dir, attempts=3, **FAST) == all_gz(data_dir)
    assert mirror.count(FIRST_GZ) == 3


@pytest.mark.parametrize("status", [503, 429])
def test_persistent_busy_server_moves_on(make_mirror, tiny, data_dir, monkeypatch, status):
    busy, good = make_mirror(tiny), make_mirror(tiny)
    busy.errors["/" + FIRST_GZ] = [status] * 10
    monkeypatch.setenv("BPNET_MIRROR", busy.url)
    set_mirrors(monkeypatch, good.url)
    assert download("mnist", data_dir, attempts=2, **FAST) == all_gz(data_dir)
    assert busy.count(FIRST_GZ) == 2 and good.count(FIRST_GZ) == 1


@pytest.mark.parametrize("cut, reason", [
    ("decompressed", "expected {size} bytes, got 5"),
    ("gzip", "not a complete gzip file (the compressed stream ends early)"),
])
def test_truncated_file(make_mirror, tiny, data_dir, monkeypatch, cut, reason):
    raw = gzip.decompress(tiny[FIRST_GZ])
    short = gzip.compress(raw[:5]) if cut == "decompressed" else tiny[FIRST_GZ][:-10]
    mirror = make_mirror({**tiny, FIRST_GZ: short})
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    error = download_failure(data_dir=data_dir)
    assert error.reasons[0] == f"{mirror.url}{FIRST_GZ}: " + reason.format(size=len(raw))
    assert not data_dir.exists()


class CountingBar:
    """A tqdm stand-in that records every bar opened and the bytes it saw."""

    def __init__(self, bars, **kwargs):
        self.done = 0
        bars.append(self)

    def update(self, n):
        self.done += n

    def close(self):
        pass


@pytest.mark.parametrize("body", ["endless", "Content-Length over the limit", "at the limit"])
def test_a_body_longer_than_any_gzip_of_the_file_is_cut_off(make_mirror, tiny, data_dir, monkeypatch, body):
    limit = data.gz_size_limit(FIRST)
    size = {"Content-Length over the limit": limit + 1, "at the limit": limit}.get(body, 0)
    mirror = make_mirror({**tiny, FIRST_GZ: bytes(size)})
    mirror.endless = 16 * limit if body == "endless" else 0
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    bars = []
    error = download_failure(data_dir=data_dir, progress=functools.partial(CountingBar, bars))
    reason = error.reasons[0]
    if body == "at the limit":                    # the whole body is read, then found no gzip
        assert reason.startswith(f"{mirror.url}{FIRST_GZ}: not a complete gzip file"), reason
        assert bars[0].done == limit
    else:
        assert reason == f"{mirror.url}{FIRST_GZ}: more than {limit} bytes; not this file"
        # an endless body is read only up to the limit; an announced one not at all
        assert bars[0].done <= limit if body == "endless" else bars == []
    assert mirror.count(FIRST_GZ) == 1            # not retried
    assert not data_dir.exists()


def test_gzip_bomb_on_the_server(make_mirror, tiny, data_dir, monkeypatch):
    size = data.EXPECTED_BYTES[FIRST]
    bomb = gzip.compress(bytes(50_000_000))       # 48 KB: under the download limit
    mirror = make_mirror({**tiny, FIRST_GZ: bomb})
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    error = download_failure(data_dir=data_dir)
    assert error.reasons[0] == f"{mirror.url}{FIRST_GZ}: expected {size} bytes, got more than {size}"
    assert not data_dir.exists()


def test_connection_dropped_mid_body_is_retried(make_mirror, tiny, data_dir, monkeypatch):
    mirror = make_mirror(tiny)
    mirror.short_by = 10
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    error = download_failure(data_dir=data_dir, attempts=2)
    assert error.reasons[0] == f"{mirror.url}{FIRST_GZ}: connection broken during the download (2 attempts)"
    assert mirror.count(FIRST_GZ) == 2
    assert not data_dir.exists()


def test_stalled_server_times_out(make_mirror, tiny, data_dir, monkeypatch):
    mirror = make_mirror(tiny)
    mirror.stall = 1.0
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    error = download_failure(data_dir=data_dir, attempts=2, timeout=(1, 0.1))
    assert error.reasons[0] == f"{mirror.url}{FIRST_GZ}: timed out (2 attempts)"


def test_deadline_caps_one_download(make_mirror, tiny, data_dir, monkeypatch):
    mirror = make_mirror(tiny)
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    error = download_failure(data_dir=data_dir, deadline=0)
    assert error.reasons[0] == f"{mirror.url}{FIRST_GZ}: took longer than 0 s"
    assert mirror.count(FIRST_GZ) == 1  # a slow mirror stays slow: move on, no retry
    assert not data_dir.exists()


def test_content_encoding_gzip_is_not_undone(make_mirror, tiny, data_dir, monkeypatch):
    mirror = make_mirror(tiny)
    mirror.headers["Content-Encoding"] = "gzip"  # a misconfigured server, as S3 buckets can be
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    download("mnist", data_dir, **FAST)
    assert (data_dir / FIRST_GZ).read_bytes() == tiny[FIRST_GZ]


def test_progress_bar_counts_every_byte(make_mirror, tiny, data_dir, monkeypatch):
    bars = []

    class Bar:
        def __init__(self, **kwargs):
            self.kwargs, self.done, self.closed = kwargs, 0, False
            bars.append(self)

        def update(self, n):
            self.done += n

        def close(self):
            self.closed = True

    monkeypatch.setenv("BPNET_MIRROR", make_mirror(tiny).url)
    download("mnist", data_dir, progress=Bar, **FAST)
    assert [bar.kwargs["desc"] for bar in bars] == list(data.FILES)
    for bar, gz in zip(bars, tiny.values()):
        assert bar.kwargs == dict(total=len(gz), unit="B", unit_scale=True, desc=bar.kwargs["desc"])
        assert bar.done == len(gz) and bar.closed


def test_keyboard_interrupt_mid_download_leaves_no_temp_file(make_mirror, real_files, data_dir,
                                                             monkeypatch):
    seen_parts = []

    class InterruptingBar:
        def __init__(self, **kwargs):
            self.updates = 0

        def update(self, n):
            self.updates += 1
            if self.updates == 3:
                seen_parts.extend(f for f in os.listdir(data_dir) if f.endswith(".part"))
                raise KeyboardInterrupt

        def close(self):
            pass

    monkeypatch.setenv("BPNET_MIRROR", make_mirror(real_files).url)
    with pytest.raises(KeyboardInterrupt):
        download("mnist", data_dir, progress=InterruptingBar, **FAST)
    assert len(seen_parts) == 1 and seen_parts[0].startswith("." + FIRST_GZ)
    assert not data_dir.exists()


def test_data_dir_that_cannot_be_created(tmp_path, tiny):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(DownloadError, match="cannot create the data folder"):
        download("mnist", blocker / "data", **FAST)


@pytest.mark.parametrize("fail_at", ["create", "write"])
def test_a_full_disk_is_one_line_and_leaves_nothing(make_mirror, tiny, data_dir, monkeypatch, fail_at):
    monkeypatch.setenv("BPNET_MIRROR", make_mirror(tiny).url)
    full = OSError(28, "No space left on device")
    if fail_at == "create":
        def no_temp_file(*args, **kwargs):
            raise full
        monkeypatch.setattr(files, "temp_file_beside", no_temp_file)
    else:
        real_flush = files.os.fsync

        def no_space(fd):
            real_flush(fd)
            raise full
        monkeypatch.setattr(files.os, "fsync", no_space)
    error = download_failure(data_dir=data_dir)
    assert str(error) == f"cannot write {data_dir / FIRST_GZ}: No space left on device"
    assert not data_dir.exists()


def test_a_failed_download_keeps_a_folder_that_was_there(make_mirror, tiny, data_dir, monkeypatch):
    mirror = make_mirror({**tiny, FIRST_GZ: b"<html>gone</html>"})
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    data_dir.mkdir(parents=True)
    download_failure(data_dir=data_dir)
    assert data_dir.is_dir() and os.listdir(data_dir) == []


def test_another_datasets_intact_files_are_never_replaced(make_mirror, real_files, data_dir, monkeypatch):
    """Both datasets name their files train-images-idx3-ubyte.gz and so on: asking for
    fashion-mnist in a folder of MNIST must not overwrite MNIST with it."""
    data_dir.mkdir(parents=True)
    for filename, source in real_files.items():
        (data_dir / filename).write_bytes(source.read_bytes())
    before = {p.name: p.read_bytes() for p in data_dir.iterdir()}
    mirror = make_mirror(real_files)
    monkeypatch.setenv("BPNET_MIRROR", mirror.url)
    with pytest.raises(DataError) as info:
        download("fashion-mnist", data_dir, **FAST)
    assert str(info.value) == (f"{data_dir / FIRST_GZ}: is mnist's train-images-idx3-ubyte, not "
                               f"fashion-mnist's; give fashion-mnist a folder of its own (--data-dir)")
    assert {p.name: p.read_bytes() for p in data_dir.iterdir()} == before
    assert mirror.requests == []


def test_unknown_dataset(data_dir):
    with pytest.raises(DataError, match="unknown dataset"):
        download("cifar", data_dir)


def test_mirror_order(offline, monkeypatch):
    monkeypatch.setenv("BPNET_MIRROR", "http://example.invalid/mnist")
    assert mirror_urls(data.DATASETS["mnist"]) == ["http://example.invalid/mnist/", offline]
