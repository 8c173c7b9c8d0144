"""Smoke test of ``advdyn bench`` at tiny sizes: the report's structure, positive floors and
ratios, and the readable table. Timings at these sizes mean nothing; the bench is not a test."""

from __future__ import annotations

import json
import math

import pytest

from advdyn.bench import CASES, BenchSizes, run_bench
from advdyn.cli import cmd_bench
from advdyn.cli.main import main

TINY = BenchSizes(reps=1, twolayer_dim=8, twolayer_width=16, twolayer_batch=3, twolayer_steps=2,
                  cnn_batch=2, cnn_steps=1, fig1_starts=2, fig1_steps=2, fig1_reps=1,
                  census_dim=3, census_width=8, census_starts=16, census_reps=1, record_steps=2,
                  record_chunk_bytes=4096, record_fresh_processes=False)
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
    assert with_peers == {"1-twolayer", "2-cnn", "3-fig1"}


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
