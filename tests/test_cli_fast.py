"""What a newcomer meets at the command line: help that answers without loading torch, help text
without markup, the torch-free vocabularies agreeing with the library's, ``check --help`` showing
the options a user needs, no text citing a file that is not shipped, errors echoing what was
typed, and ``pgd --json`` feeding ``diagnose --delta``."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from advdyn import pipeline
from advdyn.claims import all_claims, claim, registry
from advdyn.cli.main import build_parser, main
from advdyn.cli.names import (
    CLAIMS,
    DEVICE_NAMES,
    DTYPE_NAMES,
    EXECUTOR_NAMES,
    OLD_CLAIM_IDS,
    PGD_RULES,
    PROFILES,
)
from advdyn.errors import AdvdynError
from advdyn.geometry import DTYPES
from advdyn.models.checks import DEVICES
from advdyn.pgd import RULES
from advdyn.runner import EXECUTORS

ROOT = Path(__file__).resolve().parents[1]


def advdyn(*args: str, stdin: str | None = None, importtime: bool = False
           ) -> subprocess.CompletedProcess[str]:
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run([sys.executable, *flags, "-m", "advdyn", *args], input=stdin,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def imported(stderr: str) -> set[str]:
    """The top-level packages ``-X importtime`` reports as imported."""
    return {line.split("|")[-1].strip().split(".")[0] for line in stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("words", [["--help"], ["check", "--help"], ["pgd", "--help"],
                                   ["diagnose", "--help"], ["nosuch"],
                                   ["pgd", "p.npz", "--eta", "-1", "--steps", "3"]])
def test_help_and_argument_errors_import_no_torch(words: list[str]) -> None:
    done = advdyn(*words, importtime=True)
    assert done.returncode in (0, 2), done.stderr
    modules = imported(done.stderr)
    assert "advdyn" in modules  # the report is read correctly
    assert "torch" not in modules and "numpy" not in modules


def help_texts() -> dict[str, str]:
    """``--help`` of every parser (every command, every claim of ``check``)."""
    texts: dict[str, str] = {}

    def walk(parser: argparse.ArgumentParser, words: str) -> None:
        texts[words] = parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{words} {name}".strip())

    walk(build_parser(), "")
    return texts


def test_no_markup_in_help() -> None:
    texts = help_texts()
    assert len(texts) > len(CLAIMS) + 10
    for words, text in texts.items():
        assert "``" not in text and ":func:" not in text and ":class:" not in text, words


def test_check_help_shows_its_options_and_the_claims() -> None:
    done = advdyn("check", "--help")
    assert done.returncode == 0
    usage = done.stdout.split("\n\n")[0]
    for option in ("--out", "--quick", "--json"):
        assert option in usage
    for claim_id, _ in CLAIMS:
        assert claim_id in done.stdout


def test_torch_free_vocabularies_match_the_library() -> None:
    assert [(c.id, c.section) for c in all_claims()] == list(CLAIMS)
    assert sorted(DTYPE_NAMES) == sorted(DTYPES)
    assert sorted(PGD_RULES) == sorted(RULES)
    assert list(EXECUTOR_NAMES) == list(EXECUTORS)
    assert list(PROFILES) == list(pipeline.PROFILES)
    assert list(DEVICE_NAMES) == list(DEVICES)


def shipped_texts() -> dict[str, str]:
    """The README, every docs page, the examples, the package's sources (their docstrings are
    the API pages; result notes are written into reports) and every help text."""
    texts = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    for folder, pattern in (("docs", "*.md"), ("examples", "*"), ("src/advdyn", "*.py")):
        texts |= {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
                  for p in (ROOT / folder).rglob(pattern) if p.is_file()}
    texts |= {f"advdyn {words} --help": text for words, text in help_texts().items()}
    return texts


def test_no_text_cites_a_missing_file() -> None:
    missing = []
    for where, text in shipped_texts().items():
        if re.search(r"\bSPEC\b|paper\.txt", text):
            missing.append(f"{where}: cites SPEC or paper.txt")
        for path in re.findall(r"(?<![\w/.$])((?:docs|examples|scripts|src|tests)/[\w./-]*\w)",
                               text):
            if not (ROOT / path).exists():
                missing.append(f"{where}: {path}")
    assert not missing, missing


def test_config_error_names_the_flag_and_echoes_the_text(tmp_path: Path) -> None:
    done = advdyn("fig1", "--out", str(tmp_path / "o"), "--steps", "-3")
    assert done.returncode == 2
    assert done.stderr.strip() == "advdyn fig1: error: --steps: must be > 0, got '-3'"
    assert not (tmp_path / "o").exists()


def test_a_prefixed_config_error_names_the_flag(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The experiment's validation says ``phase full configuration: steps: ... got -3.0``; the
    user reads the flag and what they typed."""
    rc = main(["check", "s5.1-minima", "--out", str(tmp_path / "o"), "--steps", "-3"])
    assert rc == 2 and not (tmp_path / "o").exists()
    assert capsys.readouterr().err == "advdyn check: error: --steps: must be > 0, got '-3'\n"


def test_claim_ids_are_typable_and_old_ids_are_aliases_with_a_note(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", claim_id) for claim_id, _ in CLAIMS)
    assert OLD_CLAIM_IDS == registry.OLD_IDS
    for old, new in OLD_CLAIM_IDS.items():
        with pytest.warns(FutureWarning, match=f"old id of '{re.escape(new)}'"):
            assert claim(old).id == new
    ran: list[str] = []

    def check(claim_id: str, *args: object, **kwargs: object) -> None:
        ran.append(claim_id)
        raise KeyboardInterrupt  # stop before the experiment runs

    monkeypatch.setattr(pipeline, "check", check)
    assert main(["check", "§5.1 (escape)", "--out", str(tmp_path / "o"), "--quick"]) == 130
    assert ran == ["s5.1-escape"]
    err = capsys.readouterr().err.splitlines()
    assert err[0] == ("advdyn check: note: '§5.1 (escape)' is the old id of s5.1-escape; type "
                      "s5.1-escape (old ids are accepted until the next release)")
    usage = advdyn("check", "Fig. 1", "--help").stdout
    assert usage.startswith("usage: advdyn check fig1 --out DIR")


def test_eta_is_one_rule(problem_file: Path) -> None:
    """η ≥ 0 in both the library and the command line (the CLI's side is in
    tests/test_cli_flags.py); both say so."""
    from advdyn.models import Problem
    from advdyn.pgd import run_pgd

    objective = Problem.load(problem_file).objective(torch.float64)
    start = torch.tensor([[0.1, -0.2, 0.3]], dtype=torch.float64)
    assert torch.equal(run_pgd(objective, 1.0, 0.0, 3, start=start).delta, start)
    with pytest.raises(AdvdynError, match="eta: must be ≥ 0"):
        run_pgd(objective, 1.0, -0.1, 3)
    assert "η ≥ 0" in advdyn("pgd", "--help").stdout
    assert "eta ≥ 0" in (run_pgd.__doc__ or "")


def test_pgd_json_feeds_diagnose(problem_file: Path, tmp_path: Path) -> None:
    ran = advdyn("pgd", str(problem_file), "--eta", "0.05", "--steps", "50", "--rule",
                 "normalized", "--json", "--save-delta", str(tmp_path / "d.npy"))
    assert ran.returncode == 0, ran.stderr
    (tmp_path / "pgd.json").write_text(ran.stdout, encoding="utf-8")
    L = json.loads(ran.stdout)["L"]
    for source, stdin in ((str(tmp_path / "pgd.json"), None), ("-", ran.stdout),
                          (str(tmp_path / "d.npy"), None)):
        done = advdyn("diagnose", str(problem_file), "--delta", source, "--json", stdin=stdin)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["L"] == pytest.approx(L, rel=0, abs=1e-12)
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), json.loads(ran.stdout)["delta"])
    again = advdyn("pgd", str(problem_file), "--eta", "0.05", "--steps", "0", "--delta0",
                   str(tmp_path / "pgd.json"), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["L"] == pytest.approx(L, rel=0, abs=1e-12)


def test_delta_that_is_neither_npy_nor_pgd_json(problem_file: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"L": 1}', encoding="utf-8")
    (tmp_path / "bad.txt").write_text("hello", encoding="utf-8")
    for name, words in (("bad.json", "no 'delta' field"), ("bad.txt", "neither a .npy")):
        done = advdyn("diagnose", str(problem_file), "--delta", str(tmp_path / name))
        assert done.returncode == 2 and words in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
