"""scripts/setup.sh: where torch comes from is explicit (TORCH_INDEX), a bad value is refused
before anything is installed. Run with --dry-run on a copy of the script, so nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "setup.sh"


def _dry_run(tmp_path, torch_index: str | None, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "scripts").mkdir(exist_ok=True)
    shutil.copy(SCRIPT, tmp_path / "scripts" / "setup.sh")
    env = {k: v for k, v in os.environ.items() if k != "TORCH_INDEX"}
    if torch_index is not None:
        env["TORCH_INDEX"] = torch_index
    return subprocess.run(["bash", str(tmp_path / "scripts" / "setup.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def _torch_line(out: str) -> str:
    (line,) = [l for l in out.splitlines() if "torch==" in l]
    return line


def test_cpu_index_is_the_pytorch_cpu_wheel_index(tmp_path):
    res = _dry_run(tmp_path, "cpu", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert _torch_line(res.stdout).endswith("torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu")
    assert not (tmp_path / ".venv").exists()  # a dry run changes nothing


def test_default_leaves_torch_to_pips_configuration(tmp_path):
    res = _dry_run(tmp_path, None, "--dry-run")
    assert res.returncode == 0, res.stderr
    assert _torch_line(res.stdout).endswith("pip install -q torch==2.13.0")
    lines = res.stdout.splitlines()
    assert lines.index(_torch_line(res.stdout)) < next(i for i, l in enumerate(lines) if '-e .[dev]' in l)


def test_a_cuda_tag_and_a_url_are_accepted(tmp_path):
    assert _torch_line(_dry_run(tmp_path, "cu128", "--dry-run").stdout).endswith("--index-url https://download.pytorch.org/whl/cu128")
    assert _torch_line(_dry_run(tmp_path, "https://mirror.example/simple", "--dry-run").stdout).endswith(
        "--index-url https://mirror.example/simple")


def test_a_bad_torch_index_is_one_line_and_exit_2_before_anything_runs(tmp_path):
    res = _dry_run(tmp_path, "gpu")  # not a dry run: it must stop before creating the venv
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "TORCH_INDEX='gpu'" in res.stderr and "TORCH_INDEX=cpu" in res.stderr
    assert not (tmp_path / ".venv").exists()
