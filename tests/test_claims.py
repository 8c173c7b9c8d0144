"""Each claim experiment runs on a tiny configuration and returns a complete, JSON-able verdict;
its figure draws; ``advdyn check`` writes table, figure and verdict, and rejects bad input with
exit status 2 and nothing written."""

from __future__ import annotations

import importlib
import json

import pytest
import torch

from advdyn.cli.main import main
from advdyn.errors import AdvdynError
from advdyn.experiments.claims import CLAIMS
from advdyn.experiments.claims.common import VERDICTS, regime

TINY = {
    "L4.1": {"dim": 3, "width": 64, "scales": (0.1, 10.0), "eta_factors": (0.5, 0.1),
             "starts": 8, "steps": 30, "seeds": 1},
    "L4.3": {"dim": 3, "width": 64, "scales": (0.1, 10.0), "n_points": 200, "seeds": 1},
    "L4.4": {"dim": 3, "width": 64, "ratios": (0.01, 3.0), "seeds": 1, "starts": 32,
             "max_starts": 64},
    "L4.5": {"dim": 3, "width": 64, "scales": (0.1,), "ratios": (0.1,), "starts": 8,
             "steps": 300, "n_points": 100, "seeds": 1},
    "T3.1": {"dim": 3, "width": 64, "eta_factors": (0.8, 0.4), "starts": 4, "max_steps": 8000,
             "stride": 20, "seeds": 1},
    "C3.1": {"dim": 3, "width": 64, "starts": 2, "pre_steps": 6000, "post_steps": 3000,
             "seeds": 1},
    "T5.1": {"dims": (2,), "widths": (64,), "scales": (1.0,), "base_width": 64, "seeds": 2,
             "n_ratios": 8, "refine": 2},
}
FIELDS = {"claim", "statement", "paper_scale", "verdict", "report_verdict", "reason",
          "in_regime", "regime_note", "measured"}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    torch.set_num_threads(1)
    return {cid: importlib.import_module(name).compute(**TINY[cid])
            for cid, name in CLAIMS.items()}


@pytest.mark.parametrize("cid", list(CLAIMS))
def test_claim_returns_a_complete_json_verdict(cid: str, results: dict[str, dict]) -> None:
    res = results[cid]
    assert res["claim"] == cid
    v = res["verdict"]
    assert set(v) >= FIELDS and v["claim"] == cid and v["verdict"] in VERDICTS
    assert isinstance(v["reason"], str) and v["reason"]
    assert res["table"]["columns"] and res["table"]["rows"]
    assert all(len(r) == len(res["table"]["columns"]) for r in res["table"]["rows"])
    json.dumps(res, allow_nan=False)
    module = importlib.import_module(CLAIMS[cid])
    module.Config(**{**TINY[cid], **module.QUICK})  # the quick overrides are valid


@pytest.mark.parametrize("cid", list(CLAIMS))
def test_claim_figure_draws(cid: str, results: dict[str, dict], tmp_path) -> None:
    from advdyn.plots.claims import claim_figure, save_figure

    paths = save_figure(claim_figure(results[cid]), tmp_path / cid)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size for p in paths)


def test_compute_is_deterministic() -> None:
    module = importlib.import_module(CLAIMS["L4.3"])
    assert module.compute(**TINY["L4.3"]) == module.compute(**TINY["L4.3"])


def test_regime_uses_constant_one() -> None:
    r = regime("T3.1", d=2, m=256, eps=0.01, eta=1e-5)
    assert r["inside"] and r["eps_over_bound"] == pytest.approx(0.01 * 5.545177444**2, rel=1e-6)
    assert not regime("L4.4", d=10, m=256, eps=0.01)["inside"]  # m < d^2.5


@pytest.mark.parametrize("cid,bad,field", [("L4.1", {"eta_factors": (1.5,)}, "eta_factors"),
                                           ("L4.3", {"betas": (1.0,)}, "betas"),
                                           ("L4.4", {"dim": 2}, "dim"),
                                           ("T3.1", {"eta_factors": (0.5,)}, "eta_factors"),
                                           ("C3.1", {"starts": 0}, "starts"),
                                           ("T5.1", {"ratio_max": 1e-4}, "ratio_max")])
def test_bad_config_names_the_field(cid: str, bad: dict, field: str) -> None:
    module = importlib.import_module(CLAIMS[cid])
    with pytest.raises(AdvdynError, match=field):
        module.Config(**{**TINY[cid], **bad})


def test_cli_check_writes_table_figure_verdict(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    args = ["check", "L4.3", "--out", str(out), "--dim", "3", "--width", "64", "--scales", "0.1",
            "1", "--n-points", "100", "--seeds", "1", "--json"]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["verdict"] in VERDICTS and record["config"]["scales"] == [0.1, 1.0]
    assert sorted(p.name for p in out.iterdir()) == ["L4.3.csv", "L4.3.json", "L4.3.pdf",
                                                     "L4.3.png"]
    header = (out / "L4.3.csv").read_text().splitlines()[0]
    assert header.startswith("seed,scale,eps")


@pytest.mark.parametrize("extra", [["--betas", "1.5"], ["--ratio", "-1"], ["--seeds", "0"]])
def test_cli_check_bad_input_exits_2_and_writes_nothing(extra, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["check", "L4.3", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]
    assert not out.exists()


def test_cli_check_unknown_claim_exits_2(tmp_path) -> None:
    with pytest.raises(SystemExit) as e:
        main(["check", "L9.9", "--out", str(tmp_path)])
    assert e.value.code == 2
