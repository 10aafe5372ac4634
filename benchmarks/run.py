"""Run the benchmarks: ``python benchmarks/run.py [name ...] [--quick]``.

Every ``benchmarks/bench_<name>.py`` defines ``run(quick: bool) -> list[Table]``. Each
module measures ours and the reference libraries in the same process, side by side,
and prints ratios. Timing never lives in unit tests.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    available = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help=f"which benchmarks (default all): {available}")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    args = parser.parse_args()
    names = args.names or available
    unknown = sorted(set(names) - set(available))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {available}")

    import torch

    print(
        f"# xaiwidgets benchmarks on {platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads"
    )
    for name in names:
        module = importlib.import_module(f"bench_{name}")
        start = time.perf_counter()
        for table in module.run(quick=args.quick):
            print()
            print(table.render())
        print(f"\n({name}: {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
