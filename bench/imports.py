"""Import speed: 100,000 CSV rows into one brand must take under a minute on this machine.

Wall time on a shared machine includes waiting for a core, so the CPU time of the import is
reported beside it.
"""

import tempfile
import time
from pathlib import Path

from bench.common import Figure

ROWS = 100_000
TARGET_SECONDS = 60.0


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
    total = done - started
    scale = f"{rows:,} rows, SQLite"
    target = TARGET_SECONDS * rows / ROWS
    return [
        Figure("imports", f"check ({scale})", planned - started, "s"),
        Figure("imports", f"write, one transaction ({scale})", done - planned, "s"),
        Figure("imports", f"total ({scale})", total, "s", f"< {target:.0f} s", total < target),
        Figure("imports", f"CPU time of the import ({scale})", cpu, "s"),
    ]
