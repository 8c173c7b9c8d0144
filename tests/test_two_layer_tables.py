"""The two-layer experiments' result tables hold rows whose keys differ: corollary31 records a
trajectory that never switched without ``t_switch`` and the curve's summary; its table must keep
every column and leave the missing cells empty (regression: collect raised KeyError whenever a
switched trajectory came before one that never switched)."""

from __future__ import annotations

from advdyn.experiments.two_layer.c31 import EXPERIMENT
from advdyn.experiments.two_layer.common import table


def test_a_table_keeps_every_column_and_leaves_missing_cells_empty() -> None:
    seen = table("t", [{"a": 1, "b": 2.5}, {"a": 3}, {"a": 4, "c": True}])
    assert seen["columns"] == ["a", "b", "c"]
    assert seen["rows"] == [[1, 2.5, None], [3, None, None], [4, None, True]]


def test_corollary31_collects_a_switched_trajectory_beside_one_that_never_switched() -> None:
    switched = {"seed": 0, "trajectory": 0, "schedule": "shrinking", "beta": 1.0, "eta": 1e-3,
                "switched": True, "t_switch": 12, "DS_over_D0": 0.1, "slope": -1.0}
    never = {"seed": 0, "trajectory": 1, "schedule": "shrinking", "switched": False}
    config = EXPERIMENT.make_config({"seeds": 1, "starts": 2})
    result = EXPERIMENT.collect(config, [{"rows": [switched, never]}, {"rows": [never]}])
    main = result["tables"][0]
    assert "t_switch" in main["columns"]
    assert [r[main["columns"].index("t_switch")] for r in main["rows"]] == [12, None]
    assert result["arms"]["main"]["rows"] == [switched, never]
