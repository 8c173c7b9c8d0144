"""The documentation site: ``mkdocs build --strict`` passes (any warning, e.g. a broken link or an
unresolved API reference, fails it), the strict settings do catch a broken link, and the
getting-started page gives the README's two commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from advdyn.claims import all_claims
from advdyn.experiments.registry import registered

ROOT = Path(__file__).resolve().parents[1]


def _mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "-f", str(config), "-d", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    done = _mkdocs(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    api = (tmp_path / "site" / "api" / "trace" / "index.html").read_text(encoding="utf-8")
    assert "trace_attack" in api  # the API pages come from the docstrings
    cli = (tmp_path / "site" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "usage: advdyn pgd" in cli  # the hook expanded every command's --help
    claims = "".join((tmp_path / "site" / "claims" / group / "index.html").read_text("utf-8")
                     for group in ("two-layer", "landscape", "real-network"))
    for c in all_claims():  # every registered claim has its generated entry, control included
        assert f">{c.id}<a class=\"headerlink\"" in claims, c.id
    assert claims.count("Negative control.") == len(all_claims())
    experiments = "".join(p.read_text("utf-8")
                          for p in (tmp_path / "site" / "experiments").rglob("index.html"))
    for e in registered():  # every registered experiment has its generated section
        assert f">{e.name}<a class=\"headerlink\"" in experiments, e.name


def test_strict_settings_reject_a_broken_link(tmp_path: Path) -> None:
    """The project's validation settings, on a one-page site with a link to a missing page."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [the concepts](concepts.md).\n")
    small = {"site_name": "broken", "docs_dir": str(docs), "strict": True,
             "validation": config["validation"], "theme": config["theme"]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(small))
    done = _mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "concepts.md" in done.stderr


def test_getting_started_gives_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^bash scripts/setup\.sh && .+$", readme, flags=re.M)
    assert len(commands) == 2, commands
    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    for command in commands:
        assert command in page.splitlines(), command
