"""The device path, on the CPU: ``--device auto`` resolves to the CPU here, a device that is not
there is refused before anything is written (exit 2, one line naming ``--device``), a job of an
experiment that runs on a device carries it in its configuration, and a CPU job's
configuration — hence its cache key and result — is what it was before the device path."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from advdyn.bench import BenchSizes
from advdyn.bench.core import synchronised
from advdyn.cli.main import main
from advdyn.errors import AdvdynError
from advdyn.experiments import registry
from advdyn.experiments.at_scale import train_job
from advdyn.experiments.base import Job, on_device
from advdyn.experiments.fig2 import probe_job
from advdyn.models.checks import resolve_device
from advdyn.pipeline import plan
from advdyn.pipeline import sweep as run_sweep
from advdyn.runner.executors import Completed, Executor
from advdyn.runner.store import key_of
from advdyn.runner.sweep import load_sweep

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
ON_DEVICE = {"fig2", "at_scale"}


def test_auto_is_a_gpu_when_there_is_one_else_the_cpu() -> None:
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(AdvdynError, match="--device"):
        resolve_device("tpu")


@NO_GPU
def test_cuda_is_refused_here_but_kept_for_remote_workers() -> None:
    with pytest.raises(AdvdynError, match="--device"):
        resolve_device("cuda")
    assert resolve_device("cuda", local=False) == "cuda"


def fig2_sweep(folder: Path) -> Path:
    """A two-point sweep of the fig2 experiment (whose jobs take a device)."""
    grid = folder / "grid.yaml"
    grid.write_text("experiment: fig2\ngrid:\n  model_seed: [0, 1]\n", encoding="utf-8")
    return grid


@NO_GPU
@pytest.mark.parametrize("argv", [["train", "--epochs", "1"], ["fig2", "--quick"],
                                  ["fig3", "--quick"], ["reproduce", "--quick"],
                                  ["check", "fig2a", "--quick"], ["sweep", "GRID"]])
def test_an_absent_device_exits_2_with_one_line_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    out = tmp_path / "out"
    argv = [str(fig2_sweep(tmp_path)) if a == "GRID" else a for a in argv]
    assert main([*argv, "--out", str(out), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device" in err
    assert not out.exists()


@NO_GPU
def test_bench_refuses_an_absent_device(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--cases", "7", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device" in err


def test_an_unknown_device_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["train", "--out", "unused", "--device", "tpu"])
    assert e.value.code == 2 and "--device" in capsys.readouterr().err


def test_jobs_carry_a_device_other_than_the_cpu_and_cpu_jobs_keep_their_keys() -> None:
    experiments = registry.registered()
    before = plan(experiments, profile="quick")
    on_cpu = plan(experiments, profile="quick", device="cpu")
    on_gpu = plan(experiments, profile="quick", device="cuda")
    for (e, _, jobs), (_, _, cpu), (_, _, gpu) in zip(before.entries, on_cpu.entries,
                                                      on_gpu.entries, strict=True):
        assert [key_of(j) for j in cpu] == [key_of(j) for j in jobs], e.name
        assert all("device" not in j.config for j in cpu), e.name
        if e.name in ON_DEVICE:
            assert [j.config for j in gpu] == [{**j.config, "device": "cuda"} for j in jobs]
            assert {key_of(j) for j in gpu}.isdisjoint(key_of(j) for j in jobs)
        else:
            assert [key_of(j) for j in gpu] == [key_of(j) for j in jobs], e.name
    assert {e.name for e in experiments if e.devices} == ON_DEVICE
    fig2 = registry.get("fig2", "experiment")
    assert on_device(fig2, [], "cuda") == []


class _Refusing(Executor):
    """An executor that records the jobs it is given and runs none."""

    name = "refusing"

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def run(self, jobs: Sequence[Job]) -> Iterator[Completed]:
        self.jobs.extend(jobs)
        raise _RefusedError


class _RefusedError(Exception):
    """Raised by :class:`_Refusing` instead of running a job."""


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_sweep_sends_its_jobs_to_the_device_and_cpu_jobs_keep_their_keys(
        tmp_path: Path, device: str) -> None:
    sweep = load_sweep(fig2_sweep(tmp_path))
    executor = _Refusing()
    with pytest.raises(_RefusedError):
        run_sweep(sweep, tmp_path / "out", executor, progress=False, device=device)
    expected = [j if device == "cpu" else Job(j.function, {**j.config, "device": device})
                for j in sweep.all_jobs]
    assert executor.jobs and [key_of(j) for j in executor.jobs] == [key_of(j) for j in expected]


def test_check_and_sweep_default_to_the_cpu() -> None:
    from advdyn.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["check", "fig2a", "--out", "o"]).device == "cpu"
    assert parser.parse_args(["sweep", "g.yaml", "--out", "o"]).device == "cpu"
    assert parser.parse_args(["check", "fig2a", "--out", "o", "--device", "auto"]).device == "auto"


@NO_GPU
@pytest.mark.parametrize("job", [probe_job, train_job])
def test_a_job_checks_its_device_where_it_runs(job: Callable[..., dict[str, Any]]) -> None:
    """A job sent to a worker without the device fails there at once, naming the field."""
    with pytest.raises(AdvdynError, match="device"):
        job("plain", 1.0, device="cuda")


def test_bench_sizes_carry_the_device_and_the_cpu_needs_no_wait() -> None:
    def fn() -> int:
        return 1

    assert BenchSizes().device == "cpu"
    assert synchronised(fn, "cpu") is fn
