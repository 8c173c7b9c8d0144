"""Run an experiment's jobs in this process and collect its result (no store, no files)."""

from __future__ import annotations

import json
from typing import Any

from advdyn.runner.executors import resolve


def run_inline(experiment: Any, config: Any) -> dict[str, Any]:
    """``experiment.collect(config, values)`` with every job run here, each job's JSON config
    round-tripped through JSON as the runner stores it."""
    values = [resolve(j.function)(**json.loads(json.dumps(j.config)))
              for j in experiment.jobs(config)]
    return experiment.collect(config, values)
