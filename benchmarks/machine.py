"""What machine a benchmark ran on: numbers from different CPUs are not comparable.

The sessions of this project have landed on different 2-core machines (an Intel CPU with
AVX-512 VNNI and AMX tiles, and an AMD EPYC Zen 4 with AVX-512 VNNI and bf16 but no AMX),
so every results file records the CPU model and the instruction-set extensions that decide
its fp32, int8 and bf16 speed.
"""

from __future__ import annotations

import os
import platform

FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile",
         "amx_int8", "amx_bf16")


def describe() -> dict:
    """{"arch", "cpu", "cores", "flags"}: the CPU model and the extensions among FLAGS it has
    (read from /proc/cpuinfo on Linux; model and flags are empty elsewhere)."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {"arch": platform.machine(), "cpu": model or platform.processor(),
            "cores": os.cpu_count(), "flags": [f for f in FLAGS if f in flags]}


if __name__ == "__main__":
    print(describe())
