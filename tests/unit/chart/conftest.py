"""Fixtures for the chart's unit tests: the helm binary built by `hack/build-kube.sh`."""

from __future__ import annotations

import os
import pathlib

import pytest

from atoll.core import binaries


@pytest.fixture(scope="session")
def helm() -> pathlib.Path:
    """The helm binary; missing, the tests skip on a workstation and fail in CI."""
    try:
        return binaries.find("helm")
    except binaries.MissingBinary:
        if os.environ.get("CI"):
            raise
        pytest.skip("helm is not built: run hack/build-kube.sh (with CI set, this fails)")
