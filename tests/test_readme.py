"""The README's configuration table names every environment variable the portal reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ = re.compile(r"""(?:environ(?:\.get\(|\[)|env\.get\()\s*["']([A-Z][A-Z0-9_]+)["']""")


def test_every_environment_variable_read_is_in_the_readme():
    sources = [*ROOT.joinpath("portal").rglob("*.py"), ROOT / "gunicorn.conf.py", ROOT / "wsgi.py"]
    names = {
        name for source in sources for name in READ.findall(source.read_text(encoding="utf-8"))
    }
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(names) > 40  # the pattern still finds what config.py reads
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert missing == [], f"document these in README.md's configuration section: {missing}"
