"""Run every bench module and print a table: name, median, target, verdict."""

import importlib
import pkgutil

import bench


def main() -> None:
    rows = []
    for module in pkgutil.iter_modules(bench.__path__):
        if module.name.startswith("_"):
            continue
        rows.extend(importlib.import_module(f"bench.{module.name}").run())
    print(f"{'benchmark':<48} {'median':>10} {'target':>10}  verdict")
    for name, median_ms, target_ms in rows:
        verdict = "ok" if median_ms < target_ms else "SLOW"
        print(f"{name:<48} {median_ms:>8.2f}ms {target_ms:>8.1f}ms  {verdict}")


if __name__ == "__main__":
    main()
