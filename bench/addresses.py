"""Do the forms that take an address answer as fast for known as for unknown addresses?

Sign-up, magic-link request and address change, against PostgreSQL, through the WSGI app in
this process. Each round sends one known and one unknown address, in alternating order, so a
drift of the machine touches both alike; a fresh unknown address each time. Reports the
medians and the two-sided Mann-Whitney U p-value of the two samples; the goal is p > 0.01
(no detectable difference) on a quiet machine.
"""

import math
import os
import statistics
import tempfile
import time

from bench.common import Figure, scratch_postgres, sign_in_fully

SAMPLES = 200  # per case and form (at least 160)
WARM_UP = 20
KNOWN = 40
KEYS = {
    "SECRET_KEY": "bench-secret-" + "x" * 40,
    "PORTAL_DATA_KEY": "YmVuY2gtZGF0YS1rZXktYmVuY2gtZGF0YS1rZXktYmU=",
    "PORTAL_HASH_KEY": "YmVuY2gtaGFzaC1rZXktYmVuY2gtaGFzaC1rZXktYmU=",
}


def mann_whitney_p(first: list[float], second: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test: normal approximation with the tie
    correction and a continuity correction (as scipy's ``method="asymptotic"``); sound from
    about twenty values per sample."""
    n1, n2 = len(first), len(second)
    pooled = sorted([(value, 0) for value in first] + [(value, 1) for value in second])
    ranks, ties, start = [0.0] * len(pooled), 0.0, 0
    while start < len(pooled):
        end = start
        while end + 1 < len(pooled) and pooled[end + 1][0] == pooled[start][0]:
            end += 1
        for index in range(start, end + 1):
            ranks[index] = (start + end) / 2 + 1  # the average rank of a tie
        size = end - start + 1
        ties += size**3 - size
        start = end + 1
    rank_sum = sum(rank for rank, (_, which) in zip(ranks, pooled, strict=True) if which == 0)
    u = rank_sum - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    z = max(abs(u - n1 * n2 / 2) - 0.5, 0) / sigma
    return math.erfc(z / math.sqrt(2))


def _prepare(app) -> dict:
    """The demo group, KNOWN subscribed people and one of them signed in for address changes."""
    from flask_migrate import upgrade

    from portal.core.consent import signup
    from portal.core.consent.changes import Origin
    from portal.core.consent.models import SignupRequest
    from portal.core.console.demo import load
    from portal.core.mail import address_requests
    from portal.core.people import subjects
    from portal.extensions import db

    upgrade()
    group, _ = load()
    brand = next(b for b in group.brands if b.slug == "camille")
    topics = [topic.id for topic in signup.signup_topics(brand)][:2]
    text = signup.latest_text(brand)
    origin = Origin("bench", "bench")
    known = [f"known{n}@bench.example" for n in range(KNOWN + 1)]
    for address in known:
        signup.sign_up(brand, address, topics, text.id, "en", origin)
    address_requests.decide_all()
    for pending in db.session.scalars(db.select(SignupRequest)).all():
        signup.confirm(group.id, pending.subject_id, pending.id, origin)
    mover = subjects.find(group.id, known[0])  # the one left out of the known addresses
    return {
        "topics": topics,
        "text": text.id,
        "known": known[1:],
        "mover": (mover.id, group.id),
    }


def _forms(setup: dict) -> dict:
    """name -> (path, the form's fields for an address)."""
    return {
        "sign-up": (
            "/luxe/join/camille",
            lambda email: {
                "email": email,
                "topics": setup["topics"],
                "text_version": setup["text"],
            },
        ),
        "magic-link request": ("/luxe/preferences/sign-in", lambda email: {"email": email}),
        "address change": ("/luxe/my-data/email", lambda email: {"email": email}),
    }


def _sample(client, path: str, fields, setup: dict, name: str, rounds: int):

    known, unknown = [], []
    for turn in range(rounds + WARM_UP):
        cases = [("known", setup["known"][turn % KNOWN]), ("unknown", f"new{turn}-{name[:4]}@b.ex")]
        if turn % 2:
            cases.reverse()
        for case, email in cases:
            if name == "address change":
                sign_in_fully(client, *setup["mover"])
            start = time.perf_counter()
            answer = client.post(path, data=fields(email))
            took = (time.perf_counter() - start) * 1000
            assert answer.status_code == 200, (name, answer.status_code)
            if turn >= WARM_UP:
                (known if case == "known" else unknown).append(took)
    return known, unknown


def run(quick: bool = False) -> list[Figure]:
    os.environ.update(KEYS)
    from portal import create_app

    rounds = 40 if quick else SAMPLES
    figures = []
    with scratch_postgres() as url, tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "TESTING": True,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "MAIL_TRANSPORT": "mailbox",
                "MAILBOX_DIR": folder,
            }
        )
        with app.app_context():
            setup = _prepare(app)
            client = app.test_client()
            for name, (path, fields) in _forms(setup).items():
                known, unknown = _sample(client, path, fields, setup, name, rounds)
                p = mann_whitney_p(known, unknown)
                figures += [
                    Figure("addresses", f"{name}: known address, median", _ms(known), "ms"),
                    Figure("addresses", f"{name}: unknown address, median", _ms(unknown), "ms"),
                    Figure(
                        "addresses",
                        f"{name}: Mann-Whitney p, {len(known)} + {len(unknown)} samples",
                        round(p, 4),
                        "",
                        "> 0.01",
                        p > 0.01,
                    ),
                ]
        from portal.extensions import db

        with app.app_context():
            db.engine.dispose()
    return figures


def _ms(values: list[float]) -> float:
    return round(statistics.median(values), 2)
