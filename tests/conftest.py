from __future__ import annotations

import pytest

from tests.helpers import make_tiny_onnx, tiny_metadata


@pytest.fixture
def tiny_model(tmp_path):
    return make_tiny_onnx(tmp_path / "tiny.onnx", tiny_metadata())
