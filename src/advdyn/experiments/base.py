"""The plug-in interface of an experiment: configuration in, plain results out.

An experiment module defines its configuration as a dataclass (each field a parameter, the
defaults the full run, validation in ``__post_init__`` raising :class:`advdyn.AdvdynError`), a
function splitting a configuration into :class:`Job` s (each a pure function of its JSON
configuration, run and cached by :mod:`advdyn.runner`), and a function collecting the jobs'
values into the experiment's result. It exposes them as one module-level :class:`Experiment`
named ``EXPERIMENT`` and is listed in :mod:`advdyn.experiments.registry`. Claims read results
(:mod:`advdyn.claims`); pictures and pages read results and verdicts (:mod:`advdyn.plots`,
:mod:`advdyn.report`).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from advdyn.errors import AdvdynError, fail

__all__ = ["Experiment", "Job", "canonical_json", "config_dict", "on_device", "tuple_lists"]


def canonical_json(obj: Any, field_name: str = "config") -> str:
    """Compact JSON with sorted keys; raise naming ``field_name`` if ``obj`` is not JSON data."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as e:
        raise fail(field_name, f"not plain JSON data ({e})",
                   "use numbers, strings, booleans, None, lists and string-keyed dicts") from None


@dataclass(frozen=True, eq=False)
class Job:
    """One unit of work: ``function(**config)`` returning a string-keyed mapping.

    ``function`` is ``"package.module:name"``; ``config`` must be JSON data (it is stored beside
    the result, and with the function it identifies the job: two jobs are equal when their
    canonical JSON is). Top-level NumPy arrays or tensors in the returned mapping are stored
    losslessly; everything else must be JSON data. The job's cache key is the runner's business
    (:func:`advdyn.runner.store.key_of`).
    """

    function: str
    config: Mapping[str, Any]
    canonical: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if ":" not in self.function:
            raise fail("job.function", f"{self.function!r} is not 'package.module:name'")
        text = canonical_json(self.config)
        object.__setattr__(self, "config", json.loads(text))
        object.__setattr__(self, "canonical", f"{self.function}\n{text}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.canonical == self.canonical

    def __hash__(self) -> int:
        return hash(self.canonical)


def on_device(experiment: Experiment, jobs: list[Job], device: str) -> list[Job]:
    """``experiment``'s jobs, to run on ``device``: with ``"device": device`` in each job's
    configuration when the experiment's jobs take one (``devices``) and ``device`` is not the
    CPU. A CPU job's configuration is left as it is, so its cache key (a hash of function and
    configuration) and its stored result stay those of every earlier CPU run; the other
    experiments' jobs run on the CPU."""
    if device == "cpu" or not experiment.devices:
        return jobs
    return [Job(job.function, {**job.config, "device": device}) for job in jobs]


def tuple_lists(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """JSON parameters with every list turned into a tuple (the configuration dataclasses hold
    tuples; a job's JSON configuration holds lists)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in parameters.items()}


@dataclass(frozen=True)
class Experiment:
    """An experiment: a configuration type, its jobs, and how their values become its result.

    - ``name``: short identifier (``"census"``): the sweep file's ``experiment:`` value and the
      experiment's output folder.
    - ``title``: the report section's heading; ``description``: its opening paragraph.
    - ``config``: a dataclass type; every field is a parameter a sweep may vary.
    - ``jobs(config) -> list[Job]``: the work, each job a pure function of its JSON config.
    - ``collect(config, values) -> dict``: the experiment's **result** from the jobs' values (in
      the order of ``jobs(config)``): plain data (JSON values and NumPy arrays) holding
      ``"text"`` (a paragraph on the setting), ``"tables"`` (a list of ``{"title", "columns",
      "rows"}``) and whatever its claims' ``arms`` and its pictures read. It draws nothing,
      writes nothing, prints nothing, and judges nothing (verdicts live in
      :mod:`advdyn.claims`).
    - ``quick``: parameter overrides for ``advdyn reproduce --quick`` (a run of a few minutes).
    - ``reference``: parameter overrides for ``advdyn reproduce --profile reference``: the size
      at which every claim of the experiment is adequately powered and the whole reference run
      fits two hours of wall time on two CPU cores (the committed ``results/reference/``).
    - ``row(value) -> dict``: optional; a job's columns in a sweep's table (scalars), from the
      job's value. Without it, the scalars of the value are used (nested mappings as ``a.b``).
    - ``devices``: whether its job functions take a ``device`` keyword (a torch device name,
      ``"cpu"`` when absent) and run there; :func:`on_device` adds it to the jobs.
    """

    name: str
    title: str
    config: type
    jobs: Callable[[Any], list[Job]]
    collect: Callable[[Any, list[Any]], dict[str, Any]]
    quick: Mapping[str, Any] = field(default_factory=dict)
    reference: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    row: Callable[[Any], Mapping[str, Any]] | None = None
    devices: bool = False

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.config):
            raise TypeError(f"experiment {self.name}: config must be a dataclass type")

    def parameters(self) -> dict[str, Any]:
        """Parameter names and their defaults (``dataclasses.MISSING`` where there is none)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self.config):
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
            else:
                out[f.name] = dataclasses.MISSING
        return out

    def coerce(self, name: str, value: Any) -> Any:
        """``value`` converted to parameter ``name``'s type where that loses nothing."""
        return _coerce(typing.get_type_hints(self.config).get(name, Any), value)

    def make_config(self, values: Mapping[str, Any], where: str = "parameters") -> Any:
        """Build a configuration from ``values`` (the rest default), coercing values to the
        field types (YAML's ``1`` for a float field, ``1e-3`` read as a string, lists for
        tuples, one value for a tuple of one). Errors name ``where`` and the parameter."""
        params = self.parameters()
        for name in values:
            if name not in params:
                raise fail(f"{where}.{name}", f"unknown parameter of experiment {self.name!r}",
                           "known: " + ", ".join(params))
        missing = [n for n, d in params.items() if d is dataclasses.MISSING and n not in values]
        if missing:
            raise fail(f"{where}.{missing[0]}", f"required by experiment {self.name!r}")
        kwargs = {n: self.coerce(n, v) for n, v in values.items()}
        try:
            return self.config(**kwargs)
        except AdvdynError as e:
            raise fail(where, str(e)) from None
        except (TypeError, ValueError) as e:
            raise fail(where, f"invalid parameters ({e})") from None


def config_dict(config: Any) -> dict[str, Any]:
    """A configuration dataclass as a plain dict (tuples as lists), for tables and reports."""
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(config).items()}


def _coerce(hint: Any, value: Any) -> Any:
    """Convert ``value`` to the simple type ``hint`` names where that loses nothing."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return value if value is None or len(options) != 1 else _coerce(options[0], value)
    if origin in (tuple, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        inner = args[0] if len(args) == 1 else Any
        items = value if isinstance(value, (list, tuple)) else [value]  # one value: a 1-list
        return origin(_coerce(inner, v) for v in items)
    if isinstance(value, bool):
        return value
    if hint is float:
        if isinstance(value, int):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


