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
    for col in ("name", "kind", "output", "working size", "bundled"):
        table.add_column(col, no_wrap=col == "name")
    about = Table.grid(padding=(0, 2))
    about.add_column(no_wrap=True, style="bold")
    about.add_column()
    for name in list_models():
        spec = get_spec(name)
        path = spec.bundled_path()
        bundled = f"{path.name}, {path.stat().st_size / 1e6:.1f} MB" if path else "no"
        if path and spec.bundled_variants():
            bundled += " (+ " + ", ".join(f"{name}:{v}" for v in spec.bundled_variants()) + ")"
        label = f"{name} (default)" if name == DEFAULT_MODEL else name
        table.add_row(label, spec.family, spec.output, str(spec.working_size), bundled)
        about.add_row(name, spec.description)
    console = Console()
    console.print(table)
    # the descriptions get the full width below the table, not a squeezed column in it
    console.print(about)
