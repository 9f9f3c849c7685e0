"""Model families. Construct them by registry name through ``build_model``."""

from __future__ import annotations

import importlib
from typing import Any

from colorize.registry import get_spec
from colorize.training.models.base import ColorModel


def build_model(name: str, **overrides: Any) -> ColorModel:
    """Instantiate the registered model ``name`` with its default args updated by overrides."""
    spec = get_spec(name)
    module_name, attr = spec.builder.split(":")
    cls = getattr(importlib.import_module(module_name), attr)
    args = {**spec.default_args, **{k: v for k, v in overrides.items() if v is not None}}
    model = cls(**args)
    model.model_name = name
    model.model_args = args
    return model
