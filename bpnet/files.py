"""Writing files so that nothing half-written is ever left behind."""

import os
import re
import tempfile
from pathlib import Path


def temp_file_beside(path, suffix=".tmp"):
    """A new hidden temporary file next to ``path``, with the usual permissions; (fd, name).

    mkstemp creates files readable by their owner only; a checkpoint or a dataset in a
    shared folder should get what the umask allows, like any other file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    return fd, tmp


def missing_folders(folder):
    """``folder`` and those of its parents that do not exist yet, deepest first: what
    ``mkdir(parents=True)`` would create, and what to remove again if nothing came of it."""
    missing = []
    for path in (Path(folder), *Path(folder).parents):
        if path.exists():
            break
        missing.append(path)
    return missing


def remove_empty_folders(folders):
    """Remove ``folders`` (deepest first) as long as they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:      # not empty: something else lives there
            return


def remove_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def atomic_write(path, write, suffix=".tmp"):
    """Call ``write(file)`` on a temporary file beside ``path``, then move it into place.

    A crash, a full disk, Ctrl-C or an exception raised by ``write`` (which may read
    back what it wrote, to check it) never leaves a half-written ``path``: the old
    file stays as it was and the temporary file is removed.
    """
    fd, tmp = temp_file_beside(path, suffix)
    try:
        with os.fdopen(fd, "w+b") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


def temp_file_pattern(names, suffix=".tmp"):
    """A regular expression for the names :func:`temp_file_beside` gives temporary files of the
    files ``names`` in one folder: ``.<name>.<mkstemp's random letters><suffix>``."""
    return re.compile("|".join(rf"\.{re.escape(name)}\.[A-Za-z0-9_]+{re.escape(suffix)}" for name in names))
