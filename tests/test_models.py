from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from colorize.registry import list_models  # noqa: E402
from colorize.training.models import build_model  # noqa: E402

TINY = {"width": 0.125}


def tiny(name: str):
    args = dict(TINY)
    if name in ("baseline", "unet", "cgan", "lite"):
        args["pretrained"] = False
    torch.manual_seed(0)
    return build_model(name, **args)


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("hw", [(32, 32), (64, 96)])
def test_output_shape(name, hw):
    model = tiny(name).eval()
    light = torch.rand(2, 1, *hw) * 2 - 1
    with torch.no_grad():
        ab = model.colorize(light)
    assert ab.shape == (2, 2, *hw)
    assert torch.isfinite(ab).all()
    assert ab.abs().max() <= 128


@pytest.mark.parametrize("name", list_models())
def test_one_step_lowers_loss_on_fixed_batch(name):
    from colorize.training.loop import pick_device

    model = tiny(name).train()
    gen = torch.Generator().manual_seed(1)
    light = torch.rand(4, 1, 32, 32, generator=gen) * 2 - 1
    ab = (torch.rand(4, 2, 32, 32, generator=gen) * 2 - 1) * 0.5
    optimizers = model.configure_optimizers(lr=3e-3, weight_decay=0.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    autocast = {"device_type": pick_device("cpu").type, "enabled": False}
    model.eval()
    before = model.validation_loss(light, ab)["loss"]
    model.train()
    for _ in range(3):
        model.training_step(light, ab, optimizers, scaler, autocast, clip=1.0)
    model.eval()
    after = model.validation_loss(light, ab)["loss"]
    assert after < before
