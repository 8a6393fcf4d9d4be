"""Which files an IMAGES argument of ``bpnet predict`` names: a file as given, a folder's
images, or a glob pattern the shell did not expand (quoted, or on Windows)."""

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ImageError

# What a folder's files must end with to be read (case-insensitive); a file named on its own is
# always tried, whatever its name, and Pillow says whether it is an image.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_GLOB_CHARACTERS = "*?["


@dataclass
class Found:
    """The image files an argument names, in reading order, and how many files were passed over."""

    paths: list
    skipped: int = 0


def find_images(argument):
    """The image files ``argument`` names (:class:`Found`).

    A folder gives its image files (by IMAGE_SUFFIXES), sorted by name, not those of its
    subfolders; other files are counted in ``skipped``, hidden ones (``.name``, such as
    ``.DS_Store`` or macOS's ``._photo.jpg``) passed over silently. A name that does not
    exist but holds ``*``, ``?`` or ``[`` is a pattern (``**`` spans folders), whose matches
    are taken, sorted, as if each had been given: folders among them give their images.
    Anything else is returned as given, so reading it reports what is wrong with it.
    ImageError if a folder holds no image or a pattern matches nothing.
    """
    argument = str(argument)
    if os.path.isdir(argument):
        found = _folder(argument)
        if not found.paths:
            raise ImageError(f"{argument}: no image files in this folder ({', '.join(IMAGE_SUFFIXES)})")
        return found
    if os.path.lexists(argument) or not any(c in argument for c in _GLOB_CHARACTERS):
        return Found([argument])
    matches = sorted(glob.glob(argument, recursive=True))
    if not matches:
        raise ImageError(f"{argument}: no file matches this pattern")
    found = Found([])
    for match in matches:
        part = _folder(match) if os.path.isdir(match) else Found([match])
        found.paths += part.paths
        found.skipped += part.skipped
    return found


def _folder(folder):
    try:
        with os.scandir(folder) as entries:
            files = sorted(entry.name for entry in entries if entry.is_file() and not entry.name.startswith("."))
    except OSError as exc:
        raise ImageError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None
    images = [name for name in files if name.lower().endswith(IMAGE_SUFFIXES)]
    # Named as bpnet.images names them in its messages: photos/a.png, and a.png in '.'.
    return Found([str(Path(folder) / name) for name in images], len(files) - len(images))
