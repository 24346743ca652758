"""Import speed: 100,000 CSV rows into one brand must take under a minute on this machine.

Wall time on a shared machine includes waiting for a core, so the CPU time of the import is
reported beside it. Then the same file through ``flask import subscribers`` in a process of its
own, for its peak resident memory (its own VmHWM, read as it exits): a file is read as a
stream, so the peak must not grow with the file as it did (352 MB for 100,000 rows).
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Figure

ROWS = 100_000
TARGET_SECONDS = 60.0
TARGET_MB = 200
ROOT = Path(__file__).resolve().parent.parent
# The command as ``flask`` runs it, writing its peak resident memory (KiB) to a file at exit.
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so a child started by this
# bench, which has just held the in-process import of the same rows, reported the bench's own
# peak (311 MB) instead of the command's. VmHWM belongs to the address space exec made.
_MEASURED = (
    "import sys\n"
    "from flask.cli import main\n"
    "out = sys.argv.pop(1)\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return line.split()[1]\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    open(out, 'w').write(peak())\n"
)


def _command_peak(folder: Path, csv_path: Path) -> tuple[float, float]:
    """(peak resident MB, seconds) of ``flask import subscribers`` of ``csv_path``."""
    env = dict(
        os.environ,
        FLASK_APP="portal",
        DATABASE_URL=f"sqlite:///{folder / 'cli.sqlite3'}",
        SECRET_KEY="bench-" + "x" * 40,
        PORTAL_DATA_KEY="YmVuY2gtZGF0YS1rZXktYmVuY2gtZGF0YS1rZXktYmU=",
        PORTAL_HASH_KEY="YmVuY2gtaGFzaC1rZXktYmVuY2gtaGFzaC1rZXktYmU=",
        PORTAL_KEYS_URL=f"sqlite:///{folder / 'cli-keys.sqlite3'}",
    )
    flask = [sys.executable, "-c", _MEASURED, str(folder / "peak")]
    for command in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run([*flask, *command], cwd=ROOT, env=env, check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run(
        [*flask, "import", "subscribers", str(csv_path), "--brand", "camille"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    taken = time.perf_counter() - started
    return int((folder / "peak").read_text()) / 1024, taken


def _csv(keys: list[str], rows: int) -> list[str]:
    lines = ["email,topic,channel,consented_at,source\n"]
    for n in range(rows):
        lines.append(
            f"person{n}@example.com,{keys[n % len(keys)]},email,2024-05-01T10:00:00Z,crm\n"
        )
    return lines


def run(quick: bool = False) -> list[Figure]:
    from flask_migrate import upgrade

    from portal import create_app
    from portal.core.consent import audit, imports
    from portal.core.console.demo import load
    from portal.core.kernel.models.group import Brand
    from portal.extensions import db

    rows = ROWS // 10 if quick else ROWS
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with app.app_context():
            upgrade()
            group, _ = load()
            brand = db.session.scalar(db.select(Brand).where(Brand.slug == "camille"))
            lines = _csv([topic.key for topic in brand.topics if "email" in topic.channels], rows)
            cpu = time.process_time()
            started = time.perf_counter()
            plan = imports.plan(brand, lines)
            planned = time.perf_counter()
            outcome = imports.run(None, plan, "bench.csv")
            done = time.perf_counter()
            cpu = time.process_time() - cpu
            assert outcome.imported == rows, outcome
            report = audit.verify(group.id)
            assert report.breaks == [] and report.entries == rows
            db.session.remove()
            db.engine.dispose()
        csv_path = Path(folder) / "subscribers.csv"
        csv_path.write_text("".join(lines))
        del lines, plan
        peak, command_seconds = _command_peak(Path(folder), csv_path)
    total = done - started
    scale = f"{rows:,} rows, SQLite"
    target = TARGET_SECONDS * rows / ROWS
    return [
        Figure("imports", f"check ({scale})", planned - started, "s"),
        Figure("imports", f"write, one transaction ({scale})", done - planned, "s"),
        Figure("imports", f"total ({scale})", total, "s", f"< {target:.0f} s", total < target),
        Figure("imports", f"CPU time of the import ({scale})", cpu, "s"),
        Figure("imports", f"flask import subscribers, wall time ({scale})", command_seconds, "s"),
        Figure(
            "imports",
            f"flask import subscribers, peak resident memory ({scale})",
            peak,
            "MB",
            f"<= {TARGET_MB} MB",
            peak <= TARGET_MB,
        ),
    ]
