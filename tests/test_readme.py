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


def _rows(text: str, header_start: str) -> list[list[str]]:
    """The cells of each row of the first README table whose header starts so."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _results(name: str) -> dict:
    import json

    return json.loads((ROOT / "benchmarks" / "results" / name).read_text())


def test_readme_tables_show_the_numbers_in_their_result_files():
    """The speed, quality and video tables are copied from benchmarks/results by hand: each
    row must still say what its JSON says (two sessions ago one table's rows ended up in
    another table)."""
    text = (ROOT / "README.md").read_text()
    runs = [_results("model.json")["rows"], _results("model_run2.json")["rows"]]
    speed = _rows(text, "| model | input | batch | ms / image |")
    assert len(speed) == len(runs[0]) == 12
    for cells in speed:
        model = cells[0].replace(":", "_")  # lite:int8 is lite_int8 in the JSON
        size, batch = int(cells[1].rstrip("²")), int(cells[2])
        ms = [next(r["ms"] for r in run if (r["model"], r["size"], r["batch"]) ==
                   (model, size, batch)) for run in runs]
        assert cells[3] == f"{ms[0]:.1f} / {ms[1]:.1f}", cells
    video = _rows(text, "| clip (frames) | none | ema | flow | flow vs none | truth")
    assert [c[0].split()[0] for c in video] == ["bikes", "cup", "box"]
    for cells in video:
        res = _results(f"video_{cells[0].split()[0]}.json")
        assert cells[1:4] == [f"{res[m]['warp_error_norm']:.4f}" for m in ("none", "ema", "flow")]
    quality = _rows(text, "| model | PSNR dB | SSIM | ΔE76 |")
    bundled = next(c for c in quality if c[0].startswith("`lite` (run 5, bundled"))
    pooled = _results("eval_lite.json")["pooled"]
    assert bundled[1:5] == [f"{pooled['psnr_mean']:.2f} ({pooled['psnr']:.2f})",
                            f"{pooled['ssim']:.3f}", f"{pooled['de76']:.2f}",
                            f"{pooled['de2000']:.2f}"]
