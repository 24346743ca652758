"""``make bench``: run every bench module and print one table of what was measured."""

import sys

from bench import api

MODULES = [api]


def main(argv: list[str]) -> int:
    rows = []
    for module in MODULES:
        rows += module.run(argv)
    width = max(len(name) for name, _, _ in rows)
    print(f"\n{'measure'.ljust(width)}  {'value':>14}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>14}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
