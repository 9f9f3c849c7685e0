from __future__ import annotations

import os

# rich fixes its console width from COLUMNS when colorize.cli.common is first imported; an
# exported COLUMNS in the developer's shell (seen: 120) then wraps the messages that tests
# look for, and overrides the widths that single tests ask CliRunner for. The tests run with
# it unset, as CI does.
os.environ.pop("COLUMNS", None)

import pytest  # noqa: E402

from tests.helpers import make_tiny_onnx, tiny_metadata


@pytest.fixture
def tiny_model(tmp_path):
    return make_tiny_onnx(tmp_path / "tiny.onnx", tiny_metadata())
