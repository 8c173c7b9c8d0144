"""The phase diagram: per-seed results against an independent scan, aggregation (means,
censoring, saturation), determinism, d > 2, the plot helpers and the CLI."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from advdyn.cli.main import main
from advdyn.errors import AdvdynError
from advdyn.experiments.phase import PhaseConfig, aggregate, phase_seed, run_phase, seed_job
from advdyn.plots.phase import log_edges, region_boundary
from advdyn.sphere.census import scan_circle

SMALL = {"scales": (0.01, 1.0, 100.0), "ratios": (0.1, 10.0), "seeds": 2, "width": 64,
         "steps": 120}



@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Many small tensor operations: one intra-op thread (as the CLI's default ``--threads 1``);
    on a busy machine more threads make these runs an order of magnitude slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

@pytest.fixture(scope="module")
def small() -> dict:
    return run_phase(PhaseConfig(**SMALL))


def test_shapes_and_consistency(small: dict) -> None:
    assert small["scales"] == [0.01, 1.0, 100.0] and small["ratios"] == [0.1, 10.0]
    assert small["seeds"] == [0, 1]
    for key in ("mean_minima", "std_minima", "frac_one_minimum", "mean_maxima",
                "mean_escape_steps", "std_escape_steps", "unsettled_fraction",
                "saturated_fraction", "escape_starts", "mean_escape_steps_unsaturated"):
        assert np.asarray(small[key], dtype=float).shape == (3, 2), key
    per_seed = np.asarray(small["minima_per_seed"])
    assert per_seed.shape == (2, 3, 2)
    assert np.allclose(small["mean_minima"], per_seed.mean(axis=0))
    assert np.allclose(small["std_minima"], per_seed.std(axis=0))
    assert np.allclose(small["frac_one_minimum"], (per_seed == 1).mean(axis=0))
    # one escape run per local maximum, and a circle has as many maxima as minima
    assert np.array_equal(np.asarray(small["escape_starts"]),
                          np.rint(2 * np.asarray(small["mean_maxima"])).astype(int))
    assert np.allclose(small["mean_maxima"], small["mean_minima"])
    esc = np.asarray(small["mean_escape_steps"], dtype=float)
    assert np.all((esc >= 0) & (esc <= SMALL["steps"]))
    assert small["checks"]["mean_minima_at_smallest_scale"] == [1.0, 1.0]
    assert small["checks"]["exactly_one_minimum_at_smallest_scale"]


def test_per_seed_counts_match_an_independent_dense_scan() -> None:
    cfg = PhaseConfig(**SMALL)
    res = phase_seed(cfg, 1)
    net, u, _ = cfg.setup().draw(1)
    obj = cfg.setup().objective(net, u, [s for s in cfg.scales for _ in cfg.ratios])
    eps = torch.tensor([s * r for s in cfg.scales for r in cfg.ratios])
    dense = scan_circle(obj, eps, 32768)
    assert res["minima"].ravel().tolist() == [len(c.minima) for c in dense]
    assert res["maxima"].ravel().tolist() == [len(c.maxima) for c in dense]
    assert np.bincount(res["start_cell"], minlength=6).tolist() == [len(c.maxima)
                                                                    for c in dense]
    assert res["escape_steps"].shape == res["escape_saturated"].shape == res["start_cell"].shape
    # at the smallest scale the landscape is nearly linear: the attack crosses the disk in
    # about 2/ρ = 40 normalised steps
    tiny = res["escape_steps"][res["start_cell"] < 2]
    assert np.all((tiny >= 30) & (tiny <= 45))


def test_deterministic(small: dict) -> None:
    again = run_phase(PhaseConfig(**SMALL))
    assert json.dumps(again) == json.dumps(small)


def _seed_result(minima: list[list[int]], cells: list[int], steps: list[int],
                 sat: list[bool]) -> dict:
    m = np.asarray(minima)
    return {"seed": 0, "minima": m, "maxima": m, "saddles": 0 * m, "degenerate": 0 * m,
            "min_gap_cells": np.full(m.shape, 5.0), "chao1_minima": np.full(m.shape, np.nan),
            "start_cell": np.asarray(cells), "escape_steps": np.asarray(steps),
            "escape_saturated": np.asarray(sat)}


def test_aggregate_censors_unsettled_runs_at_the_budget() -> None:
    cfg = PhaseConfig(scales=(1.0, 2.0), ratios=(1.0,), seeds=2, steps=100)
    a = _seed_result([[1], [2]], [0, 1, 1], [10, 20, -1], [False, False, True])
    b = _seed_result([[1], [4]], [0, 1], [30, 40], [False, False])
    res = aggregate(cfg, [a, b])
    assert res["mean_minima"] == [[1.0], [3.0]]
    assert res["std_minima"] == [[0.0], [1.0]]
    assert res["frac_one_minimum"] == [[1.0], [0.0]]
    assert res["mean_escape_steps"] == [[20.0], [pytest.approx((20 + 100 + 40) / 3)]]
    assert res["mean_escape_steps_unsaturated"] == [[20.0], [30.0]]
    assert res["unsettled_fraction"] == [[0.0], [pytest.approx(1 / 3)]]
    assert res["saturated_fraction"] == [[0.0], [pytest.approx(1 / 3)]]
    assert res["escape_starts"] == [[2], [3]]
    assert res["checks"]["minima_trend_with_scale_per_ratio"] == {"up": [1], "down": [0],
                                                                  "tie": [0]}


def test_higher_dimension_uses_the_multistart_census() -> None:
    res = run_phase(PhaseConfig(scales=(0.01, 100.0), ratios=(10.0,), seeds=1, dim=3,
                                width=32, census_starts=24, steps=60))
    assert res["mean_minima"][0] == [1.0]
    assert res["mean_minima"][1][0] >= 1.0
    assert res["census_min_gap_cells"] is None
    assert all(v is not None for row in res["mean_chao1_minima"] for v in row)


def test_log_edges_and_region_boundary() -> None:
    assert np.allclose(log_edges(np.array([1.0, 10.0, 100.0])),
                       [10**-0.5, 10**0.5, 10**1.5, 10**2.5])
    mask = np.array([[True, True], [True, False]])
    segs = region_boundary(mask, np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0]))
    assert sorted(map(tuple, map(tuple, segs))) == [((1.0, 1.0), (1.0, 2.0)),
                                                    ((1.0, 1.0), (2.0, 1.0))]


@pytest.mark.parametrize("field, value", [("scales", (0.1, -1.0)), ("ratios", (1.0, 1.0)),
                                          ("seeds", 0), ("dim", 1), ("perturb", -1e-3),
                                          ("census_starts", 0), ("label", 2.0)])
def test_bad_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(AdvdynError, match=field):
        PhaseConfig(**{field: value})


def test_cli_writes_json_png_pdf(tmp_path, capsys) -> None:
    out = tmp_path / "p"
    argv = ["phase", "--out", str(out), "--no-progress", "--scales", "0.01", "10",
            "--ratios", "0.1", "1", "10", "--seeds", "2", "--width", "32", "--steps", "80"]
    assert main(argv) == 0
    data = json.loads((out / "phase.json").read_text(),
                      parse_constant=lambda c: pytest.fail(f"non-finite {c} in JSON"))
    assert data["scales"] == [0.01, 10.0] and data["ratios"] == [0.1, 1.0, 10.0]
    assert np.asarray(data["mean_minima"]).shape == (2, 3)
    assert np.asarray(data["mean_escape_steps"], dtype=float).shape == (2, 3)
    assert data["config"]["seeds"] == 2 and data["seeds"] == [0, 1]
    assert imread(out / "phase.png").shape[1] >= 1500
    assert (out / "phase.pdf").stat().st_size > 1000
    assert "smallest scale" in capsys.readouterr().out


def exit_code(argv: list[str]) -> int:
    """``main(argv)``, or the status of the ``SystemExit`` an argparse error raises."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code)


@pytest.mark.parametrize("argv", [["--scales", "-1"], ["--seeds", "0"], ["--dim", "1"],
                                  ["--ratios", "1", "1"], ["--tol", "abc"]])
def test_cli_bad_input_exit_2_nothing_written(tmp_path, capsys, argv) -> None:
    out = tmp_path / "bad"
    assert exit_code(["phase", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err
    assert not out.exists()


def test_cli_out_must_not_be_a_file(tmp_path, capsys) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["phase", "--out", str(f), "--seeds", "1"]) == 2
    assert "--out" in capsys.readouterr().err


def test_seed_job_is_phase_seed_from_json_parameters() -> None:
    cfg = PhaseConfig(**{**SMALL, "scales": (0.01, 1.0), "ratios": (10.0,)})
    params = json.loads(json.dumps(asdict(cfg)))
    a, b = seed_job(1, **params), phase_seed(cfg, 1)
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(np.asarray(a[key]), np.asarray(b[key]), equal_nan=True), key


def test_experiment_jobs_through_the_store_give_run_phase(tmp_path, small: dict) -> None:
    from advdyn.claims import VERDICTS
    from advdyn.experiments.phase import phase_jobs, phase_row, phase_summarize
    from advdyn.runner import ResultStore, run_jobs
    from advdyn.runner.executors import InlineExecutor

    cfg = PhaseConfig(**SMALL)
    results = run_jobs(phase_jobs(cfg), ResultStore(tmp_path / "cache"), InlineExecutor(),
                       progress=False)
    assert [r.job.config["run_seed"] for r in results] == [0, 1]
    assert json.dumps(aggregate(cfg, [r.value for r in results])) == json.dumps(small)
    outcome = phase_summarize(cfg, results, tmp_path)
    assert json.loads((tmp_path / "phase.json").read_text()) == json.loads(json.dumps(small))
    assert imread(tmp_path / "phase.png").shape[1] >= 1500
    assert [c.id for c in outcome.claims] == ["§5.1 (minima)", "§5.1 (escape)"]
    assert all(c.verdict in VERDICTS for c in outcome.claims)
    row = phase_row(results[0])
    assert row["escape_runs"] == len(results[0].value["escape_steps"])
    assert 0 <= row["mean_escape_steps"] <= SMALL["steps"]
