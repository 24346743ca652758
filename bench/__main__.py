"""``make bench``: run every bench module and print one table of results."""

import importlib
import pkgutil
from pathlib import Path


def main() -> None:
    rows = []
    for module in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        rows.extend(importlib.import_module(f"bench.{module.name}").run())
    width = max(len(what) for what, _, _ in rows)
    print(f"{'what':<{width}}  {'seconds':>8}  verdict")
    for what, seconds, verdict in rows:
        print(f"{what:<{width}}  {seconds:8.2f}  {verdict}")


if __name__ == "__main__":
    main()
