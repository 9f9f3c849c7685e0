"""Rich renderers for progress that leaves the library as events or callbacks."""

from __future__ import annotations

import time
from datetime import timedelta
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


# where the output is not a terminal (nohup, a log file, a CI job) the bar is drawn only at
# the end: a plain line this often instead says how far a long run has got
LOG_EVERY_S = 30.0


class LoggedProgress(Progress):
    """A Progress that, off a terminal, prints a plain line per task every LOG_EVERY_S."""

    def __init__(self, *columns: Any, unit: str, log: bool, **kwargs: Any):
        super().__init__(*columns, **kwargs)
        self.unit = unit
        self.log = log and not self.console.is_terminal
        self._logged: dict[Any, float] = {}

    def update(self, task_id: Any, **kwargs: Any) -> None:
        super().update(task_id, **kwargs)
        if not self.log:
            return
        task = self._tasks[task_id]
        now = time.monotonic()
        if now - self._logged.setdefault(task_id, now) < LOG_EVERY_S:
            return
        self._logged[task_id] = now
        total = f"/{task.total:.0f}" if task.total is not None else ""
        rate = task.fields.get("rate") or (task.completed / task.elapsed if task.elapsed else 0)
        left = task.time_remaining
        eta = f", ETA {timedelta(seconds=round(left))}" if left is not None else ""
        info = task.fields.get("info", "")
        self.console.print(f"{task.description} {task.completed:.0f}{total} {self.unit}, "
                           f"{rate:.1f} {self.unit}/s, elapsed "
                           f"{timedelta(seconds=round(task.elapsed or 0))}{eta} {info}".rstrip(),
                           markup=False, highlight=False)


def make_progress(console: Console, unit: str, log: bool = True) -> Progress:
    return LoggedProgress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        RateColumn(unit), TimeElapsedColumn(),
        TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
        console=console, transient=False, unit=unit, log=log,
    )


class TrainProgress:
    def __init__(self, console: Console):
        self.console = console
        self.progress = make_progress(console, "img", log=False)  # logs its own lines
        self.task = None
        self.live = False

    def __enter__(self) -> TrainProgress:
        # the live bar starts with the first step: a run that fails while it loads its data
        # prints its one error line, not an empty bar's blank line ahead of it
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live:
            self.progress.__exit__(*exc)

    def update(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "data":
            self.console.print(f"data: {event['train']} train / {event['val']} val images")
        elif kind == "step":
            if self.task is None:
                self.progress.start()
                self.live = True
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
