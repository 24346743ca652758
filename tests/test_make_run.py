"""`make run PORT=5005`: the server, the URLs printed and the links in mails follow the port."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _dry_run(*args: str, **env) -> str:
    environment = {"PATH": "/usr/bin:/bin", **env}
    done = subprocess.run(
        ["make", "--dry-run", "run", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_make_run_serves_prints_and_mails_on_the_port_given():
    plan = _dry_run("PORT=5005")
    assert "--port 5005" in plan
    assert "http://127.0.0.1:5005/admin/" in plan and "http://127.0.0.1:5005/luxe/" in plan
    # Both the worker (which composes the mails) and the server get the matching base URL.
    assert plan.count("PORTAL_BASE_URL=http://127.0.0.1:5005 ") == 2
    assert ":5000" not in plan
    # The mail worker and, apart from it, the webhook worker, both stopped with the server.
    assert "flask outbox work &" in plan and "flask webhooks work &" in plan


def test_make_run_defaults_to_port_5000_and_keeps_a_base_url_that_is_set():
    assert "--port 5000" in _dry_run()
    behind_proxy = _dry_run("PORT=5005", PORTAL_BASE_URL="https://consent.example.com")
    assert "PORTAL_BASE_URL=https://consent.example.com " in behind_proxy
    assert "--port 5005" in behind_proxy
