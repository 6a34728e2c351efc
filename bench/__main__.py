"""Run every benchmark, or the one named: ``python -m bench [name ...]``.

A benchmark is a folder of ``bench/``: its ``__main__.py`` if it has one, else each of its
``bench_*.py`` modules, each run as ``python -m`` in its own process (so one benchmark's
server, pools and threads never leak into the next). Extra arguments after ``--`` are
passed on to every benchmark run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for folder in sorted(p for p in HERE.iterdir() if p.is_dir() and not p.name.startswith("_")):
        if (folder / "__main__.py").exists():
            found[folder.name] = [f"bench.{folder.name}"]
        else:
            modules = sorted(m.stem for m in folder.glob("bench_*.py"))
            if modules:
                found[folder.name] = [f"bench.{folder.name}.{m}" for m in modules]
    return found


def main(argv: list[str]) -> int:
    names, extra = argv, []
    if "--" in argv:
        names, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    available = benchmarks()
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}")
        return 2
    failed = 0
    for name in names or list(available):
        for module in available[name]:
            print(f"== {module}", flush=True)
            result = subprocess.run([sys.executable, "-m", module, *extra], cwd=HERE.parent)
            failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
