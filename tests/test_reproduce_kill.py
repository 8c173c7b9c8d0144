"""``kill -9`` of the main job: ``advdyn reproduce`` killed at random moments (fixed seed), then
completed, writes the same claims table as an uninterrupted run.

The configuration is two slow toy sections (``toy_experiments.SLOW_A``/``SLOW_B``, 16 jobs of
0.1 s in one pool worker) named through ``--only package.module:ATTRIBUTE``, run by
``python -m toy_experiments`` (the command line with the toys' claims registered).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import toy_experiments
from advdyn.atomic import is_partial
from advdyn.cli.main import main
from test_runner import _check_every_entry_complete, _count_entries, _group_alive, subprocess_env

ONLY = ["--only", "toy_experiments:SLOW_A", "--only", "toy_experiments:SLOW_B"]
JOBS = 16


def claims_table(report_md: Path) -> str:
    """The report's claims section: from its heading to the next ``## `` heading."""
    text = report_md.read_text(encoding="utf-8")
    start = next(i for i, line in enumerate(text.splitlines())
                 if line.startswith("## ") and "claims" in line.lower())
    lines = text.splitlines()[start:]
    end = next((i for i, line in enumerate(lines[1:], 1) if line.startswith("## ")), len(lines))
    return "\n".join(lines[:end])


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the run (its pool workers die with it: the test checks none outlives it)."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _group_alive(proc.pid) == [], "pool workers outlived the killed run"


def _wait_for(cache: Path, target: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while _count_entries(cache) < target and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_reproduce_killed_at_random_moments_then_completed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    cache = out / "cache"
    command = [sys.executable, "-m", "toy_experiments", "reproduce", "--out", str(out),
               "--quick", *ONLY, "--workers", "1", "--no-progress"]
    rng = random.Random(20200713)
    counts = []
    for trial in range(4):
        proc = subprocess.Popen(command, env=subprocess_env(), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if trial == 0:  # anywhere in start-up or the first jobs
            time.sleep(rng.uniform(0.5, 2.0))
        elif trial < 3:  # after a random number of new results
            _wait_for(cache, _count_entries(cache) + rng.randint(2, 5), proc)
            time.sleep(rng.uniform(0.0, 0.2))
        else:  # once every job is stored: while summarising or writing the report
            _wait_for(cache, JOBS, proc)
            time.sleep(rng.uniform(0.0, 0.3))
        _kill(proc)
        counts.append(_check_every_entry_complete(cache))
    assert counts == sorted(counts) and counts[-1] > 0, counts
    done = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True,
                          check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _check_every_entry_complete(cache) == JOBS
    assert not [p for p in cache.iterdir() if is_partial(p)]
    # the same run uninterrupted, in this process (toy sleeps skipped: values unchanged)
    monkeypatch.setattr(toy_experiments.time, "sleep", lambda _: None)
    toy_experiments.register(monkeypatch)
    reference = tmp_path / "reference"
    assert main(["reproduce", "--out", str(reference), "--quick", *ONLY, "--executor", "inline",
                 "--no-progress"]) == 0
    table = claims_table(out / "report.md")
    assert table == claims_table(reference / "report.md")
    assert table.count("T0.1") == 2 and "T0.1a" in table and "T0.1b" in table
    assert table.count("**supported**") == 2 and "Slow toy A" in table and "Slow toy B" in table
    capsys.readouterr()
    print(f"results stored when killed: {counts}")
