"""Toy experiments for the runner and report tests (not part of the package).

Importable as ``toy_experiments`` when ``tests/`` is on the path (pytest puts it there; the
subprocess tests set ``PYTHONPATH``). The toys are on the ``collect`` contract; their claims
(:data:`CLAIMS`, each with a negative control) and their picture (:func:`toy_draw`) reach the
claims and plots registries through :func:`register` (in process) or through
``python -m toy_experiments ARGS`` (the ``advdyn`` command line with the toys registered).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from advdyn.claims import NOT_SUPPORTED, SUPPORTED, Claim, Judgement
from advdyn.errors import check_number
from advdyn.experiments.base import Experiment, Job


def toy_job(x: float, seed: int, sleep: float = 0.0) -> dict:
    """A pure function of its arguments, plus a draw from the global NumPy generator (which the
    runner seeds from the job's key), a nested mapping and an array."""
    time.sleep(sleep)
    rng = np.random.default_rng(seed)
    return {"y": x * x + float(rng.normal()), "global_draw": float(np.random.rand()),
            "stats": {"abs": abs(x), "sign": int(np.sign(x))},
            "curve": np.linspace(0.0, x, 5), "label": f"x={x}"}


def failing_job(x: float) -> dict:
    """Always fails (to test how a failed experiment is reported)."""
    raise RuntimeError(f"toy failure at x={x}")


@dataclass(frozen=True)
class ToyConfig:
    """Parameters of the toy experiment."""

    scale: float = 1.0
    n: int = 3
    seed: int = 0
    sleep: float = 0.0
    fail: bool = False

    def __post_init__(self) -> None:
        check_number("n", self.n, positive=True, integer=True)
        check_number("sleep", self.sleep, nonnegative=True)


def toy_jobs(config: ToyConfig) -> list[Job]:
    """``n`` jobs at ``x = scale·i``."""
    if config.fail:
        return [Job("toy_experiments:failing_job", {"x": config.scale * i})
                for i in range(config.n)]
    return [Job("toy_experiments:toy_job",
                {"x": config.scale * i, "seed": config.seed + i, "sleep": config.sleep})
            for i in range(config.n)]


def toy_collect(config: ToyConfig, values: list) -> dict:
    """The toy's result: its values, a paragraph (with characters to escape) and a table."""
    ys = [v["y"] for v in values]
    return {"ys": ys, "n": config.n,
            "text": "A toy experiment <with> characters to escape & check.",
            "tables": [{"title": "values", "columns": ["i", "y"],
                        "rows": [[i, y] for i, y in enumerate(ys)]}]}


def toy_draw(result: dict, records: list) -> list:
    """One picture of the toy's values, captioned with its claims' verdicts."""
    from matplotlib.figure import Figure as MplFigure

    from advdyn.plots.drawing import Drawing

    fig = MplFigure(figsize=(3, 2))
    fig.subplots().plot(result["ys"], marker="o")
    return [Drawing("toy-values", fig, "toy values", " ".join(r.verdict for r in records))]


def _toy_judge(arm: Any) -> Judgement:
    """Supported when there are values and every |y| < 1e6."""
    ok = all(abs(y) < 1e6 for y in arm["ys"]) and len(arm["ys"]) > 0
    return Judgement(SUPPORTED if ok else NOT_SUPPORTED, f"{len(arm['ys'])} values",
                     {"n": len(arm["ys"])})


def toy_claim(claim_id: str, experiment: str) -> Claim:
    """The toy's claim on ``experiment``'s result; its control is an empty arm."""
    return Claim(id=claim_id, section="toy", quote="the toy values are finite",
                 measurement="|y|", rule="every |y| < 1e6, at least one value",
                 control="no values at all (an empty arm)", experiment=experiment,
                 arms=lambda r: ({"ys": r["ys"]}, {"ys": []}), judge=_toy_judge)


TOY = Experiment(name="toy", title="Toy experiment", config=ToyConfig, jobs=toy_jobs,
                 collect=toy_collect, quick={"n": 2}, description="For tests only.")

EXPERIMENT = TOY  # what the registry looks up when this module is listed in it
BROKEN = Experiment(name="broken", title="Broken experiment", config=ToyConfig, jobs=toy_jobs,
                    collect=toy_collect, quick={"fail": True, "n": 1},
                    description="Its job raises, to show how a failure is reported.")

# Two slow sections (8 jobs of 0.1 s each) for the kill -9 test of ``advdyn reproduce``.
SLOW_A = dataclasses.replace(TOY, name="slow_a", title="Slow toy A",
                             quick={"n": 8, "sleep": 0.1})
SLOW_B = dataclasses.replace(TOY, name="slow_b", title="Slow toy B",
                             quick={"n": 8, "sleep": 0.1, "scale": 2.0, "seed": 50})

#: What the claims registry reads when this module is listed in it.
CLAIMS = (toy_claim("T0.1", "toy"), toy_claim("T0.1a", "slow_a"), toy_claim("T0.1b", "slow_b"))
PICTURES = {name: "toy_experiments:toy_draw" for name in ("toy", "slow_a", "slow_b")}


def register(monkeypatch: Any = None) -> None:
    """Add the toys' claims and picture to the claims and plots registries (through
    ``monkeypatch`` when given, so that a test undoes it)."""
    from advdyn.claims import registry as claims_registry
    from advdyn.plots import registry as plots_registry

    modules = [*claims_registry.MODULES, "toy_experiments"]
    if monkeypatch is None:
        claims_registry.MODULES[:] = modules
        plots_registry.PICTURES.update(PICTURES)
        return
    monkeypatch.setattr(claims_registry, "MODULES", modules)
    for name, target in PICTURES.items():
        monkeypatch.setitem(plots_registry.PICTURES, name, target)


if __name__ == "__main__":  # ``python -m toy_experiments ARGS``: advdyn with the toys registered
    import sys

    from advdyn.cli.main import main

    register()
    sys.exit(main(sys.argv[1:]))
