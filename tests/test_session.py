from __future__ import annotations

import numpy as np
import pytest

from colorize.core.errors import ModelError, ProviderError
from colorize.core.session import Colorizer, ModelMeta, select_providers
from tests.helpers import make_tiny_onnx, tiny_metadata

ALL = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_auto_prefers_tensorrt_then_cuda_then_cpu():
    assert select_providers("auto", ALL) == ALL
    assert select_providers("auto", ALL[1:]) == ALL[1:]
    assert select_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_explicit_device_and_missing_provider():
    assert select_providers("cuda", ALL) == ALL[1:]
    assert select_providers("cpu", ALL) == ["CPUExecutionProvider"]
    with pytest.raises(ProviderError, match="onnxruntime-gpu"):
        select_providers("cuda", ["CPUExecutionProvider"])
    with pytest.raises(ProviderError, match="unknown device"):
        select_providers("tpu", ALL)


def test_colorizer_fake_provider_list_errors(tiny_model):
    with pytest.raises(ProviderError):
        Colorizer(tiny_model, device="tensorrt", available_providers=["CPUExecutionProvider"])


def test_explicit_device_that_fails_to_start_is_an_error(tiny_model):
    """ORT lists a provider it was built with even when its libraries cannot load, and then
    quietly runs on the next one. Here ORT is told that a GPU provider its build lacks is
    there (CUDA, for the CPU build): the session really starts on CPU, so the explicit
    --device must say so, while auto accepts it."""
    import onnxruntime as ort

    real = ort.get_available_providers()
    missing = [(d, p) for d, p in (("cuda", "CUDAExecutionProvider"),
                                   ("tensorrt", "TensorrtExecutionProvider")) if p not in real]
    if not missing:
        pytest.skip("this ONNX Runtime build has every GPU provider")
    device, provider = missing[0]
    listed = [provider, "CPUExecutionProvider"]
    with pytest.raises(ProviderError, match="could not start it.*CPUExecutionProvider"):
        Colorizer(tiny_model, device=device, available_providers=listed)
    col = Colorizer(tiny_model, device="auto", available_providers=listed)
    assert col.providers[0] == provider
    assert col.active_provider == "CPUExecutionProvider"


def test_metadata_read_and_batched_predict(tiny_model):
    col = Colorizer(tiny_model, device="cpu")
    assert col.meta.name == "tiny" and col.meta.working_size == 32
    light = np.random.default_rng(0).uniform(0, 100, (3, 1, 16, 24)).astype(np.float32)
    ab = col.predict(light)
    assert ab.shape == (3, 2, 16, 24)
    single = col.predict(light[1:2])
    np.testing.assert_allclose(ab[1:2], single, atol=1e-5)


def test_predict_refuses_sizes_off_the_size_multiple(tiny_model):
    # exported U-Nets upsample by a constant factor, so a graph only takes multiples of its
    # size_multiple (8 for the tiny model): a clear error instead of one from inside ORT
    col = Colorizer(tiny_model, device="cpu")
    with pytest.raises(ValueError, match="multiples of 8"):
        col.predict(np.zeros((1, 1, 16, 20), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        col.predict(np.zeros((16, 24), np.float32))


def test_working_shape_keeps_aspect(tiny_model):
    col = Colorizer(tiny_model, device="cpu")
    assert col.working_shape(1000, 2000, 256) == (128, 256)
    h, w = col.working_shape(3000, 2000, 256)
    assert h == 256 and w % 8 == 0 and abs(w / h - 2 / 3) < 0.05


def test_model_without_metadata_refused(tmp_path):
    path = make_tiny_onnx(tmp_path / "bare.onnx", metadata=None)
    with pytest.raises(ModelError, match="no colorize metadata"):
        Colorizer(path)


@pytest.mark.parametrize("text", ["{not json", '{"name": "x"}', '["a"]',
                                  tiny_metadata().replace("cielab_ab", "rgb")])
def test_malformed_metadata_refused(tmp_path, text):
    path = make_tiny_onnx(tmp_path / "bad.onnx", metadata=text)
    with pytest.raises(ModelError):
        Colorizer(path)


def test_metadata_is_parsed_as_json_not_code():
    evil = tiny_metadata().replace('"tiny"', '"__import__(\'os\').system(\'false\')"')
    meta = ModelMeta.from_json(evil, "x")
    assert meta.name.startswith("__import__")


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="cannot load"):
        Colorizer(path)


def test_bundled_variants_resolve_by_name_colon_variant():
    from dataclasses import replace

    from colorize.core.session import resolve_model
    from colorize.registry import get_spec

    lite = get_spec("lite")
    assert resolve_model("lite") == lite.bundled_path() and lite.bundled_path().is_file()
    with pytest.raises(ModelError, match="no bundled 'fp64' variant"):
        resolve_model("lite:fp64")
    spec = replace(lite, variants={"alias": "lite.onnx", "absent": "nope.onnx"})
    assert spec.bundled_path("alias") == lite.bundled_path()
    assert spec.bundled_path("absent") is None
    assert spec.bundled_variants() == ["alias"]
    for name in lite.bundled_variants():  # whatever variants ship must load
        assert Colorizer(f"lite:{name}").meta.name == "lite"
