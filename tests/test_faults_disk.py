"""Disk and permissions: a disk that fills up mid-run (a file-size limit, as `ulimit -f` sets it)
and a read-only run directory give one clear error line and exit code 2; samples.jsonl stays
valid JSONL with every finished row, and the run finishes with `--resume` once there is room.

Permission bits do not stop root, so as root the directory is made read-only with a read-only
bind mount in a private mount namespace (`unshare -m`), or, without unshare, with chmod and the
command run without root's CAP_DAC_OVERRIDE (`setpriv`); as any other user, with chmod. With
neither tool, root skips the test, saying so (CI, $SFT_HARNESS_REQUIRE_ALL=1, fails instead).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import needs, only_run_dir

TESTS = Path(__file__).resolve().parent
FAST = ["--task", "compare10", "--task", "format", "--gen", "max_new_tokens=6", "--batch-size", "4"]
ENV = dict(os.environ, HF_HUB_OFFLINE="1")


def _harness(*args) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *map(str, args)]


def _file_size_limit(limit: int):
    def apply():  # in the child, before exec: like `ulimit -f` in the shell that starts harness
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def assert_one_error_line(done: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2 and one `error:` line on stderr, the last one, with every fragment. (A subprocess's
    stderr also carries the libraries' own notices on loading a model; they are not ours.)"""
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], done.stderr
    assert not [line for line in lines if line.startswith(("warning:", "Traceback"))], done.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def _valid_jsonl(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), "the file ends mid-line"
    return [json.loads(line) for line in data.splitlines()]


def test_disk_full_mid_generation_stops_with_one_line_and_resumes(harness_cli, tiny_adapter, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_adapter, *FAST, "--runs-dir", tmp_path / "ref")
    assert code == 0, err
    ref = only_run_dir(tmp_path / "ref")
    config_size, samples_size = (ref / "config.json").stat().st_size, (ref / "samples.jsonl").stat().st_size
    assert config_size < samples_size // 2, (config_size, samples_size)
    limit = samples_size // 2  # config.json fits, samples.jsonl fills the "disk" half way through

    done = subprocess.run(_harness("run", "--ckpt", tiny_adapter, *FAST, "--runs-dir", tmp_path / "runs"), env=ENV,
                          capture_output=True, text=True, preexec_fn=_file_size_limit(limit), timeout=300)
    assert_one_error_line(done, "cannot write", "samples.jsonl", "File too large",
                          "ulimit -f", "harness run --resume")
    run = only_run_dir(tmp_path / "runs")
    rows = _valid_jsonl(run / "samples.jsonl")  # every row whole, none half-written
    assert 0 < len(rows) and (run / "samples.jsonl").stat().st_size <= limit
    assert not (run / "summary.json").exists()

    resumed = subprocess.run(_harness("run", "--resume", run), env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    final = _valid_jsonl(run / "samples.jsonl")
    assert final[: len(rows)] == rows  # nothing written before was lost
    keys = [(r["role"], r["task"], r["id"]) for r in final]
    assert len(keys) == len(set(keys)) == len(_valid_jsonl(ref / "samples.jsonl"))
    assert json.loads((run / "summary.json").read_text())["metrics"] == json.loads((ref / "summary.json").read_text())["metrics"]


def _read_only(directory: Path, command: list[str]) -> subprocess.CompletedProcess:
    """Run `command` while `directory` is read-only (see the module docstring)."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'
        return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(directory), *command], env=ENV,
                              capture_output=True, text=True, timeout=300)
    if os.geteuid() == 0:  # root without unshare: permission bits, with root's power to ignore them dropped
        if not shutil.which("setpriv"):
            needs("running as root without unshare(1) or setpriv(1): cannot make a directory read-only for root")
        caps = "-dac_override,-dac_read_search"
        command = ["setpriv", "--bounding-set", caps, "--inh-caps", caps, "--", *command]
    modes = {p: p.stat().st_mode for p in [directory, *directory.rglob("*")]}
    for p in modes:
        p.chmod(stat.S_IMODE(modes[p]) & ~0o222)
    try:
        return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    finally:
        for p, mode in modes.items():
            p.chmod(stat.S_IMODE(mode))


def test_resuming_a_read_only_run_directory_is_one_line_and_changes_nothing(tiny_adapter, tmp_path):
    killed = subprocess.run([sys.executable, str(TESTS / "crash_points.py"), "samples.jsonl", "7", "torn", "--",
                             "run", "--ckpt", str(tiny_adapter), *FAST, "--runs-dir", str(tmp_path / "runs")],
                            env=ENV, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    run = only_run_dir(tmp_path / "runs")
    before = {p.name: p.read_bytes() for p in run.iterdir()}

    done = _read_only(run, _harness("run", "--resume", run))
    assert_one_error_line(done, "the run directory", str(run), "not writable", "cp -r")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # the torn line too: nothing was touched


def test_a_read_only_runs_dir_is_refused_before_the_model_loads(tiny_adapter, tmp_path):
    root = tmp_path / "readonly"
    root.mkdir()
    done = _read_only(root, _harness("run", "--ckpt", tiny_adapter, *FAST, "--runs-dir", root / "runs"))
    assert_one_error_line(done, "--runs-dir", "not writable")
    assert list(root.iterdir()) == []
