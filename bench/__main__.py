"""`make bench`: run every benchmark module and print one table of figures against targets.

Each module in bench/ with a ``run(quick: bool) -> list[Figure]`` takes part. ``--quick``
(or BENCH_QUICK=1) runs every one at a reduced scale, for a smoke run; the figures say so.
``python -m bench load api`` runs only the named ones. Each writes its figures, the machine and
its load average to bench/results/<name>.md.
"""

import importlib
import os
import pkgutil
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Figure, load_average, machine, write_results

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv or os.environ.get("BENCH_QUICK") == "1"
    wanted = [a for a in argv if not a.startswith("--")]
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name not in ("common", "__main__")
    )
    figures: list[Figure] = []
    for name in names:
        if wanted and name not in wanted:
            continue
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "run"):
            continue
        started, load = time.perf_counter(), load_average()
        print(f"== {name} (load average {load}) ...", flush=True)
        with tempfile.TemporaryDirectory() as keys:
            # A key store of the bench's own (its apps and the servers it starts read the
            # environment): never instance/'s, whose check values name the development keys.
            os.environ["PORTAL_KEYS_URL"] = f"sqlite:///{keys}/bench-keys.sqlite3"
            found = module.run(quick)
            del os.environ["PORTAL_KEYS_URL"]
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
        print(f"   written to {write_results(name, Figure.table(found), quick, load)}")
        figures.extend(found)
    print()
    print(Figure.table(figures))
    print(f"\n{machine()}")
    return 0 if all(f.ok is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
