"""Smoke test of ``advdyn bench`` at tiny sizes: the report's structure, positive floors and
ratios, and the readable table. Timings at these sizes mean nothing; the bench is not a test."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys

import pytest
import torch

from advdyn.bench import CASES, BenchSizes, run_bench
from advdyn.bench.twolayer_cases import (
    FIG1_LABEL,
    FIG1_RHO,
    FIG1_RULE,
    FIG1_WIDTH,
    fig1_workload,
    step_passes,
)
from advdyn.cli import cmd_bench
from advdyn.cli.main import main
from advdyn.losses import BinaryCrossEntropy, Quadratic

TINY = BenchSizes(reps=1, twolayer_dim=8, twolayer_width=16, twolayer_batch=3, twolayer_steps=2,
                  cnn_batch=2, cnn_steps=1, fig1_starts=2, fig1_steps=2, fig1_reps=1,
                  census_dim=3, census_width=8, census_starts=16, census_reps=1, record_steps=2,
                  record_chunk_bytes=4096, record_fresh_processes=False, advtrain_images=4,
                  advtrain_batch=2, advtrain_steps=1, advtrain_reps=1, ensemble_size=2)
KEYS = {"case", "title", "unit", "ours", "floor", "floor_kind", "ratio_to_floor", "peers",
        "best_peer", "ratio_to_best_peer", "target", "met", "spread", "details"}


@pytest.fixture(scope="module")
def report() -> dict:
    return run_bench(TINY)


def test_every_case_reports_positive_times_and_ratios(report: dict) -> None:
    assert [r["case"].split("-")[0] for r in report["cases"]] == list(CASES)
    for r in report["cases"]:
        assert set(r) >= KEYS, r["case"]
        assert r["floor"] > 0 and r["ours"] > 0
        assert math.isclose(r["ratio_to_floor"], r["ours"] / r["floor"])
        assert isinstance(r["met"], bool)
        for name, peer in r["peers"].items():
            assert ("time" in peer and peer["time"] > 0) or peer["skipped"], name
        if r["best_peer"] is not None:
            best = r["peers"][r["best_peer"]]
            assert math.isclose(r["ratio_to_best_peer"], r["ours"] / best["time"])
    assert report["machine"]["cores"] >= 1
    json.dumps(report)


def test_peers_appear_where_they_apply(report: dict) -> None:
    with_peers = {r["case"] for r in report["cases"] if r["peers"]}
    assert with_peers == {"1-twolayer", "2-cnn", "3-fig1", "6-advtrain", "7-ensemble"}


def test_record_case_reports_memory_at_two_lengths(report: dict) -> None:
    rec = next(r for r in report["cases"] if r["case"] == "5-record")
    assert set(rec["details"]["peak_rise_mib"]) == {"none@2", "record@2", "none@8", "record@8"}


def test_table_has_one_row_per_case(report: dict) -> None:
    text = cmd_bench.table(report)
    for r in report["cases"]:
        assert r["case"] in text


def test_cli_rejects_unknown_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--cases", "9"]) == 2
    assert "--cases" in capsys.readouterr().err


def test_advtrain_case_reports_throughput_of_every_loop(report: dict) -> None:
    row = next(r for r in report["cases"] if r["case"] == "6-advtrain")
    rates = row["details"]["images_per_s"]
    assert {"ours", "floor"} <= set(rates) and all(v > 0 for v in rates.values())
    assert math.isclose(rates["ours"], 4 / row["ours"])


def test_ensemble_case_reports_its_ratios_and_every_loops_throughput(report: dict) -> None:
    """Case 7: ratio_to_sequential and ratio_to_best_peer beside each other, images/s of the
    ensemble, the sequential trainings, the floor (and torchattacks where installed) over the
    K = 2 models' 2 × 4 images; the readable table shows the sequential ratio."""
    row = next(r for r in report["cases"] if r["case"] == "7-ensemble")
    rates = row["details"]["images_per_s"]
    assert {"ours", "sequential", "floor"} <= set(rates) and all(v > 0 for v in rates.values())
    assert math.isclose(rates["ours"], 2 * 4 / row["ours"])
    assert math.isclose(row["ratio_to_sequential"], rates["sequential"] / rates["ours"])
    assert "baselines" not in row
    assert "ours / sequential" in cmd_bench.table(report)
    if "torchattacks" in rates:
        assert math.isclose(row["ratio_to_best_peer"], rates["torchattacks"] / rates["ours"])


def test_bench_imports_no_experiment_code() -> None:
    """Layering: the bench builds its workloads from geometry, losses, models, pgd, sphere, train
    and data only, besides the utilities (errors, atomic, jsondata, machine) — checked in a fresh
    interpreter, so nothing else has imported them."""
    code = ("import sys, advdyn.bench.cases; "
            "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('advdyn.')}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    layers = set(ast.literal_eval(out))
    assert layers <= {"bench", "geometry", "losses", "models", "pgd", "sphere", "train", "data",
                      "errors", "atomic", "jsondata", "machine"}, layers
    assert "bench" in layers


def test_fig1_workload_is_the_experiments_problem() -> None:
    """The bench's Figure 1 problems equal those of the Figure 1 experiment's defaults."""
    from advdyn.experiments.fig1 import Fig1Config

    cfg = Fig1Config()
    net64, u64, _ = cfg.setup().draw(0)
    net, u, cells, rows = fig1_workload(0, 3)
    torch.testing.assert_close(net.W, net64.W.float(), rtol=0, atol=0)
    torch.testing.assert_close(net.a, net64.a.float(), rtol=0, atol=0)
    torch.testing.assert_close(u, u64.float(), rtol=0, atol=0)
    assert cells == [(c, r) for c in cfg.scales for r in cfg.ratios]
    ours = (FIG1_WIDTH, FIG1_RULE, FIG1_RHO, FIG1_LABEL)
    assert ours == (cfg.width, cfg.rule, cfg.rho, cfg.label)
    assert cfg.loss == "bce" and rows.tolist() == [i for i in range(9) for _ in range(3)]


def test_two_layer_floor_passes_are_what_the_rule_needs() -> None:
    labels = torch.tensor([0.0, 1.0])
    assert step_passes(BinaryCrossEntropy, labels, "normalized") == (torch.Tensor.sigmoid_,)
    assert step_passes(BinaryCrossEntropy, labels, "sign") == (torch.Tensor.sigmoid_,)
    assert len(step_passes(BinaryCrossEntropy, labels, "raw")) == 2
    assert len(step_passes(BinaryCrossEntropy, torch.tensor([0.3]), "normalized")) == 2
    assert len(step_passes(Quadratic, labels, "normalized")) == 2


def test_spread_is_unknown_below_four_times_and_the_quartile_half_width_above() -> None:
    from advdyn.bench.timing import spread

    assert spread([1.0, 2.0, 3.0]) is None
    assert spread([1.0, 1.0, 1.0, 1.0]) == 0.0
    # quartiles (exclusive method) of 1..5: 1.5 and 4.5, median 3 → 3 / 6
    assert spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(0.5)
