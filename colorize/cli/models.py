"""colorize models: the registry as a table."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from colorize.registry import DEFAULT_MODEL, get_spec, list_models


def register(app: typer.Typer) -> None:
    app.command("models")(models_command)


def models_command() -> None:
    """List the registered models: kind, bundled weights, working size, file size."""
    table = Table(title="colorize models")
    for col in ("name", "kind", "output", "bundled", "working size", "file size", "description"):
        table.add_column(col)
    for name in list_models():
        spec = get_spec(name)
        path = spec.bundled_path()
        size = f"{path.stat().st_size / 1e6:.1f} MB" if path else "-"
        label = f"{name} (default)" if name == DEFAULT_MODEL else name
        bundled = "yes" if path else "no"
        if path and spec.bundled_variants():
            bundled += " (+ " + ", ".join(f"{name}:{v}" for v in spec.bundled_variants()) + ")"
        table.add_row(label, spec.family, spec.output, bundled,
                      str(spec.working_size), size, spec.description)
    Console().print(table)
