"""The bundled models ship inside the package and run offline with the base install."""

from __future__ import annotations

import numpy as np
import pytest

from colorize.core.session import Colorizer
from colorize.registry import DEFAULT_MODEL, get_spec, list_models

BUNDLED = [n for n in list_models() if get_spec(n).bundled]


def test_default_model_is_bundled():
    assert DEFAULT_MODEL in BUNDLED
    assert get_spec(DEFAULT_MODEL).bundled_path() is not None


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_loads_and_colorizes(name):
    spec = get_spec(name)
    path = spec.bundled_path()
    assert path is not None, f"{name}: {spec.bundled} missing from colorize/weights"
    assert path.stat().st_size < 50e6
    col = Colorizer(name, device="cpu")
    assert col.meta.name == name
    assert col.meta.raw["training"]["train_images"] > 1000
    light = np.tile(np.linspace(10, 90, 64, dtype=np.float32), (64, 1))[None, None]
    ab = col.predict(light)
    assert ab.shape == (1, 2, 64, 64) and np.isfinite(ab).all()


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_checkpoint_reexports(tmp_path, name):
    pytest.importorskip("torch")
    from typer.testing import CliRunner

    from colorize.cli.app import app

    assert get_spec(name).bundled_checkpoint() is not None
    out = tmp_path / f"{name}.onnx"
    r = CliRunner().invoke(app, ["export", "--model", name, "-o", str(out)])
    assert r.exit_code == 0, r.output
    # it says which weights it took: the bundled checkpoint
    assert f"from{get_spec(name).bundled_checkpoint()}" in "".join(r.output.split())
    assert Colorizer(out).meta.name == name
