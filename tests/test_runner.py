"""The job runner: keys, the atomic store, reuse, executors, resume after ``kill -9``, sweeps."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import advdyn
import toy_experiments
from advdyn.atomic import is_partial
from advdyn.cli.main import main
from advdyn.errors import AdvdynError
from advdyn.experiments.base import Job
from advdyn.pipeline import sweep as run_sweep
from advdyn.runner import ResultStore, job_key, key_of, make_executor, run_jobs
from advdyn.runner.executors import DaskExecutor, InlineExecutor, LocalExecutor
from advdyn.runner.sweep import load_sweep

TESTS = Path(__file__).resolve().parent
HAVE_DASK = True
try:
    import distributed  # noqa: F401
except ImportError:
    HAVE_DASK = False


def toy(n: int, sleep: float = 0.0, scale: float = 1.0) -> list[Job]:
    return [Job("toy_experiments:toy_job", {"x": scale * i, "seed": i, "sleep": sleep})
            for i in range(n)]


def sweep_file(folder: Path, *, n: int = 3, sleep: float = 0.0, seeds: int = 2) -> Path:
    path = folder / "toy.yaml"
    path.write_text(textwrap.dedent(f"""\
        experiment: "toy_experiments:TOY"
        description: toy sweep for the tests
        fixed:
          n: {n}
          sleep: {sleep}
        grid:
          scale: [0.5, 2, 1e-3]
          seed: {list(range(0, 10 * seeds, 10))}
        """))
    return path


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(autouse=True)
def tests_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes (spawned, or Dask's) import the toy jobs from ``tests/``."""
    monkeypatch.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])


def same_values(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        if isinstance(a[k], np.ndarray):
            if not (a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k])):
                return False
        elif json.dumps(a[k]) != json.dumps(b[k]):  # NaN equals NaN here
            return False
    return True


# ---------------------------------------------------------------- keys and the store


def test_key_is_canonical_and_versioned() -> None:
    a = Job("toy_experiments:toy_job", {"x": 1.0, "seed": 3})
    b = Job("toy_experiments:toy_job", {"seed": 3, "x": 1.0})
    assert key_of(a) == key_of(b) == job_key(a.function, {"seed": 3, "x": 1.0}, advdyn.__version__)
    assert len(key_of(a)) == 64
    assert job_key(a.function, a.config, "0.0.0-other") != key_of(a)
    assert key_of(Job("toy_experiments:toy_job", {"x": 1.5, "seed": 3})) != key_of(a)
    assert key_of(Job("toy_experiments:failing_job", {"x": 1.0, "seed": 3})) != key_of(a)


@pytest.mark.parametrize("config", [{"x": math.nan}, {"x": object()}, {"x": {1, 2}}])
def test_key_rejects_non_json_config(config: dict) -> None:
    with pytest.raises(AdvdynError, match=r"^config"):
        Job("toy_experiments:toy_job", config)


def test_job_function_must_be_importable(tmp_path: Path) -> None:
    with pytest.raises(AdvdynError, match=r"job.function"):
        Job("no_colon", {})
    with pytest.raises(AdvdynError, match=r"job.function.*no function"):
        run_jobs([Job("toy_experiments:nothing_here", {})], ResultStore(tmp_path),
                 InlineExecutor(), progress=False)
    assert not tmp_path.joinpath("x").exists() and list(tmp_path.iterdir()) == []


def test_store_round_trip_and_corrupt_entries(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "cache")
    job = toy(3)[2]
    value = {"a": 1, "nan": math.nan, "nested": {"b": [1, 2]}, "arr": np.arange(4.0),
             "ints": np.arange(3, dtype=np.int32), "scalar": np.float64(2.5)}
    saved = store.save(job, value, 0.1)
    loaded = store.load(job)
    assert loaded is not None and loaded.cached and not saved.cached
    assert same_values(saved.value, loaded.value)
    assert loaded.value["ints"].dtype == np.int32 and math.isnan(loaded.value["nan"])
    assert loaded.value["scalar"] == 2.5 and loaded.value["nested"] == {"b": [1, 2]}
    assert store.load(toy(3)[1]) is None
    # a damaged entry is never read back: it counts as missing and is recomputed
    result = store.path(key_of(job)) / "result.json"
    result.write_text(result.read_text()[:20])
    assert store.load(job) is None
    [again] = run_jobs([job], store, InlineExecutor(), progress=False)
    assert not again.cached and store.load(job) is not None


def test_atomic_dir_killed_before_rename_leaves_nothing_readable(tmp_path: Path) -> None:
    """A writer SIGKILLed inside the atomic folder write leaves no entry, only a hidden
    leftover, which the next run removes."""
    store_root = tmp_path / "cache"
    job = toy(2)[1]
    code = textwrap.dedent(f"""
        import os, signal
        from advdyn.atomic import atomic_dir
        with atomic_dir({str(store_root / key_of(job))!r}) as tmp:
            (tmp / "result.json").write_text('{{"key": "{key_of(job)}", "result": ')
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), check=False)
    assert proc.returncode == -signal.SIGKILL
    store = ResultStore(store_root)
    assert not store.path(key_of(job)).exists() and store.load(job) is None
    leftovers = [p for p in store_root.iterdir() if is_partial(p)]
    assert len(leftovers) == 1
    [result] = run_jobs([job], store, InlineExecutor(), progress=False)
    assert not result.cached
    assert [p.name for p in store_root.iterdir()] == [key_of(job)]


# ---------------------------------------------------------------- executors and reuse


def test_results_reused_and_same_from_every_executor(tmp_path: Path) -> None:
    jobs = toy(6, scale=0.7) + toy(2, scale=0.7)  # duplicates are computed once
    before = (np.random.get_state()[1].copy(), torch.get_default_dtype())
    inline = run_jobs(jobs, ResultStore(tmp_path / "a"), InlineExecutor(), progress=False)
    assert np.array_equal(np.random.get_state()[1], before[0])  # the caller's state is kept
    assert torch.get_default_dtype() == before[1]
    with LocalExecutor(2) as pool:
        pooled = run_jobs(jobs, ResultStore(tmp_path / "b"), pool, progress=False)
    assert len(inline) == len(jobs) == 8
    assert len(list((tmp_path / "a").iterdir())) == 6
    for r, s, job in zip(inline, pooled, jobs, strict=True):
        assert r.job == s.job == job and not r.cached
        assert same_values(r.value, s.value)  # bit for bit, global RNG draws included
    again = run_jobs(jobs, ResultStore(tmp_path / "b"), InlineExecutor(), progress=False)
    assert all(r.cached for r in again)
    assert all(same_values(r.value, s.value) for r, s in zip(again, inline, strict=True))


def test_failing_job_raises_and_keeps_finished_results(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    jobs = [*toy(2), Job("toy_experiments:failing_job", {"x": 1.0})]
    with pytest.raises(RuntimeError, match=r"toy failure"):
        run_jobs(jobs, store, InlineExecutor(), progress=False)
    assert all(store.load(j) is not None for j in jobs[:2])


def test_make_executor_validates() -> None:
    with pytest.raises(AdvdynError, match=r"^executor: unknown option 'slurm'"):
        make_executor("slurm")
    with pytest.raises(AdvdynError, match=r"^workers"):
        make_executor("local", workers=0)
    with pytest.raises(AdvdynError, match=r"^scheduler: only used with --executor dask"):
        make_executor("local", scheduler="tcp://127.0.0.1:8786")


def test_dask_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(AdvdynError, match=r"^executor: dask is not installed"):
        make_executor("dask")


@pytest.mark.skipif(not HAVE_DASK, reason="dask/distributed not installed (advdyn[dask])")
def test_dask_bad_scheduler_address() -> None:
    with pytest.raises(AdvdynError, match=r"^scheduler: cannot connect"):
        DaskExecutor("tcp://127.0.0.1:9", 1, connect_timeout_s=1.0)


# ---------------------------------------------------------------- sweeps


def test_sweep_parses_grid_and_coerces_types(tmp_path: Path) -> None:
    sweep = load_sweep(sweep_file(tmp_path))
    assert sweep.grid == {"scale": [0.5, 2.0, 0.001], "seed": [0, 10]}
    assert all(isinstance(v, float) for v in sweep.grid["scale"])
    assert len(sweep.points) == 6 and sum(map(len, sweep.jobs)) == 18
    assert sweep.points[1] == {"scale": 0.5, "seed": 10}


@pytest.mark.parametrize(("text", "field"), [
    ("experiment: toy_experiments:TOY\ngrid: {scale: [1, 2]\n", "sweep file"),
    ("grid: {scale: [1]}\n", "experiment"),
    ("experiment: nope\ngrid: {scale: [1]}\n", "experiment: unknown experiment 'nope'"),
    ("experiment: toy_experiments:TOY\ngrid: {widht: [1]}\n", "grid.widht: unknown parameter"),
    ("experiment: toy_experiments:TOY\nfixed: {colour: 1}\ngrid: {n: [1]}\n", "fixed.colour"),
    ("experiment: toy_experiments:TOY\ngrid: {n: 3}\n", "grid.n: expected a non-empty list"),
    ("experiment: toy_experiments:TOY\ngrid: {n: [1, 1]}\n", "grid.n: a value is repeated"),
    ("experiment: toy_experiments:TOY\ngrid: {n: [1]}\nfixed: {n: 2}\n", "grid.n: also given"),
    ("experiment: toy_experiments:TOY\ngrid: {n: [1]}\ngird: {}\n", "gird: unknown field"),
    ("experiment: toy_experiments:TOY\ngrid: {n: [1]}\ngrid: {n: [2]}\n",
     "sweep file: .*key 'grid' given twice"),
    ("experiment: toy_experiments:TOY\ngrid: {n: [2, -1]}\n", "grid point n=-1: n: must be"),
    ("experiment: toy_experiments:TOY\n", "grid: missing"),
    ("- a list\n", "sweep file: expected a mapping"),
])
def test_bad_sweep_file_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(AdvdynError, match=r"^" + field.replace("(", r"\(")):
        load_sweep(path)


@pytest.mark.parametrize("args", [
    ["--executor", "slurm"], ["--executor", "local", "--scheduler", "tcp://x:1"],
    ["--workers", "0"]])
def test_cli_bad_input_exit_2_one_line_nothing_written(tmp_path: Path, args: list[str],
                                                       capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    try:
        rc = main(["sweep", str(sweep_file(tmp_path)), "--out", str(out), *args])
    except SystemExit as e:  # refused by a flag's type
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err
    assert not out.exists()


def test_cli_malformed_yaml_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment: [unclosed\n")
    out = tmp_path / "out"
    assert main(["sweep", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("advdyn sweep: error: sweep file:") and err.count("\n") == 1
    assert not out.exists()


def test_sweep_table_and_rerun_reuses(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    grid = sweep_file(tmp_path, n=4, sleep=0.1, seeds=2)
    out = tmp_path / "out"
    assert main(["sweep", str(grid), "--out", str(out), "--executor", "inline",
                 "--no-progress"]) == 0
    assert main(["sweep", str(grid), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "(0 reused)" in printed and "(20 reused)" in printed
    lines = (out / "table.csv").read_text().splitlines()
    assert lines[0] == ("point,job,scale,seed,n,sleep,x,y,global_draw,stats.abs,stats.sign,label,"
                        "key")
    assert len(lines) == 1 + 24  # one row per job, shared jobs repeated in every grid point
    assert lines[1].startswith("0,0,0.5,0,4,0.1,0.0,")
    assert (out / "summary.png").read_bytes().startswith(b"\x89PNG")
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["jobs"] == 20 and meta["reused"] == 20 and meta["experiment"] == "toy"
    if "pyarrow" in sys.modules or _has("pyarrow"):
        import pyarrow.parquet as pq

        table = pq.read_table(out / "table.parquet")
        assert table.num_rows == 24 and table.column_names == lines[0].split(",")


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_DASK, reason="dask/distributed not installed (advdyn[dask])")
def test_dask_local_cluster_gives_the_same_table(tmp_path: Path) -> None:
    grid = sweep_file(tmp_path, n=3, seeds=2)
    for name in ("local", "dask"):
        assert main(["sweep", str(grid), "--out", str(tmp_path / name), "--executor", name,
                     "--workers", "2", "--no-progress"]) == 0
        assert json.loads((tmp_path / name / "sweep.json").read_text())["reused"] == 0
    assert (tmp_path / "dask" / "table.csv").read_bytes() == \
        (tmp_path / "local" / "table.csv").read_bytes()


# ---------------------------------------------------------------- kill -9 and resume


def _group_alive(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def _check_every_entry_complete(cache: Path) -> int:
    """Every visible entry is a complete result; return how many there are."""
    if not cache.exists():
        return 0
    entries = [p for p in cache.iterdir() if not is_partial(p)]
    for entry in entries:
        record = json.loads((entry / "result.json").read_text())
        assert record["key"] == entry.name
        assert key_of(Job(record["function"], record["config"])) == entry.name
        with np.load(entry / "arrays.npz") as npz:
            assert sorted(npz.files) == record["arrays"] == ["curve"]
    return len(entries)


def _count_entries(cache: Path) -> int:
    return sum(1 for p in cache.iterdir() if not is_partial(p)) if cache.exists() else 0


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_kill_9_at_random_moments_then_resume(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``kill -9`` a sweep three times (once while it starts, twice after a random number of
    results), check every stored result after each kill, then finish and compare the table
    with an uninterrupted run."""
    grid = sweep_file(tmp_path, n=6, sleep=0.2, seeds=2)  # 32 distinct jobs
    out = tmp_path / "out"
    cache = out / "cache"
    command = [sys.executable, "-m", "advdyn.cli.main", "sweep", str(grid), "--out", str(out),
               "--workers", "2", "--no-progress"]
    rng = random.Random(20200601)
    counts = []
    for trial in range(3):
        proc = subprocess.Popen(command, env=subprocess_env(), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if trial == 0:
            time.sleep(rng.uniform(0.2, 2.0))
        else:
            target = _count_entries(cache) + rng.randint(3, 10)
            deadline = time.monotonic() + 60
            while _count_entries(cache) < target and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.2))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _group_alive(proc.pid) == [], "pool workers outlived the killed run"
        counts.append(_check_every_entry_complete(cache))
    assert counts == sorted(counts) and 0 < counts[-1] < 32, counts
    done = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert f"({counts[-1]} reused)" in done.stdout
    assert _check_every_entry_complete(cache) == 32
    assert not [p for p in cache.iterdir() if is_partial(p)]
    # the same sweep run uninterrupted in this process (toy sleeps skipped: values unchanged)
    monkeypatch.setattr(toy_experiments.time, "sleep", lambda _: None)
    reference = tmp_path / "reference"
    assert main(["sweep", str(grid), "--out", str(reference), "--executor", "inline",
                 "--no-progress"]) == 0
    assert (out / "table.csv").read_bytes() == (reference / "table.csv").read_bytes()
    print(f"results stored when killed: {counts}")


def test_run_sweep_api(tmp_path: Path) -> None:
    sweep = load_sweep(sweep_file(tmp_path, n=2, seeds=1))
    result = run_sweep(sweep, tmp_path / "o", InlineExecutor(), progress=False)
    assert result.n_jobs == len({key_of(j) for j in sweep.all_jobs})
    assert len(result.rows) == sum(map(len, sweep.jobs))
    assert {p.name for p in result.files} >= {"table.csv", "summary.png", "sweep.json"}

