"""The real-network experiments end to end on MNIST-format IDX files the test writes: jobs →
collect → every claim judged with its control → pictures; tiny configurations."""

from __future__ import annotations

import importlib
import json
import math

import pytest

from advdyn.claims import VERDICTS, claims_of
from advdyn.errors import AdvdynError
from advdyn.experiments import at_scale, fig2
from advdyn.plots.escape import draw, draw_training
from test_mnist_data import write_mnist_dir


def _run(experiment, values):
    config = experiment.make_config(values)
    out = []
    for job in experiment.jobs(config):
        module, _, name = job.function.partition(":")
        out.append(getattr(importlib.import_module(module), name)(**job.config))
    json.dumps(out)  # every job value is plain JSON data
    return experiment.collect(config, out)


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    return str(write_mnist_dir(tmp_path_factory.mktemp("idx"), n_train=40, n_test=12))


def _check_records(experiment_name, result, ids):
    records = [c.evaluate(result) for c in claims_of(experiment_name)]
    assert sorted(r.id for r in records) == sorted(ids)
    for r in records:
        assert r.verdict in VERDICTS and r.control["verdict"] in VERDICTS
        assert r.control["description"] and r.rule and r.reason
        json.dumps(r.to_json(), allow_nan=True)
    return records


def test_fig2_on_idx_files(mnist_dir):
    result = _run(fig2.EXPERIMENT, {
        "mnist_dir": mnist_dir, "scales": (0.1, 1000.0), "ratios": (0.01, 1.0), "images": 2,
        "steps": 8, "ascent_steps": 20, "reference_steps": 8, "arch": "tiny"})
    checks = result["checks"]
    assert checks["rows_with_zero_ell"] == 0 and math.isfinite(checks["smallest_log_ell"])
    assert checks["certified"] + checks["rejected"] == checks["starts"] == 2 * 2 * 2  # CNN
    assert "IDX files" in result["text"]
    assert len(result["groups"]) == 3 * 4 * 2 * 2  # arms × conventions × scales × ratios
    assert {g["arm"] for g in result["groups"]} == {"plain", "affine", "linearised"}
    assert len(result["calibration"]) == 4 * 2 * 2 and all(
        {"plain", "affine", "linearised"} <= set(c) for c in result["calibration"])
    records = _check_records("fig2", result, ["fig2a", "fig2b", "fig2c", "fig2-scale"])
    stems = [d.stem for d in draw(result, records)]
    assert stems == ["fig2", "fig2_loss", "fig2_floor"]


def test_at_scale_on_idx_files(mnist_dir):
    result = _run(at_scale.EXPERIMENT, {
        "mnist_dir": mnist_dir, "scales": (0.1, 1000.0), "seeds": (0, 1), "epochs": 1,
        "probe_epochs": (0, 1), "arch": "tiny", "train_images": 16, "validation": 8,
        "eval_images": 8, "eval_restarts": 1, "batch_size": 8, "pgd_steps": 2,
        "lr_points": 2, "lr_decades": 1.0, "probe_images": 2, "probe_ratios": (0.1,),
        "probe_steps": 6, "probe_ascent_steps": 10, "probe_reference_steps": 6,
        "q1_images": 2, "q1_runs": 2, "q1_steps": 6, "restarts": 3, "restart_steps": 4,
        "affine_probes": 2})
    assert len(result["runs"]) == 2 * 2 * 2  # arms × scales × seeds at the selected lr
    assert all(len(r["history"]) == 2 and "test_robust_acc" in r["history"][-1]
               for r in result["runs"])
    search = result["lr_search"]["plain"]["1000"]
    assert len(search["grid"]) == 2 and search["selected_lr"] in search["grid"]
    assert {r["arm"] for r in result["q1"]} == {"plain", "affine", "linearised"}
    assert all(len(r["spread"]) == 2 for r in result["restarts"])
    records = _check_records("at_scale", result, ["at-scale", "sphere-at", "fig3",
                                                  "fig3-scale", "q1-cnn", "concentration-cnn"])
    assert all(r.power is not None or r.verdict == "inconclusive" for r in records)
    assert [d.stem for d in draw_training(result, records)] == ["at_scale", "fig3",
                                                                 "q1_stationarity"]


@pytest.mark.parametrize(("values", "field"), [
    ({"scales": (1.0,)}, "scales"), ({"probe_epochs": (0, 99)}, "probe_epochs"),
    ({"seeds": (0, 0)}, "seeds"), ({"robust_level": 1.5}, "robust_level")])
def test_at_scale_config_errors_name_the_field(values, field):
    with pytest.raises(AdvdynError, match=field):
        at_scale.EXPERIMENT.make_config(values)


def test_fig2_config_errors_name_the_field():
    with pytest.raises(AdvdynError, match="scales"):
        fig2.EXPERIMENT.make_config({"scales": (0.1, 0.1)})
    with pytest.raises(AdvdynError, match="pool"):
        fig2.EXPERIMENT.make_config({"pool": "median"})
