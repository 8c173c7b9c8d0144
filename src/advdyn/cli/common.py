"""The helpers the command modules share (argument types, flags from configuration dataclasses,
executor flags, JSON output, printing a finished experiment): no command imports another.
Building a parser here imports neither torch nor numpy (the functions that run do)."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import re
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advdyn.cli.names import COMMANDS, DEVICE_NAMES, DTYPE_NAMES, EXECUTOR_NAMES, FIELD_HELP
from advdyn.errors import fail
from advdyn.experiments.base import tuple_lists

if TYPE_CHECKING:  # imported where used: building a parser loads neither torch nor numpy
    import numpy as np
    import torch

    from advdyn.models import Problem
    from advdyn.runner import Executor


def _number(text: str, kind: type, lower: float | None = None, strict: bool = False
            ) -> float | int:
    """``kind(text)``, finite, and ``> lower`` (``strict``) or ``≥ lower``; else the
    one-line ``argparse.ArgumentTypeError`` that argparse prints as ``argument --flag: ...``."""
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    if lower is not None and (value <= lower if strict else value < lower):
        raise argparse.ArgumentTypeError(f"must be {'>' if strict else '≥'} {lower:g}, "
                                         f"got {text!r}")
    return value


def finite_float(text: str) -> float:
    """Argument type: any finite number (NaN and ±inf refused)."""
    return float(_number(text, float))


def positive_float(text: str) -> float:
    """Argument type: a finite number > 0 (a step size, a scale, a tolerance)."""
    return float(_number(text, float, 0.0, strict=True))


def nonneg_float(text: str) -> float:
    """Argument type: a finite number ≥ 0."""
    return float(_number(text, float, 0.0))


def positive_int(text: str) -> int:
    """Argument type: a whole number ≥ 1 (a count of steps, starts, workers, threads)."""
    return int(_number(text, int, 1.0))


def nonneg_int(text: str) -> int:
    """Argument type: a whole number ≥ 0 (a seed, an epoch, a count that may be zero)."""
    return int(_number(text, int, 0.0))


def boolean(text: str) -> bool:
    """Argument type: ``true``/``false`` (also ``yes``/``no``, ``1``/``0``), any case."""
    word = text.strip().lower()
    if word in ("true", "yes", "1"):
        return True
    if word in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"must be true or false, got {text!r}")


def number_type(kind: Any) -> Any:
    """The argument type of a configuration field of type ``kind``: ``float`` → finite
    numbers only, ``int`` → whole numbers, ``bool`` → true/false; the configuration's own
    validation checks the range."""
    return {float: finite_float, int: int, bool: boolean}.get(kind, kind)


class LazySubparsers(argparse._SubParsersAction):
    """Subcommands whose parsers are completed only when needed: ``fill(name, parser)`` (set
    after creation) adds what needs heavy imports, when that subcommand is parsed or when
    :meth:`fill_all` is called; listing the subcommands (``--help``) imports nothing."""

    fill: typing.Callable[[str, argparse.ArgumentParser], None]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._filled: set[str] = set()

    def _complete(self, name: str) -> None:
        parser = self._name_parser_map.get(name)
        if parser is not None and parser.prog not in self._filled:  # an alias: the same parser
            self.fill(name, parser)
            self._filled.add(parser.prog)

    def fill_all(self) -> None:
        """Complete every subcommand's parser."""
        for name in list(self._name_parser_map):
            self._complete(name)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        self._complete(values[0])
        super().__call__(parser, namespace, values, option_string)


def fill_all(parser: argparse.ArgumentParser) -> None:
    """Complete every :class:`LazySubparsers` under ``parser`` (every parser in full)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            if isinstance(action, LazySubparsers):
                action.fill_all()
            for child in action.choices.values():
                fill_all(child)


def add_command(sub: argparse._SubParsersAction, name: str, description: str
                ) -> argparse.ArgumentParser:
    """The parser of command ``name``, with its help line from
    :data:`advdyn.cli.names.COMMANDS` (the one place the commands are registered)."""
    return sub.add_parser(name, help=COMMANDS[name][1], description=description)


def add_dtype(p: argparse.ArgumentParser, default: str = "float64") -> None:
    p.add_argument("--dtype", choices=DTYPE_NAMES, default=default,
                   help=f"floating point precision (default {default})")


def _read_array(path: str, field: str) -> Any:
    """The array in ``path`` (``-``: standard input): a ``.npy`` file (loaded without pickle),
    or the JSON object ``advdyn pgd --json`` prints (its ``delta`` field), or a JSON list."""
    import numpy as np

    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except FileNotFoundError:
        raise fail(field, f"no such file {path}") from None
    except OSError as e:
        raise fail(field, f"cannot read {path} ({e.strerror})") from None
    if data.startswith(b"\x93NUMPY"):
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except (OSError, ValueError) as e:
            raise fail(field, f"cannot read {path} as .npy ({e})") from None
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise fail(field, f"{path} is neither a .npy file nor JSON",
                   "give a .npy array or the output of advdyn pgd --json") from None
    if isinstance(value, dict):
        if "delta" not in value:
            raise fail(field, f"the JSON object in {path} has no 'delta' field",
                       "give the output of advdyn pgd --json")
        value = value["delta"]
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise fail(field, f"the JSON in {path} is not a list of numbers") from None


def load_vector(path: str, field: str, shape: tuple[int, ...]) -> np.ndarray:
    """An array of the given shape from ``path``: ``.npy`` or the JSON ``advdyn pgd --json``
    writes (see :func:`_read_array`)."""
    import numpy as np

    v = np.asarray(_read_array(path, field), dtype=np.float64)
    if v.shape != shape and v.size == int(np.prod(shape)) and v.squeeze().shape == shape:
        v = v.reshape(shape)
    if v.shape != shape:
        raise fail(field, f"expected shape {shape}, got {v.shape}")
    if not np.isfinite(v).all():
        raise fail(field, "has NaN or infinite entries")
    return v


def save_array(path: str, field: str, value: np.ndarray) -> None:
    """Write ``value`` as a ``.npy`` file (atomically); a path that cannot be written names
    ``field``."""
    import numpy as np

    from advdyn.atomic import write_bytes

    target = Path(path)
    if target.suffix != ".npy":
        raise fail(field, f"{path} does not end in .npy", "name a .npy file")
    if not target.parent.is_dir():
        raise fail(field, f"no folder {target.parent}", "create it or choose another path")
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value, dtype=np.float64), allow_pickle=False)
    write_bytes(target, buffer.getvalue())


def flag_error(message: str, argv: Sequence[str]) -> str:
    """An error about a configuration field given as a flag (``steps: must be > 0, got -2.0``,
    after any prefix) as ``--steps: must be > 0, got '-2'`` (the flag, the value as typed)."""
    parts = message.split(": ")
    flags = ["--" + p.replace("_", "-") for p in parts[:-1]]
    if not set(flags) & set(argv):
        return message
    flag = next(f for f in flags if f in argv)
    problem, at = ": ".join(parts[flags.index(flag) + 1:]), list(argv).index(flag) + 1
    typed = argv[at] if at < len(argv) else ""
    if typed and not typed.startswith("--"):
        problem = re.sub(r"got [^ ;]+", lambda _: f"got {typed!r}", problem, count=1)
    return f"{flag}: {problem}"


def emit_json(obj: Any) -> None:
    """Print one JSON object on stdout (arrays as lists, NaN/inf written as null)."""
    from advdyn.jsondata import plain

    sys.stdout.write(json.dumps(plain(obj)) + "\n")


def output_folder(value: str) -> Path:
    """``--out``: a folder, or a path where one can be made."""
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise fail("--out", f"{value} exists and is not a folder")
    return out


def flag_type(hint: Any) -> tuple[type, bool]:
    """``(element type, is a list)`` of a config field's type hint (``X | None`` → ``X``)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], True
    return hint, False


def config_values(config: type, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of the ``config`` dataclass that were given as flags (lists as tuples)."""
    return tuple_lists({f.name: getattr(args, f.name) for f in dataclasses.fields(config)
                        if getattr(args, f.name) is not None})


def add_config_flags(p: argparse.ArgumentParser, config: type, title: str,
                     help_texts: Mapping[str, str] | None = None) -> None:
    """One ``--flag`` per field of the ``config`` dataclass, default ``None`` (= the field's);
    ``help_texts``: the fields' help where :data:`~advdyn.cli.names.FIELD_HELP` has none."""
    from advdyn.experiments.simulated import STEP_RULES
    from advdyn.losses import SCALAR_LOSSES

    choices = {"loss": sorted(SCALAR_LOSSES), "rule": list(STEP_RULES)}
    texts = {**FIELD_HELP, **(help_texts or {})}
    g = p.add_argument_group(title)
    hints = typing.get_type_hints(config)
    default = config()
    for f in dataclasses.fields(config):
        kind, many = flag_type(hints[f.name])
        value = getattr(default, f.name)
        shown = (" ".join(f"{v:g}" if isinstance(v, float) else f"{v}" for v in value)
                 if many else f"{value}")
        extra: dict[str, Any] = {"nargs": "+", "metavar": "V"} if many else {}
        if f.name in choices:
            extra["choices"] = choices[f.name]
        text = texts[f.name] if value is None else f"{texts[f.name]} (default {shown})"
        g.add_argument("--" + f.name.replace("_", "-"), type=number_type(kind), default=None,
                       help=text, **extra)


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """``--out``, ``--threads`` and ``--no-progress``."""
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch intra-op threads (default 1: the work is many small tensor "
                        "operations, for which more threads cost more than they gain)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_device_flag(p: argparse.ArgumentParser, what: str) -> None:
    """``--device cpu|cuda|auto`` (default cpu) for ``what``."""
    p.add_argument("--device", choices=DEVICE_NAMES, default="cpu",
                   help=f"where {what} runs: cpu (default), cuda, or auto (cuda when a GPU is "
                        "visible, else cpu)")


def device_of(args: argparse.Namespace, local: bool = True) -> str:
    """The device ``--device`` names, checked before anything is written (``auto`` resolved
    here; ``cuda`` must be usable here unless the work runs elsewhere, ``local=False``)."""
    from advdyn.models.checks import resolve_device

    return resolve_device(args.device, "--device", local=local)


def prepare(args: argparse.Namespace) -> Path:
    """Validate ``--out`` and apply ``--threads``; returns the output folder."""
    import torch

    out = output_folder(args.out)
    torch.set_num_threads(args.threads)
    return out


def add_experiment_command(sub: argparse._SubParsersAction, name: str, config: type, *,
                           title: str, description: str, run: Any) -> argparse.ArgumentParser:
    """A standalone experiment command: ``--out``, ``--threads``, ``--no-progress`` and one
    flag per field of ``config``; ``run(args)`` runs it."""
    p = add_command(sub, name, description)
    add_run_flags(p)
    add_config_flags(p, config, title)
    p.set_defaults(run=run)
    return p


def run_experiment_command(args: argparse.Namespace, experiment: Any, config: type) -> Any:
    """Validate the flags (the ``config`` dataclass built from those given, ``--out``,
    ``--threads``), then run ``experiment`` through the composition layer, its files into
    ``--out`` (:func:`advdyn.pipeline.run_standalone`); returns what that gives. A command with
    ``--quick`` starts from the experiment's quick overrides (when asked), then the flags given,
    validated as ``flags``; a command with ``--device`` runs the jobs there (checked first)."""
    from advdyn.pipeline import run_standalone  # loads plotting: only for commands that draw

    values = config_values(config, args)
    if hasattr(args, "quick"):
        cfg = experiment.make_config({**(experiment.quick if args.quick else {}), **values},
                                     where="flags")
    else:
        cfg = config(**values)
    device = device_of(args) if hasattr(args, "device") else "cpu"
    out = prepare(args)
    return run_standalone(experiment, cfg, out, progress=not args.no_progress,
                          threads=args.threads, device=device)


def add_problem_output(p: argparse.ArgumentParser) -> None:
    """``--dtype`` and ``--json`` of a command on a problem file; then ``run`` is called."""
    add_dtype(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def load_problem(args: argparse.Namespace) -> tuple[Problem, torch.dtype]:
    """The problem file ``args.problem`` and the dtype ``--dtype`` names."""
    from advdyn.geometry import DTYPES
    from advdyn.models import Problem

    return Problem.load(args.problem), DTYPES[args.dtype]


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """``--executor``, ``--workers``, ``--scheduler``, ``--no-progress``."""
    p.add_argument("--executor", default="local", metavar="NAME",
                   help="where jobs run: " + ", ".join(EXECUTOR_NAMES) + " (default local: a "
                   "process pool on this machine; dask: a Dask cluster)")
    p.add_argument("--workers", type=positive_int, default=None, metavar="N",
                   help="worker processes for local, or for dask's LocalCluster "
                   "(default: CPU cores)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="dask only: a scheduler address (tcp://host:8786, e.g. a dask-jobqueue "
                   "SLURMCluster's) or scheduler file; default: start a LocalCluster")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def executor_from(args: argparse.Namespace) -> Executor:
    """The executor the arguments ask for (validated; nothing is written)."""
    from advdyn.runner import make_executor

    return make_executor(args.executor, workers=args.workers, scheduler=args.scheduler)


def print_section(section: Any, files: Sequence[str | Path]) -> int:
    """Print a finished experiment's claims and the files written; ``1`` if it failed."""
    if section.error is not None:
        sys.stderr.write(section.error.rstrip().splitlines()[-1] + "\n")
        return 1
    for c in section.outcome.claims:
        control = c.control.get("verdict")
        print(f"{c.id}: {c.verdict}" + (f" (negative control: {control})" if control else "")
              + f" — {c.reason or c.measurement}")
    print("wrote " + ", ".join(str(f) for f in files)
          + f" ({section.wall_s:.0f} s, {section.n_reused}/{section.n_jobs} jobs reused)")
    return 0
