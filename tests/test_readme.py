"""README's set-up commands are the ones CI runs, and its CLI examples name real commands."""

from __future__ import annotations

import re
from pathlib import Path

from colorize.registry import get_spec, list_models

ROOT = Path(__file__).resolve().parents[1]


def setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_two_setup_commands_and_ci_runs_the_second():
    cmds = setup_commands()
    assert len(cmds) == 2
    assert "colorize folder examples" in cmds[0] and "pip install ." in cmds[0]
    install_and_test = cmds[1].split("&& ", 2)[-1]
    assert install_and_test in (ROOT / ".ci" / "run").read_text()


def test_examples_exist_and_are_gray():
    from PIL import Image

    photos = sorted((ROOT / "examples").glob("*.jpg"))
    assert len(photos) >= 3
    for p in photos:
        with Image.open(p) as im:
            assert im.mode == "L"


def test_default_alias_and_registry_names():
    assert get_spec("default").name == "lite"
    assert {"gae", "baseline", "unet", "cgan", "eccv16", "unet-vae", "lite"} <= set(
        list_models())
