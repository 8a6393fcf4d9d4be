"""bpnet.image_files: which files an IMAGES argument names."""

import os

import pytest

from bpnet.errors import ImageError
from bpnet.image_files import find_images


@pytest.fixture
def photos(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in ("b.png", "a.JPG", "c.webp", "d.TIFF", "notes.txt", "scan.pdf", ".DS_Store", "._a.jpg",
                 "sub/e.png"):
        (folder / name).write_bytes(b"")
    return folder


def test_a_folder_gives_its_images_sorted_and_counts_the_rest(photos):
    found = find_images("photos")
    assert found.paths == [os.path.join("photos", name) for name in ("a.JPG", "b.png", "c.webp", "d.TIFF")]
    assert found.skipped == 2                   # notes.txt and scan.pdf; hidden files and subfolders say nothing


def test_a_folder_is_named_as_the_image_reader_names_its_files(photos):
    assert find_images("photos/").paths[0] == os.path.join("photos", "a.JPG")
    os.chdir(photos)
    assert find_images(".").paths[0] == "a.JPG"


def test_a_folder_without_images_is_an_error(photos):
    (photos / "empty").mkdir()
    with pytest.raises(ImageError, match=r"^photos/empty: no image files in this folder \(\.png, \.jpg, "):
        find_images("photos/empty")
    (photos / "docs").mkdir()
    (photos / "docs" / "notes.txt").write_bytes(b"")
    with pytest.raises(ImageError, match=r"^photos/docs/: no image files in this folder"):
        find_images("photos/docs/")


def test_a_file_is_taken_as_given_whatever_its_name(photos):
    assert find_images("photos/notes.txt").paths == ["photos/notes.txt"]
    assert find_images("missing.png").paths == ["missing.png"]      # reading it says what is wrong


def test_a_pattern_is_expanded_sorted(photos):
    assert find_images("photos/*.png").paths == ["photos/b.png"]
    assert find_images("photos/[ab].*").paths == ["photos/a.JPG", "photos/b.png"]
    found = find_images("photos/*")               # matched folders give their images; matched files are taken
    assert found.paths == ["photos/a.JPG", "photos/b.png", "photos/c.webp", "photos/d.TIFF", "photos/notes.txt",
                           "photos/scan.pdf", "photos/sub/e.png"]
    assert find_images("**/e.png").paths == ["photos/sub/e.png"]


def test_a_pattern_that_matches_nothing_is_an_error(photos):
    with pytest.raises(ImageError, match=r"^photos/\*\.gif: no file matches this pattern$"):
        find_images("photos/*.gif")


def test_a_file_whose_name_looks_like_a_pattern_is_taken_as_it_is(photos):
    (photos / "a[1].png").write_bytes(b"")
    assert find_images("photos/a[1].png").paths == ["photos/a[1].png"]
