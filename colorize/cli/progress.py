"""Rich renderers for progress that leaves the library as events or callbacks."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second: the task's own ``rate`` field where the work reports one (training's
    img/s), else everything completed over the time elapsed."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate")
        if not rate:
            rate = task.completed / task.elapsed if task.elapsed else 0.0
        return Text(f"{rate:.1f} {self.unit}/s")


def make_progress(console: Console, unit: str) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        RateColumn(unit), TimeElapsedColumn(),
        TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
        console=console, transient=False,
    )


class TrainProgress:
    def __init__(self, console: Console):
        self.console = console
        self.progress = make_progress(console, "img")
        self.task = None

    def __enter__(self) -> TrainProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def update(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "data":
            self.console.print(f"data: {event['train']} train / {event['val']} val images")
        elif kind == "step":
            if self.task is None:
                self.task = self.progress.add_task("train", total=event["total"], rate=0.0,
                                                   info="", completed=event["step"] - 1)
            info = f"epoch {event['epoch']} loss {event['loss']:.4f}"
            if not self.console.is_terminal and event["step"] % 50 == 0:
                # a log file gets a plain line now and then instead of a live bar
                self.console.print(f"step {event['step']}/{event['total']} {info} "
                                   f"{event['img_per_s']:.1f} img/s")
            self.progress.update(self.task, completed=event["step"], rate=event["img_per_s"],
                                 info=info)
        elif kind == "eval":
            vals = " ".join(f"{k}={v:.4g}" for k, v in event.items()
                            if k.startswith("val_"))
            mark = " (best)" if event["best"] else ""
            self.progress.console.print(f"step {event['step']}: {vals}{mark}")
        elif kind == "early_stop":
            self.progress.console.print(f"early stop at step {event['step']}")
