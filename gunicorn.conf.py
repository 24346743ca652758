"""gunicorn settings: `gunicorn wsgi:app` reads this file from the working directory.

Every value can be overridden by the environment variable named beside it.
"""

import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", str((os.cpu_count() or 1) * 2 + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
max_requests = 5000  # recycle workers now and then, with jitter so they do not all go at once
max_requests_jitter = 500
# Our own JSON request log replaces the access log, which would print raw paths with tokens.
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Prometheus counters from every worker process are summed at /metrics.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="portal-metrics-")
)


def on_starting(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Once the worker has loaded the app: its modules, mappers and caches live as long as the
    worker, so they are moved out of the garbage collector's sight (``gc.freeze``). A full
    collection, which the 10,000 rows of a feed page or of an audience check set off, then
    walks only what requests made, not the whole app: about 25 ms of app CPU a check before."""
    import gc

    gc.collect()
    gc.freeze()
