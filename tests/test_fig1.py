"""Figure 1: the experiment (counts from the census, settling steps, determinism), the shared
simulated helpers, the disk landscape, the plot and the CLI."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from advdyn.claims import VERDICTS
from advdyn.claims import claim as registered_claim
from advdyn.cli.main import main
from advdyn.errors import AdvdynError
from advdyn.experiments.fig1 import Fig1Config, disk_landscape, job, run_fig1
from advdyn.experiments.simulated import (
    ScanGrid,
    SimulatedSetup,
    Targets,
    minima_targets,
    settle_steps,
)
from advdyn.sphere.census import Census, CriticalPoint, scan_circle

SMALL = {"scales": (0.01, 100.0), "ratios": (0.1, 10.0), "width": 64, "trajectories": 3,
         "steps": 60, "grid": 41}



pytestmark = pytest.mark.usefixtures("one_thread")

@pytest.fixture(scope="module")
def small() -> dict:
    return run_fig1(Fig1Config(**SMALL))


def test_panels_fields_and_counts_match_an_independent_scan(small: dict) -> None:
    cfg = Fig1Config(**SMALL)
    panels = small["panels"]
    assert [(p["scale"], p["ratio"]) for p in panels] == [(0.01, 0.1), (0.01, 10.0),
                                                          (100.0, 0.1), (100.0, 10.0)]
    net, u, _ = cfg.setup().draw(cfg.seed)
    obj = cfg.setup().objective(net, u, [p["scale"] for p in panels])
    eps = torch.tensor([p["eps"] for p in panels])
    dense = scan_circle(obj, eps, 32768)
    for p, c in zip(panels, dense, strict=True):
        assert p["eps"] == pytest.approx(p["scale"] * p["ratio"])
        assert np.linalg.norm(p["x"]) == pytest.approx(p["scale"])
        assert (p["minima"], p["maxima"]) == (len(c.minima), len(c.maxima))
        assert len(p["minima_delta_over_eps"]) == p["minima"]
        assert np.allclose(np.linalg.norm(p["minima_delta_over_eps"], axis=1), 1.0)
        assert len(p["steps"]) == p["trajectories"] == 3
        done = [t for t in p["steps"] if t is not None]
        assert all(0 <= t <= cfg.steps for t in done)
        assert p["settled"] == len(done)
        assert p["median_steps"] == (float(np.median(done)) if done else None)
        assert p["L_range"][0] <= p["L_range"][1]
    assert small["checks"]["minima_at_smallest_scale_by_ratio"] == {
        "0.1": panels[0]["minima"], "10.0": panels[1]["minima"]}


def test_arrays_shapes_and_trajectories_stay_in_the_disk(small: dict) -> None:
    assert small["grid_L"].shape == (4, 41, 41)
    assert small["grid_axis"].shape == (41,)
    traj = small["trajectories"]
    assert traj.shape == (61, 12, 2)
    assert np.all(np.linalg.norm(traj, axis=-1) <= 1 + 1e-9)
    assert small["trajectory_panel"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_same_seed_same_result_other_seed_differs(small: dict) -> None:
    again = run_fig1(Fig1Config(**SMALL))
    assert json.dumps(again["panels"]) == json.dumps(small["panels"])
    assert np.array_equal(again["trajectories"], small["trajectories"])
    other = run_fig1(Fig1Config(**{**SMALL, "seed": 1}))
    assert not np.array_equal(other["trajectories"], small["trajectories"])


def test_paper_finding_in_numbers_at_the_default_grid() -> None:
    res = run_fig1(Fig1Config(trajectories=1, steps=5, grid=11))
    checks = res["checks"]
    assert checks["exactly_one_minimum_at_smallest_scale"]
    assert set(checks["minima_at_smallest_scale_by_ratio"].values()) == {1}
    assert checks["minima_at_largest_scale_and_ratio"] >= 2


def test_disk_landscape_masks_outside_and_matches_the_objective() -> None:
    setup = SimulatedSetup(width=16)
    net, u, _ = setup.draw(3)
    obj = setup.objective(net, u, [1.0, 2.0])
    eps = torch.tensor([0.5, 4.0])
    axis, L, flat = disk_landscape(obj, eps, 21)
    assert np.isnan(L[:, 0, 0]).all() and np.isfinite(L[:, 10, 10]).all()
    centre = obj.evaluate(torch.zeros(2, 2)).L.numpy()
    assert np.allclose(L[:, 10, 10], centre)
    i, j = 10, 15  # δ/ε = (axis[15], axis[10]) = (0.5, 0)
    want = obj.select(torch.tensor([1])).evaluate(torch.tensor([[4.0 * axis[j], 0.0]])).L
    assert L[1, i, j] == pytest.approx(float(want[0]))
    assert flat.tolist() == [0.0, 0.0]


def test_settle_steps_counts_from_the_last_arrival() -> None:
    targets = Targets(points=np.array([[[1.0, 0.0]], [[0.0, 1.0]]]),
                      radius=np.array([[0.1], [0.1]]))
    t = np.linspace(0, 1, 6)
    row0 = np.stack([t, np.zeros(6)], axis=1)              # arrives at t = 5 (x = 1)
    row0[3] = [0.95, 0.0]                                   # in, out, in: last arrival counts
    row1 = np.tile([1.0, 0.0], (6, 1))                      # never near (0, 1)
    steps = settle_steps(np.stack([row0, row1], axis=1), targets)
    assert steps.tolist() == [5, -1]


def _point(delta: list[float], kind: str) -> CriticalPoint:
    return CriticalPoint(delta=np.array(delta), L=0.0, lam=0.0, eigenvalues=np.zeros(1),
                         type=kind, hits=1, gamma_norm=0.0, alignment=1.0, kkt=True)


def test_target_radius_is_capped_by_the_nearest_other_critical_point() -> None:
    a = 0.01
    c = Census(eps=1.0, minima=[_point([1.0, 0.0], "minimum"), _point([-1.0, 0.0], "minimum")],
               maxima=[_point([math.cos(a), math.sin(a)], "maximum"),
                       _point([0.0, 1.0], "maximum")])
    tg = minima_targets([c, Census(eps=2.0, minima=[_point([2.0, 0.0], "minimum")])], 2, 0.05)
    gap = np.hypot(1 - math.cos(a), math.sin(a))
    assert tg.radius[0].tolist() == pytest.approx([gap / 2, 0.05])
    assert tg.radius[1, 0] == pytest.approx(0.1) and np.isnan(tg.radius[1, 1])
    assert np.isnan(tg.points[1, 1]).all()


def test_scan_grid_adapts_to_the_radius() -> None:
    net, _, _ = SimulatedSetup(width=8).draw(0)
    wmax = float(net.W.norm(dim=1).max())
    n = ScanGrid(1.0, 256, 16384).angles(torch.tensor([1e-3, 100.0 / wmax, 1e6]), net)
    assert n.tolist() == [256, 1024, 16384]


@pytest.mark.parametrize("field, value", [("scales", (-1.0,)), ("ratios", ()),
                                          ("rule", "sign"), ("tol", 0.0), ("grid", 2),
                                          ("loss", "hinge"), ("width", 0),
                                          ("max_angles", 8)])
def test_bad_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(AdvdynError, match=field):
        Fig1Config(**{field: value})


def test_cli_writes_json_png_pdf(tmp_path, capsys) -> None:
    out = tmp_path / "f"
    argv = ["fig1", "--out", str(out), "--no-progress", "--width", "32", "--steps", "40",
            "--trajectories", "2", "--grid", "31", "--seed", "2"]
    assert main(argv) == 0
    data = json.loads((out / "fig1.json").read_text(),
                      parse_constant=lambda c: pytest.fail(f"non-finite {c} in JSON"))
    assert len(data["panels"]) == 9
    for p in data["panels"]:
        assert {"scale", "ratio", "eps", "minima", "maxima", "steps"} <= set(p)
        assert isinstance(p["minima"], int) and len(p["steps"]) == 2
    assert data["config"]["width"] == 32 and data["config"]["seed"] == 2
    assert {"loss", "width", "rule", "data"} <= set(data["notes"])
    assert "grid_L" not in data
    png = imread(out / "fig1.png")
    assert png.shape[1] >= 1500
    assert (out / "fig1.pdf").stat().st_size > 1000
    [record] = json.loads((out / "claims.json").read_text())
    assert record["id"] == "fig1" and record["control"]["verdict"] in VERDICTS
    printed = capsys.readouterr().out
    assert "fig1.json" in printed and f"fig1: {record['verdict']}" in printed


def exit_code(argv: list[str]) -> int:
    """``main(argv)``, or the status of the ``SystemExit`` an argparse error raises."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code)


@pytest.mark.parametrize("argv", [["--scales", "-1"], ["--ratios", "0"], ["--steps", "0"],
                                  ["--threads", "0"], ["--rule", "sign"]])
def test_cli_bad_input_exit_2_nothing_written(tmp_path, capsys, argv) -> None:
    out = tmp_path / "bad"
    assert exit_code(["fig1", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err
    assert not out.exists()


def test_job_entry_point_takes_json_parameters(small: dict) -> None:
    params = json.loads(json.dumps(asdict(Fig1Config(**SMALL))))
    assert json.dumps(job(**params)["panels"]) == json.dumps(small["panels"])


def test_experiment_runs_the_job_and_writes_the_cli_files(tmp_path, small: dict) -> None:
    from advdyn.experiments.fig1 import EXPERIMENT
    from advdyn.pipeline import run_experiment
    from advdyn.runner import ResultStore
    from advdyn.runner.executors import InlineExecutor

    done = run_experiment(EXPERIMENT, EXPERIMENT.make_config({**SMALL, "networks": 4}),
                          tmp_path / "fig1", ResultStore(tmp_path / "cache"), InlineExecutor(),
                          progress=False)
    section = done.section
    assert section.error is None and section.n_jobs == 2     # the figure, one chunk of networks
    folder = tmp_path / "fig1"
    data = json.loads((folder / "fig1.json").read_text())
    assert data["panels"] == json.loads(json.dumps(small["panels"]))
    assert imread(folder / "fig1.png").shape[1] >= 1000 and (folder / "fig1.pdf").is_file()
    [claim] = section.outcome.claims
    assert claim.id == "fig1" and claim == fig1_claim(done.result)
    nets = done.result["networks"]
    assert [r["seed"] for r in nets["main"]] == [r["seed"] for r in nets["control"]] == [0, 1, 2, 3]
    # the figure's network is the first counted one
    assert [row[0] for row in nets["main"][0]["minima"]] == [
        p["minima"] for p in small["panels"] if p["ratio"] == SMALL["ratios"][0]]
    assert all(n == 1 for r in nets["control"] for row in r["minima"] for n in row)
    # 4 networks: even 4/4 cannot put a 95 % lower bound above 0.9 (36 are needed)
    assert claim.verdict == "inconclusive" and not claim.power["adequate"]
    assert claim.power["why"].startswith("4 networks: even 4/4")
    assert [row[:2] for row in section.outcome.tables[0].rows] == [
        [p["scale"], p["ratio"]] for p in small["panels"]]


def fig1_claim(result: dict):
    """The registered Figure 1 claim judged on ``result``."""
    return registered_claim("fig1").evaluate(result)
