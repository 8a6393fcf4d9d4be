"""Fixtures shared by the test modules."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI draws the same examples every run, so a red build always means a changed behaviour;
# on a developer's machine hypothesis keeps exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

from bpnet import data as bpnet_data

# The real gzipped MNIST files, read-only: tests copy from here, never write here.
# CI sets BPNET_DATA_DIR=../shared/data/mnist; a checkout has ../shared beside it.
REAL_MNIST = Path(
    os.environ.get("BPNET_TEST_MNIST")
    or os.environ.get("BPNET_DATA_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
).resolve()


@pytest.fixture(scope="session")
def mnist_gz_dir():
    """The folder holding the four real MNIST ``.gz`` files (the test is skipped without them)."""
    if not all((REAL_MNIST / (name + ".gz")).is_file() for name in bpnet_data.FILES):
        pytest.skip(f"real MNIST files not found in {REAL_MNIST} (set BPNET_TEST_MNIST)")
    return REAL_MNIST


@pytest.fixture(scope="module")
def data():
    """Tiny synthetic MNIST-shaped data a small network learns in a few epochs (tests/helpers.py)."""
    from helpers import synthetic

    return synthetic()
