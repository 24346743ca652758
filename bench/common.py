"""What every benchmark shares: figures, the machine they ran on, a scratch database."""

import os
import platform
import statistics
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

RESULTS = Path(__file__).resolve().parent / "results"
POSTGRES_ADMIN = os.environ.get(
    "PORTAL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass
class Figure:
    bench: str
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None  # None: a figure with no target

    @staticmethod
    def table(figures: list["Figure"]) -> str:
        lines = ["| bench | figure | value | target | verdict |", "|---|---|---|---|---|"]
        for f in figures:
            verdict = {True: "met", False: "MISSED", None: ""}[f.ok]
            value = (
                f"{f.value:,.2f} {f.unit}" if isinstance(f.value, float) else f"{f.value} {f.unit}"
            )
            lines.append(f"| {f.bench} | {f.name} | {value} | {f.target} | {verdict} |")
        return "\n".join(lines)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _first_line(path: str, prefix: str) -> str:
    try:
        return next(line for line in Path(path).read_text().splitlines() if line.startswith(prefix))
    except (OSError, StopIteration):
        return ""


def machine() -> str:
    total = _first_line("/proc/meminfo", "MemTotal")
    memory = f", {int(total.split()[1]) // 1024 // 1024} GiB" if total else ""
    cpu = _first_line("/proc/cpuinfo", "model name").partition(":")[2].strip()
    return (
        f"Machine: {platform.node()}, {os.cpu_count()} cores ({cpu or platform.processor()})"
        f"{memory}, Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def load_average() -> str:
    """The machine's 1-minute load average: how quiet it was when a figure was taken."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def write_results(name: str, table: str, quick: bool, load_before: str) -> Path:
    """bench/results/<name>.md: one file per benchmark, so running one leaves the others'."""
    RESULTS.mkdir(exist_ok=True)
    scale = "quick (reduced scale)" if quick else "full scale"
    path = RESULTS / f"{name}.md"
    path.write_text(
        f"# Latest `{name}` figures ({scale})\n\n{machine()}\n"
        f"Load average when it started: {load_before}\n\n{table}\n"
    )
    return path


@contextmanager
def scratch_postgres():
    """A PostgreSQL database of the run's own; yields its SQLAlchemy URL, drops it after."""
    name = f"portal_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sign_in_fully(client, subject_id: int, group_id: int) -> None:
    """Give a test client the session a fresh magic link gives (level "full"), as of now."""
    from portal.core.kernel import clock

    with client.session_transaction() as session:
        now = clock.now().timestamp()
        session["access"] = {"s": subject_id, "g": group_id, "l": "full", "at": now, "seen": now}


# What a server costs, read from /proc: CPU seconds and resident memory of a process tree.
_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (which may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def children(pid: int) -> list[int]:
    """The live children of ``pid`` (gunicorn's workers, for its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def process_cpu(pid: int, reaped: bool = False) -> float:
    """utime + stime of ``pid`` in seconds; with ``reaped``, also those of its children that
    ended and were waited for (cutime + cstime)."""
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICKS


def server_cpu(master: int) -> float:
    """CPU seconds spent so far by a gunicorn master and all its workers, the live ones and
    those recycled (max_requests) since: a worker that ends moves its time into the master's
    cutime/cstime, so the total only grows and a delta over a round is the round's cost."""
    return process_cpu(master, reaped=True) + sum(process_cpu(pid) for pid in children(master))


def memory_kib(pid: int, field: str) -> int:
    """A line of /proc/<pid>/status in KiB: VmHWM (peak resident) or VmRSS (resident now)."""
    line = _first_line(f"/proc/{pid}/status", field + ":")
    return int(line.split()[1]) if line else 0


class WorkerMemory:
    """Samples the gunicorn workers of ``master`` twice a second while in use: the highest
    peak resident memory (VmHWM) any one worker reached, in MB. Recycled workers are seen
    while they live."""

    def __init__(self, master: int):
        import threading

        self.master, self.peak_kib = master, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _sample(self) -> None:
        for pid in children(self.master):
            self.peak_kib = max(self.peak_kib, memory_kib(pid, "VmHWM"))

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> "WorkerMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float:
        return self.peak_kib / 1024


def resident_mb(master: int) -> float:
    """The largest resident memory (VmRSS) of one worker of ``master`` now, in MB."""
    return max((memory_kib(pid, "VmRSS") for pid in children(master)), default=0) / 1024


def backend_cpu(pids: list[int]) -> float:
    """CPU seconds of PostgreSQL backends (same machine), by their process ids."""
    return sum(process_cpu(pid) for pid in pids)
