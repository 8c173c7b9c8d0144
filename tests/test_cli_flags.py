"""Every numeric flag of every command refuses bad numbers: NaN and ±inf always, a fraction for a
whole number, zero where a positive number is needed, negative values where a count or a size is
needed. Each refusal is exit status 2 with one line on stderr naming the flag, no traceback and
no file written.

The flags are found by walking the parser, so a new numeric flag fails
:func:`test_every_numeric_flag_is_classified` until its valid range is declared below.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from advdyn.claims import all_claims
from advdyn.cli import common
from advdyn.cli.main import build_parser, main

# The valid range of each flag: "positive" (> 0), "nonneg" (≥ 0) or "real" (any finite value; a
# whole number for an integer flag). Keyed by the flag, or by "command flag" where the same
# flag means different things in different commands.
RANGES: dict[str, str] = {
    **dict.fromkeys(
        ["--eta", "--critical-rtol", "--starts", "--max-starts", "--n-angles", "--threads",
         "--dim", "--width", "--scales", "--ratio", "--eta-factors", "--eta-factor", "--seeds",
         "--n-points", "--betas", "--plot-points", "--scale", "--ratios", "--plot-rows",
         "--max-steps", "--stride", "--tol", "--pre-steps", "--post-steps", "--dims", "--widths",
         "--base-dim", "--base-width", "--base-scale", "--ratio-min", "--ratio-max", "--n-ratios",
         "--census-starts", "--census-max-starts", "--workers", "--kappa", "--gamma", "--rho",
         "--steps", "--trajectories", "--perturb", "--angle-density", "--min-angles",
         "--max-angles", "--grid", "--images", "--ascent-rho", "--ascent-steps", "--ascent-tol",
         "--ascent-check", "--fraction", "--holdout", "--pgd-rho", "--lr", "--batch-size",
         "--train-images", "--eval-images", "--reps", "--angle-eps", "--angle-scale",
         "--base-steps", "--below-dim", "--below-width", "--below-widths", "--closeness",
         "--control-gamma", "--control-ratio", "--control-scale", "--eps", "--eps-scales",
         "--eps-values", "--literal-ratio", "--literal-scale", "--phis", "--points", "--raw-eta",
         "--raw-rho", "--step-fractions", "--c", "--kkt-tol", "--reference-rho",
         "--reference-steps", "--merge", "--probe-ascent-steps", "--probe-images",
         "--probe-ratios", "--probe-reference-steps", "--probe-steps", "--q1-images",
         "--q1-steps", "--q1-tol", "--restart-images", "--restart-steps", "--restarts",
         "--robust-level", "--eval-restarts", "--n", "--lr-points", "--validation",
         "--q1-runs", "--affine-probes", "--gap-fraction", "--networks", "--eps-seeds",
         "--first-lr"],
        "positive"),
    **dict.fromkeys(
        ["--coverage", "--pgd-starts", "--saddle-starts", "--refine", "--claim-margin",
         "--data-seed", "--model-seed", "--epochs", "--checkpoint-epochs", "--pgd-steps",
         "--momentum", "pgd --eta", "pgd --steps", "pgd --tol", "pgd --seed", "census --seed",
         "fig2 --seed", "fig3 --seed", "--probe-epochs", "--lr-decades"], "nonneg"),
    # adversarial training across scales takes a list of seeds (0 is a seed), where the
    # simulated experiments take a number of seeds
    **dict.fromkeys(["fig3 --seeds", "check at-scale --seeds"], "nonneg"),
    # seeds of the simulated experiments seed torch generators, which take any whole number
    **dict.fromkeys(["--seed", "--label"], "real"),
}


def numeric_flags() -> list[tuple[tuple[str, ...], argparse.Action]]:
    """``(command words, action)`` of every option whose value is a number. ``check CLAIM``
    builds its flags from the claim's experiment, so one claim per experiment stands for the
    others (the same flags, validated by the same configuration)."""
    found: list[tuple[tuple[str, ...], argparse.Action]] = []
    first_claim = {c.experiment: c.id for c in reversed(all_claims())}

    def walk(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if words == ("check",) and name not in first_claim.values():
                        continue
                    walk(sub, (*words, name))
            elif action.option_strings and action.type not in (None, str, common.boolean) \
                    and action.choices is None:
                found.append((words, action))

    walk(build_parser(), ())
    return found


FLAGS = numeric_flags()
INT_TYPES = (int, common.positive_int, common.nonneg_int)


def valid_range(words: tuple[str, ...], flag: str) -> str | None:
    return RANGES.get(" ".join((*words, flag)), RANGES.get(f"{words[0]} {flag}",
                                                           RANGES.get(flag)))


def bad_values(words: tuple[str, ...], action: argparse.Action) -> list[str]:
    flag = action.option_strings[0]
    bad = ["1.5"] if action.type in INT_TYPES else ["nan", "inf"]
    kind = valid_range(words, flag)
    if kind == "positive":
        bad += ["0", "-1"]
    elif kind == "nonneg":
        bad += ["-1"]
    return bad


CASES = [(words, a.option_strings[0], v) for words, a in FLAGS for v in bad_values(words, a)]


def test_every_numeric_flag_is_classified() -> None:
    """A declared range for each numeric flag, and no bare ``float`` type (which takes NaN)."""
    assert len(FLAGS) > 150
    for words, action in FLAGS:
        flag = action.option_strings[0]
        assert valid_range(words, flag) is not None, f"{' '.join(words)} {flag}: declare its range"
        assert action.type is not float, f"{' '.join(words)} {flag}: use a cli.common type"


@pytest.fixture
def blocked_out(tmp_path: Path) -> Path:
    """An ``--out`` that is a file: a bad number not refused up front ends in an error about
    ``--out`` instead (so the test fails fast rather than running the experiment)."""
    path = tmp_path / "blocked"
    path.write_text("not a folder\n")
    return path


def base_argv(words: tuple[str, ...], problem: Path, delta: Path, out: Path) -> list[str]:
    """A valid command line for ``words`` (before the flag under test is appended)."""
    command = words[0]
    if command == "pgd":
        return ["pgd", str(problem), "--eta", "0.1", "--steps", "3", "--json"]
    if command == "diagnose":
        return ["diagnose", str(problem), "--delta", str(delta), "--json"]
    if command == "census":
        return ["census", str(problem), "--json"]
    if command == "check":
        return [*words, "--out", str(out), "--quick"]
    if command == "sweep":
        return ["sweep", str(problem), "--out", str(out)]
    if command == "train":
        return ["train", "--out", str(out), "--epochs", "1"]
    if command == "bench":
        return ["bench", "--cases", "no-such-case"]
    return [command, "--out", str(out)]


@pytest.mark.parametrize(("words", "flag", "value"), CASES,
                         ids=[f"{' '.join(w)} {f} {v}" for w, f, v in CASES])
def test_bad_number_exit_2_one_line_naming_the_flag(
    words: tuple[str, ...], flag: str, value: str, problem_file: Path, blocked_out: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = blocked_out.parent
    delta = folder / "delta.npy"
    np.save(delta, np.array([0.3, -0.1, 0.2]))
    before = sorted(p.name for p in folder.iterdir())
    argv = [*base_argv(words, problem_file, delta, blocked_out), flag, value]
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    field = flag.lstrip("-").replace("-", "_")
    assert rc == 2, (argv, rc, captured.err)
    assert captured.out == "" and len(lines) == 1, captured.err
    assert flag in lines[0] or f"{field}:" in lines[0], lines[0]
    assert "Traceback" not in captured.err
    assert sorted(p.name for p in folder.iterdir()) == before
    assert blocked_out.read_text() == "not a folder\n"


def good_value(words: tuple[str, ...], action: argparse.Action) -> str:
    """The edge of the valid range: 0 where ≥ 0, the smallest count or a small number where
    > 0, a negative value where any value is valid."""
    whole = action.type in INT_TYPES
    return {"nonneg": "0", "positive": "1" if whole else "1e-3",
            "real": "-2" if whole else "-0.5"}[valid_range(words, action.option_strings[0])]


def test_edge_of_each_valid_range_parses(problem_file: Path, tmp_path: Path) -> None:
    """No flag's type is stricter than its declared range."""
    parser = build_parser()
    for words, action in FLAGS:
        argv = [*base_argv(words, problem_file, tmp_path / "d.npy", tmp_path / "out"),
                action.option_strings[0], good_value(words, action)]
        value = getattr(parser.parse_args(argv), action.dest)
        assert value == action.type(good_value(words, action)) or value == [
            action.type(good_value(words, action))], argv


def test_eta_takes_run_pgds_range_through_the_console_script(problem_file: Path,
                                                             tmp_path: Path) -> None:
    """One rule for η in the command line and in ``run_pgd``: η ≥ 0 (η = 0 leaves δ₀ in place),
    a negative η refused naming the flag."""
    np.save(tmp_path / "d0.npy", np.array([0.1, -0.2, 0.3]))
    run = subprocess.run([sys.executable, "-m", "advdyn.cli.main", "pgd", str(problem_file),
                          "--eta", "0", "--steps", "3", "--delta0", str(tmp_path / "d0.npy"),
                          "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["delta"] == [0.1, -0.2, 0.3]
    run = subprocess.run([sys.executable, "-m", "advdyn.cli.main", "pgd", str(problem_file),
                          "--eta", "-0.5", "--steps", "3", "--json"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == "advdyn pgd: error: argument --eta: must be ≥ 0, got '-0.5'\n"


@pytest.mark.parametrize("text", ["maybe", "nan", "2"])
def test_a_true_false_flag_refuses_other_words(text: str, capsys: pytest.CaptureFixture[str]
                                               ) -> None:
    with pytest.raises(SystemExit) as e:
        main(["check", "T5.1", "--out", "unused", "--with-below", text])
    assert e.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"advdyn check T5.1: error: argument --with-below: must be true or false, got {text!r}"]
    assert common.boolean("No") is False and common.boolean("TRUE") is True
