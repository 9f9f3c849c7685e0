from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colorize.training import bins  # noqa: E402
from tests.helpers import color_image  # noqa: E402


def test_bins_are_in_gamut_grid():
    centres = bins.in_gamut_bins()
    assert 200 < len(centres) <= 484
    assert np.all(np.mod(centres, 10) == 0)
    assert [0.0, 0.0] in centres.tolist()
    assert [-110.0, -110.0] not in centres.tolist()


def test_soft_encoding_weights_sum_to_one_and_nearest_is_heaviest():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [20.0, 0.0], [30.0, 30.0],
                            [50.0, 50.0]])
    ab = torch.tensor([[3.0, 1.0]]).view(1, 2, 1, 1)
    soft = bins.soft_encode(ab, centres, k=5, sigma=5.0)[0, :, 0, 0]
    assert torch.isclose(soft.sum(), torch.tensor(1.0))
    assert soft.argmax() == 0 and soft[5] == 0  # the farthest bin is not among the 5
    d2 = torch.tensor([10.0, 50.0, 90.0, 290.0, 1658.0])
    expected = torch.exp(-d2 / 50.0) / torch.exp(-d2 / 50.0).sum()
    torch.testing.assert_close(soft[:5], expected)


def test_rebalancing_weights_have_mean_one():
    prior = np.array([0.7, 0.2, 0.1])
    w = bins.rebalance_weights(prior, lam=0.5)
    assert np.isclose((prior * w).sum(), 1.0)
    raw = 1 / (0.5 * prior + 0.5 / 3)
    np.testing.assert_allclose(w, raw / (prior * raw).sum(), rtol=1e-6)
    assert w[2] > w[1] > w[0]


def test_annealed_mean_limits():
    centres = torch.tensor([[0.0, 0.0], [10.0, 20.0], [-30.0, 5.0]])
    probs = torch.tensor([0.2, 0.5, 0.3])
    logits = probs.log().view(1, 3, 1, 1)
    mean = bins.annealed_mean(logits, centres, 1.0)[0, :, 0, 0]
    torch.testing.assert_close(mean, (probs[:, None] * centres).sum(0))
    mode = bins.annealed_mean(logits, centres, 0.01)[0, :, 0, 0]
    torch.testing.assert_close(mode, centres[1], atol=1e-3, rtol=0)


def test_smoothed_prior_is_a_distribution():
    centres = bins.in_gamut_bins()
    counts = np.zeros(len(centres))
    counts[0] = 10
    prior = bins.smooth_prior(counts, centres)
    assert np.isclose(prior.sum(), 1.0) and prior.argmax() == 0 and (prior > 0).sum() > 1


@pytest.fixture
def photo_dir(tmp_path):
    from PIL import Image

    d = tmp_path / "photos"
    d.mkdir()
    for i in range(12):
        Image.fromarray(color_image(40, 48, seed=i)).save(d / f"p{i:02d}.jpg")
    return d


@pytest.mark.parametrize(("name", "extra"), [
    ("gae", {}), ("lite", {}), ("eccv16", {}), ("unet-vae", {}), ("cgan", {}),
    ("lite", {"adv_weight": 0.1}),  # two optimizers, one of them the discriminator's
])
def test_resume_gives_identical_next_step(tmp_path, photo_dir, name, extra):
    from colorize.training.loop import TrainConfig, train

    args = {"width": 0.125, **extra}
    if name in ("lite", "cgan"):
        args["pretrained"] = False
    size = 96 if extra.get("adv_weight") else 32  # the discriminator needs room
    base = dict(model=name, data=str(photo_dir), model_args=args, batch_size=2, size=size,
                workers=0, min_chroma=0, val_every=100, warmup_steps=2, lr=1e-3)
    full_losses, part_losses = [], []

    def grab(store):
        return lambda e: store.append(e["loss"]) if e["event"] == "step" else None

    train(TrainConfig(out=str(tmp_path / "full"), steps=4, **base), on_event=grab(full_losses))
    cfg = TrainConfig(out=str(tmp_path / "part"), steps=4, **base)
    # stop after two steps by raising from the progress callback, like a crash
    class Stop(Exception):
        pass

    def stop_at_three(e):
        if e["event"] == "step":
            part_losses.append(e["loss"])
            if e["step"] == 3:
                raise Stop

    cfg.save_every_s = 0.0  # checkpoint after every step; the crash hits before step 3's
    with pytest.raises(Stop):
        train(cfg, on_event=stop_at_three)
    resumed: list[float] = []
    train(cfg, resume=tmp_path / "part", on_event=grab(resumed))
    assert len(full_losses) == 4 and len(resumed) == 2
    np.testing.assert_allclose(part_losses, full_losses[:3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(resumed, full_losses[2:], rtol=1e-5, atol=1e-6)


def test_stop_flag_saves_at_step_boundary_and_resume_finishes(tmp_path, photo_dir):
    """SIGINT / SIGTERM in `colorize train` set the flag: the step in hand completes, last.pt
    holds it, and --resume carries on to the same losses as an uninterrupted run."""
    import threading

    from colorize.training.checkpoint import load_checkpoint
    from colorize.training.loop import TrainConfig, train

    base = dict(model="gae", data=str(photo_dir), model_args={"width": 0.125}, batch_size=2,
                size=32, workers=0, min_chroma=0, val_every=100, warmup_steps=2, steps=5,
                save_every_s=1e9)
    full: list[float] = []
    train(TrainConfig(out=str(tmp_path / "full"), **base),
          on_event=lambda e: full.append(e["loss"]) if e["event"] == "step" else None)
    stop = threading.Event()
    events: list[dict] = []

    def on_event(e):
        events.append(e)
        if e["event"] == "step" and e["step"] == 2:
            stop.set()

    run = train(TrainConfig(out=str(tmp_path / "part"), **base), on_event=on_event, stop=stop)
    assert events[-1] == {"event": "interrupted", "step": 2, "total": 5}
    assert load_checkpoint(run / "last.pt")["step"] == 2
    resumed: list[float] = []
    train(TrainConfig(out=str(run), **base), resume=run,
          on_event=lambda e: resumed.append(e["loss"]) if e["event"] == "step" else None)
    assert len(resumed) == 3
    np.testing.assert_allclose(resumed, full[2:], rtol=1e-5, atol=1e-6)


def test_checkpoint_is_self_describing_and_eval_runs(tmp_path, photo_dir):
    from typer.testing import CliRunner

    from colorize.cli.app import app
    from colorize.registry import get_spec
    from colorize.training.checkpoint import load_checkpoint

    runner = CliRunner()
    r = runner.invoke(app, ["train", "--model", "gae", "--data", str(photo_dir), "--out",
                            str(tmp_path / "run"), "--steps", "3", "--batch-size", "2",
                            "--size", "32", "--width", "0.125", "--workers", "0",
                            "--weight-decay", "0.05", "--crop-scale", "0.5"])
    assert r.exit_code == 0, r.output
    ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    # the options reach the run's config (which --resume rebuilds from) and the optimizer
    assert ckpt["config"]["weight_decay"] == 0.05
    assert tuple(ckpt["config"]["crop_scale"]) == (0.5, 1.0)
    # trained on 32-px crops, it still says it colorizes at the model's working size, which
    # export and eval default to (a run once read 224 here, and eval scored it at 224)
    assert ckpt["config"]["size"] == 32 and ckpt["working_size"] == get_spec("gae").working_size
    assert {g["weight_decay"] for g in ckpt["optimizers"][0]["param_groups"]} == {0.05}
    assert ckpt["model_name"] == "gae" and ckpt["model_args"]["width"] == 0.125
    assert ckpt["normalization"]["ab_scale"] == 110.0 and ckpt["step"] == 3
    assert (tmp_path / "run" / "metrics.csv").read_text().startswith("step,")
    js = tmp_path / "m.json"
    r = runner.invoke(app, ["eval", "--model", str(tmp_path / "run" / "best.pt"), "--data",
                            str(photo_dir), "--limit", "3", "--json", str(js), "--sheet",
                            str(tmp_path / "sheet.png")])
    assert r.exit_code == 0, r.output
    import json

    data = json.loads(js.read_text())
    assert data["pooled"]["images"] == 3 and "de76" in data["gray"]
    assert (tmp_path / "sheet.png").exists()
    # the table shows PSNR both ways, as the model card does
    pooled = data["pooled"]
    assert f"{pooled['psnr_mean']:.2f}" in r.output and f"{pooled['psnr']:.2f}" in r.output
    # the report files are not replaced without --overwrite
    r = runner.invoke(app, ["eval", "--model", str(tmp_path / "run" / "best.pt"), "--data",
                            str(photo_dir), "--limit", "2", "--json", str(js)])
    assert r.exit_code == 1 and "exists; pass --overwrite" in r.output
    assert json.loads(js.read_text())["pooled"]["images"] == 3
    r = runner.invoke(app, ["eval", "--model", str(tmp_path / "run" / "best.pt"), "--data",
                            str(photo_dir), "--limit", "2", "--json", str(js), "--overwrite"])
    assert r.exit_code == 0 and json.loads(js.read_text())["pooled"]["images"] == 2

    # a second new run into the same folder would overwrite this one: refused, untouched
    run = tmp_path / "run"
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    again = ["train", "--model", "gae", "--data", str(photo_dir), "-o", str(run),
             "--steps", "2", "--batch-size", "2", "--size", "32", "--width", "0.125",
             "--workers", "0"]
    r = runner.invoke(app, again, env={"COLUMNS": "500"})
    assert r.exit_code == 2 and "already holds a run" in r.output
    assert f"--resume {run}" in r.output
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    # --overwrite starts afresh: the new run's step count and a metrics file of its own
    r = runner.invoke(app, [*again, "--overwrite"])
    assert r.exit_code == 0, r.output
    assert load_checkpoint(run / "last.pt")["step"] == 2
    rows = (run / "metrics.csv").read_text().splitlines()
    steps = [int(x.split(",")[0]) for x in rows[1:]]
    assert rows[0].startswith("step,") and steps and steps[-1] == 2 and max(steps) == 2


def test_bad_model_argument_is_one_line_and_leaves_no_run_folder(tmp_path, photo_dir):
    from typer.testing import CliRunner

    from colorize.cli.app import app

    r = CliRunner().invoke(app, ["train", "--model", "lite", "--arg", "encoder=lite9",
                                 "--no-pretrained", "--data", str(photo_dir), "--out",
                                 str(tmp_path / "run"), "--steps", "1", "--workers", "0"])
    assert r.exit_code != 0
    assert "unknown lite encoder 'lite9'" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "run").exists()
    r = CliRunner().invoke(app, ["train", "--model", "lite", "--arg", "adv_weight=0.1",
                                 "--arg", "width=0.125", "--no-pretrained", "--data",
                                 str(photo_dir), "--out", str(tmp_path / "run"), "--size", "64",
                                 "--steps", "1", "--workers", "0"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "needs --size of at least 96 (got 64)" in r.output
    assert not (tmp_path / "run").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(app, ["train", "--model", "gae", "--data", str(empty), "--out",
                                 str(tmp_path / "run"), "--steps", "1", "--workers", "0"])
    # the error is the whole output: no blank line from a progress bar that never started
    assert r.exit_code != 0 and r.output.startswith("error: no images found under"), r.output
    assert not (tmp_path / "run").exists()


def test_pretrained_offline_is_a_clear_error(monkeypatch):
    import torchvision.models as tvm

    from colorize.training.pretrained import PretrainedWeightsUnavailable, torchvision_weights

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(tvm.ResNet18_Weights.DEFAULT, "get_state_dict", offline)
    with pytest.raises(PretrainedWeightsUnavailable, match="--no-pretrained"):
        torchvision_weights(tvm.resnet18, tvm.ResNet18_Weights, True)


def test_checkpoints_load_with_weights_only(tmp_path):
    import pickle

    from colorize.training.checkpoint import CheckpointError, load_checkpoint

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"model_name": "gae", "model_args": {}, "model": Evil()}, path,
               pickle_protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_tune_decoding_picks_from_grid(tmp_path, photo_dir):
    from colorize.training.data import list_images
    from tests.test_models import tiny

    model = tiny("lite")
    files = list_images(photo_dir)[:3]
    best, results = tune_decoding_small(model, files, gains=False)
    assert best in results and len(results) == 1 + 2 * 2 * 2
    assert all(np.isfinite(c.de76) and c.colorfulness_ratio >= 0 for c in results)
    assert all(c.gain == 1.0 for c in results)
    assert float(model.mix) == pytest.approx(0.6)  # the model's own decoding is left alone


def test_tune_gains_bring_each_decoding_to_the_colourfulness_goal(photo_dir):
    """With gains, each decoding is also scored at the chroma gain that reaches the goal;
    the answer is the lowest ΔE76 among the colourful-enough candidates, gains included."""
    import math

    from colorize.training.data import list_images
    from tests.test_models import tiny

    model = tiny("lite")
    files = list_images(photo_dir)[:3]
    goal = 0.8
    best, results = tune_decoding_small(model, files, gains=True, min_colorfulness=goal)
    plain = [c for c in results if c.gain == 1.0]
    scaled = [c for c in results if c.gain != 1.0]
    assert len(plain) == 9 and scaled
    for c in plain:
        mine = [s for s in scaled if (s.mix, s.temperature, s.conf_power) ==
                (c.mix, c.temperature, c.conf_power)]
        assert mine, "every decoding away from the goal gets a gain"
        # the first gain scales colourfulness linearly to the goal (0.01 grid, rounded up);
        # while short of it (gamut fitting), up to two more steps of 0.01
        assert mine[0].gain == pytest.approx(math.ceil(goal / c.colorfulness_ratio * 100) / 100)
        steps = [b.gain - a.gain for a, b in zip(mine, mine[1:], strict=False)]
        assert steps == pytest.approx([0.01] * len(steps))
        assert all(s.colorfulness_ratio < goal for s in mine[:-1])
        assert mine[-1].colorfulness_ratio >= goal or len(mine) == 3
    vivid = [c for c in results if c.colorfulness_ratio >= goal]
    assert best == min(vivid, key=lambda c: c.de76)
    assert model.gain == 1.0  # restored


def test_chroma_knee_takes_faint_colour_back_and_leaves_strong_colour():
    import torch

    from tests.test_models import tiny

    model = tiny("lite").eval()
    out = torch.zeros(1, 2 + model.centres.shape[0], 1, 3)
    out[0, 0, 0] = torch.tensor([0.02, 0.1, 0.6])  # tanh units: chroma 2.2, 11, 66
    model.mix.fill_(0.0)
    with torch.no_grad():
        plain = model.decode(out)
        model.knee, model.gain = 6.0, 1.1
        kneed = model.decode(out)
    c = plain.norm(dim=1)[0, 0]
    ratio = (kneed.norm(dim=1)[0, 0] / c).tolist()
    expected = (1.1 * c**2 / (c**2 + 36)).tolist()
    assert ratio == pytest.approx(expected, rel=1e-5)
    assert ratio[0] < 0.15 and ratio[2] > 1.05  # faint towards gray, strong kept (x gain)
    # the hue is kept: ab only scaled
    assert torch.allclose(kneed / kneed.norm(dim=1, keepdim=True),
                          plain / plain.norm(dim=1, keepdim=True), atol=1e-6)


def test_tune_searches_the_knees(photo_dir):
    from colorize.training.data import list_images
    from tests.test_models import tiny

    model = tiny("lite")
    files = list_images(photo_dir)[:3]
    best, results = tune_decoding_small(model, files, gains=False, knees=(0.0, 5.0))
    assert len(results) == 2 * (1 + 2 * 2 * 2)
    assert {c.knee for c in results} == {0.0, 5.0}
    pairs = {}
    for c in results:
        pairs.setdefault((c.mix, c.temperature, c.conf_power), {})[c.knee] = c
    # the knee takes colour away: never more colourful than the same decoding without it
    assert all(p[5.0].colorfulness_ratio <= p[0.0].colorfulness_ratio + 1e-9
               for p in pairs.values())
    assert model.knee == 0.0  # restored


def tune_decoding_small(model, files, **kw):
    from colorize.training.tune import tune_decoding

    return tune_decoding(model, files, size=32, mixes=(0.0, 0.5, 1.0), temperatures=(0.3, 0.6),
                         powers=(0.0, 1.0), **kw)


def test_weight_averaging_is_the_mean_of_its_snapshots_and_survives_resume(tmp_path, photo_dir):
    """--swa-start: swa.pt holds the equal-weight mean of the weights (and BN statistics) at
    each snapshot step, and a run stopped part-way and resumed ends with the same mean."""
    import threading

    from colorize.training.checkpoint import load_checkpoint
    from colorize.training.loop import TrainConfig, train

    base = dict(model="gae", data=str(photo_dir), model_args={"width": 0.125}, batch_size=2,
                size=32, workers=0, min_chroma=0, val_every=100, warmup_steps=2,
                save_every_s=1e9, swa_start=1, swa_every=1, swa_lr=2e-3)
    snapshots = []
    for steps in (1, 2, 3, 4):
        run = train(TrainConfig(out=str(tmp_path / f"s{steps}"), steps=steps, **base))
        snapshots.append(load_checkpoint(run / "last.pt")["model"])
    averaged = load_checkpoint(tmp_path / "s4" / "swa.pt")
    assert averaged["swa_models"] == 4
    floats = [k for k, v in snapshots[0].items() if v.is_floating_point()]
    assert any("running_mean" in k for k in floats)
    for key in floats:
        mean = torch.stack([s[key].float() for s in snapshots]).mean(0)
        torch.testing.assert_close(averaged["model"][key], mean, rtol=1e-5, atol=1e-6)
    # the mean differs from the last weights, so the comparison above can tell them apart
    assert any(not torch.allclose(averaged["model"][k], snapshots[-1][k]) for k in floats)

    stop = threading.Event()
    part = tmp_path / "part"

    def halt(e):
        if e["event"] == "step" and e["step"] == 2:
            stop.set()

    train(TrainConfig(out=str(part), steps=4, **base), on_event=halt, stop=stop)
    assert load_checkpoint(part / "swa.pt")["swa_models"] == 2
    train(TrainConfig(out=str(part), steps=4, **base), resume=part)
    resumed = load_checkpoint(part / "swa.pt")
    assert resumed["swa_models"] == 4
    for key in floats:
        torch.testing.assert_close(resumed["model"][key], averaged["model"][key],
                                   rtol=1e-5, atol=1e-6)


def test_tune_command_records_the_chosen_knee(tmp_path, photo_dir):
    import torch
    from typer.testing import CliRunner

    from colorize.cli.app import app
    from colorize.training.checkpoint import load_checkpoint, save_checkpoint
    from tests.test_models import tiny

    model = tiny("lite").eval()
    src = tmp_path / "lite.pt"
    save_checkpoint(src, {"model_name": "lite", "model_args": model.model_args, "step": 1,
                          "model": model.state_dict()})
    runner = CliRunner()
    r = runner.invoke(app, ["tune", "--checkpoint", str(src), "--data", str(photo_dir),
                            "--out", str(tmp_path / "bad.pt"), "--knees", "4,x"])
    assert r.exit_code != 0 and "--knees" in r.output and not (tmp_path / "bad.pt").exists()
    out = tmp_path / "tuned.pt"
    r = runner.invoke(app, ["tune", "--checkpoint", str(src), "--data", str(photo_dir),
                            "-o", str(out), "--limit", "3", "--size", "32", "--knees", "0,5",
                            "--no-gains"])
    assert r.exit_code == 0, r.output
    ckpt = load_checkpoint(out)
    chosen = ckpt["decoding"]
    assert chosen["knee"] in (0.0, 5.0) and ckpt["model_args"]["knee"] == chosen["knee"]
    # a second tune into the same file is refused before any work, unless --overwrite
    before = out.read_bytes()
    again = ["tune", "--checkpoint", str(src), "--data", str(photo_dir), "--out", str(out),
             "--limit", "3", "--size", "32", "--no-gains"]
    r = runner.invoke(app, again)
    assert r.exit_code == 1 and "exists; pass --overwrite" in r.output
    assert out.read_bytes() == before
    r = runner.invoke(app, [*again, "--overwrite"])
    assert r.exit_code == 0 and load_checkpoint(out)["decoding"]["knee"] == 0.0
    assert {c["knee"] for c in chosen["candidates"]} == {0.0, 5.0}
    best = min((c for c in chosen["candidates"]
                if c["colorfulness_ratio"] >= 0.8), key=lambda c: c["de76"], default=None)
    if best is not None:
        assert (best["knee"], best["de76"]) == (chosen["knee"], ckpt["metrics"]["tuned_de76"])
    assert isinstance(torch.load(out, weights_only=False)["model"], dict)


def test_training_reads_what_opencv_cannot_through_the_inference_reader(tmp_path):
    pytest.importorskip("pillow_heif")  # the [heic] extra, in [dev]
    import pillow_heif
    from PIL import Image

    from colorize.training.data import chroma_of, list_images, load_rgb

    pillow_heif.register_heif_opener()
    rgb = np.zeros((24, 32, 3), np.uint8)
    rgb[..., 0], rgb[..., 2] = 200, 40  # a strong red-magenta: plenty of chroma
    Image.fromarray(rgb).save(tmp_path / "phone.heic")
    (tmp_path / "broken.heic").write_bytes(b"not a picture")
    assert [p.name for p in list_images(tmp_path)] == ["broken.heic", "phone.heic"]
    got = load_rgb(tmp_path / "phone.heic")
    assert got.shape == (24, 32, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - rgb).mean() < 12  # lossy HEIC, same picture
    assert chroma_of(tmp_path / "phone.heic") > 30  # not filtered out as near-gray
    assert chroma_of(tmp_path / "broken.heic") == 0.0
    with pytest.raises(OSError, match="broken.heic"):
        load_rgb(tmp_path / "broken.heic")
