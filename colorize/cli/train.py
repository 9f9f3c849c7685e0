"""colorize train: train any registered model on a folder of colour photos."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from colorize.cli.common import console, fail, interrupt_flag, need_training_extras
from colorize.registry import UnknownModelError, get_spec, list_models


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)


def train_command(
    model: str = typer.Option(None, "--model", "-m",
                              help=f"Architecture: {', '.join(list_models())}."),
    data: Path = typer.Option(None, "--data", help="Folder of colour photos (recursive)."),
    val: Path = typer.Option(None, "--val", help="Validation folder (default: seeded 70/15/15 "
                                                 "split of --data)."),
    out: Path = typer.Option(None, "--out", "-o", help="Run folder (default runs/MODEL)."),
    resume: Path = typer.Option(None, "--resume", help="Continue the run in this folder "
                                                       "exactly where it stopped."),
    epochs: int = typer.Option(10, "--epochs", min=1),
    steps: int = typer.Option(None, "--steps", min=1, help="Total optimizer steps "
                                                           "(overrides --epochs)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1),
    lr: float = typer.Option(1e-3, "--lr", min=0.0),
    weight_decay: float = typer.Option(1e-4, "--weight-decay", min=0.0,
                                       help="AdamW weight decay (decoupled)."),
    size: int = typer.Option(None, "--size", min=16, help="Training crop size "
                                                          "(default: the model's working size, "
                                                          "which the checkpoint keeps for "
                                                          "export and eval either way)."),
    crop_scale: float = typer.Option(0.3, "--crop-scale", min=0.01, max=1.0,
                                     help="Smallest area fraction of a photo that a random "
                                          "training crop covers (the largest is 1)."),
    patience: int = typer.Option(5, "--patience", min=0,
                                 help="Stop after this many evaluations without a better "
                                      "validation loss (0 = never)."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    workers: int = typer.Option(1, "--workers", min=0, help="DataLoader worker processes."),
    val_every: int = typer.Option(None, "--val-every", min=1,
                                  help="Validate every N steps (default: once per epoch)."),
    val_limit: int = typer.Option(None, "--val-limit", min=1,
                                  help="Use at most N validation images."),
    width: float = typer.Option(None, "--width", min=0.05, help="Channel-width multiplier."),
    pretrained: bool = typer.Option(None, "--pretrained/--no-pretrained",
                                    help="ImageNet encoder weights (where the model has one)."),
    backbone: str = typer.Option(None, "--backbone", help="baseline only: resnet18 | vgg16."),
    init: Path = typer.Option(None, "--init", help="Start from this checkpoint (cgan: a "
                                                   "trained unet generator)."),
    model_arg: list[str] = typer.Option([], "--arg", help="Extra model argument KEY=JSON, "
                                                          "e.g. --arg z_dim=16."),
    swa_start: int = typer.Option(None, "--swa-start", min=0,
                                  help="Average the weights from this step on (stochastic "
                                       "weight averaging); the mean goes to swa.pt."),
    swa_every: int = typer.Option(50, "--swa-every", min=1,
                                  help="Steps between the snapshots that join the average."),
    overwrite: bool = typer.Option(False, "--overwrite",
                                   help="Start afresh in a run folder that holds another "
                                        "run (its checkpoints and metrics are removed)."),
    swa_lr: float = typer.Option(None, "--swa-lr", min=0.0,
                                 help="Constant learning rate while averaging (default: the "
                                      "schedule's rate at --swa-start)."),
) -> None:
    """Train a model; checkpoints, metrics.csv and progress go to the run folder."""
    need_training_extras()
    from colorize.cli.progress import TrainProgress
    from colorize.training.loop import TrainConfig, train

    if resume is None:
        if model is None or data is None:
            fail("--model and --data are required (or --resume RUN_DIR)")
        try:
            get_spec(model)
        except UnknownModelError as exc:
            fail(str(exc))
    else:
        model = model or "?"
    args: dict = {"width": width, "pretrained": pretrained, "backbone": backbone}
    for item in model_arg:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--arg wants KEY=VALUE, got {item!r}")
        try:
            args[key] = json.loads(value)
        except json.JSONDecodeError:
            args[key] = value
    args = {k: v for k, v in args.items() if v is not None}
    cfg = TrainConfig(
        model=model, data=str(data), val=str(val) if val else None,
        out=str(out or Path("runs") / model), model_args=args, epochs=epochs, steps=steps,
        batch_size=batch_size, lr=lr, weight_decay=weight_decay, size=size,
        crop_scale=(crop_scale, 1.0), patience=patience, seed=seed, device=device,
        workers=workers, val_every=val_every, val_limit=val_limit,
        init=str(init) if init else None, swa_start=swa_start, swa_every=swa_every,
        swa_lr=swa_lr,
    )
    stop = interrupt_flag()
    stopped_at: list[int] = []

    def on_event(event: dict) -> None:
        if event["event"] == "interrupted":
            stopped_at.append(event["step"])
        progress.update(event)

    try:
        with TrainProgress(console) as progress:
            run = train(cfg, resume=resume, on_event=on_event,
                        resume_steps=steps if resume else None, stop=stop,
                        overwrite=overwrite)
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as exc:
        fail(str(exc))
    if stopped_at:
        fail(f"interrupted at step {stopped_at[0]}; last.pt saved, continue with "
             f"`colorize train --resume {run}`", code=130)
    console.print(f"[green]done[/]: checkpoints in {run}")
