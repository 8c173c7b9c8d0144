"""A toy experiment for the runner and report tests (not part of the package).

Importable as ``toy_experiments`` when ``tests/`` is on the path (pytest puts it there; the
subprocess tests set ``PYTHONPATH``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advdyn.errors import check_number
from advdyn.report import Claim, Figure, Outcome, Table
from advdyn.runner import Experiment, Job, JobResult


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


def toy_summarize(config: ToyConfig, results: list[JobResult], folder: Path) -> Outcome:
    """One figure, one claim, one table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ys = [r.value["y"] for r in results]
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(ys, marker="o")
    path = folder / "toy.png"
    fig.savefig(path)
    plt.close(fig)
    return Outcome(
        text="A toy experiment <with> characters to escape & check.",
        claims=[Claim("T0.1", "the toy values are finite", f"max |y| = {max(map(abs, ys)):.3g}",
                      "supported", note=f"n = {config.n}")],
        figures=[Figure(path, "Look for a line of points.", title="toy values")],
        tables=[Table("values", ["i", "y"], [[i, y] for i, y in enumerate(ys)])])


TOY = Experiment(name="toy", title="Toy experiment", config=ToyConfig, jobs=toy_jobs,
                 summarize=toy_summarize, quick={"n": 2}, description="For tests only.")

EXPERIMENT = TOY  # what the registry looks up when this module is listed in it
BROKEN = Experiment(name="broken", title="Broken experiment", config=ToyConfig, jobs=toy_jobs,
                    summarize=toy_summarize, quick={"fail": True, "n": 1},
                    description="Its job raises, to show how a failure is reported.")

# Two slow sections (8 jobs of 0.1 s each) for the kill -9 test of ``advdyn reproduce``.
SLOW_A = dataclasses.replace(TOY, name="slow_a", title="Slow toy A",
                             quick={"n": 8, "sleep": 0.1})
SLOW_B = dataclasses.replace(TOY, name="slow_b", title="Slow toy B",
                             quick={"n": 8, "sleep": 0.1, "scale": 2.0, "seed": 50})

# ------------------------------------------------ the same toy on the collect contract


def toy_collect(config: ToyConfig, values: list) -> dict:
    """The toy's result: its values, a paragraph and a table (no drawing, no verdict)."""
    ys = [v["y"] for v in values]
    return {"ys": ys, "n": config.n, "text": "A toy on the collect contract.",
            "tables": [{"title": "values", "columns": ["i", "y"],
                        "rows": [[i, y] for i, y in enumerate(ys)]}]}


def toy_draw(result: dict, records: list) -> list:
    """One picture of the toy's values, titled with its claims' verdicts."""
    from matplotlib.figure import Figure as MplFigure

    from advdyn.plots.drawing import Drawing

    fig = MplFigure(figsize=(3, 2))
    fig.subplots().plot(result["ys"], marker="o")
    return [Drawing("toy-values", fig, "toy values", " ".join(r.verdict for r in records))]


def _toy_judge(arm: dict):
    from advdyn.claims import NOT_SUPPORTED, SUPPORTED, Judgement

    ok = all(abs(y) < 1e6 for y in arm["ys"]) and len(arm["ys"]) > 0
    return Judgement(SUPPORTED if ok else NOT_SUPPORTED, f"{len(arm['ys'])} values",
                     {"n": len(arm["ys"])})


def _toy_claim():
    from advdyn.claims import Claim

    return Claim(id="T0.2", section="toy", quote="the toy values are finite", measurement="|y|",
                 rule="every |y| < 1e6", control="no values at all (an empty arm)",
                 experiment="toy2", arms=lambda r: ({"ys": r["ys"]}, {"ys": []}),
                 judge=_toy_judge)


TOY2 = Experiment(name="toy2", title="Toy on the collect contract", config=ToyConfig,
                  jobs=toy_jobs, collect=toy_collect, quick={"n": 2})
CLAIMS = (_toy_claim(),)  # what the claims registry reads when this module is listed in it
