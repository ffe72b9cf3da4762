"""The `vllm` backend: a vLLM server this process starts, owns and stops; base and adapter from one
engine; perplexity over /v1/completions; adapters loaded at run time for watch and training.

The tests that start vLLM need its environment (`bash scripts/setup.sh --with-vllm`, or
$SFT_HARNESS_VLLM_PYTHON). Without it they skip and say why; CI sets SFT_HARNESS_REQUIRE_VLLM=1,
and there a missing environment fails. Each engine start costs tens of seconds on a CPU, so the
vLLM tests share a few starts (module fixtures), all eager (no torch.compile warm-up).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness.errors import HarnessError
from harness.models.backends.vllm import SERVER_MODULE, VLLMSettings, lora_rank_for, vllm_python
from harness.models.bundled import BUNDLED_ALIAS
from harness.models.checkpoint import resolve_checkpoint
from conftest import REPO, load_json, only_run_dir

sys.path.insert(0, str(REPO / "scripts"))
from random_adapter import write_random_adapter  # noqa: E402

REQUIRED = os.environ.get("SFT_HARNESS_REQUIRE_VLLM") == "1"
EAGER = ["--vllm", "enforce_eager=true"]


def _vllm_or_skip() -> str:
    try:
        python = vllm_python()
        found = subprocess.run([python, "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('vllm') is None)"],
                               capture_output=True, timeout=60).returncode == 0
        if not found:
            raise HarnessError(f"{python} has no vllm module")
    except HarnessError as e:
        if REQUIRED:
            pytest.fail(f"SFT_HARNESS_REQUIRE_VLLM=1 but the vLLM environment is missing: {e}")
        pytest.skip(f"no vLLM environment (bash scripts/setup.sh --with-vllm, or $SFT_HARNESS_VLLM_PYTHON): {e}")
    return python


def server_pids(log: Path) -> list[int]:
    """The server pids a vllm-server.log records (one per engine start)."""
    return [int(line.split()[-1]) for line in log.read_text().splitlines() if line.startswith("# server pid ")]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def random_adapter(base: str, out: Path, seed: int) -> str:
    """A rank-8 LoRA adapter of `base` whose B matrices are random: large enough to change most
    greedy answers of the lab prompts, small enough to keep them readable (std 0.02 changed 0 of 4 for
    one seed)."""
    return write_random_adapter(base, out, rank=8, alpha=16, targets=["q_proj", "v_proj"], std=0.05, seed=seed)


# ---- without vLLM: settings and failures are one line, and nothing is left behind ---------------
def test_an_unknown_engine_setting_is_one_line(harness_cli, tmp_path):
    code, _, err = harness_cli("run", "--suite", "lab1", "--ckpt", BUNDLED_ALIAS, "--backend", "vllm",
                               "--vllm", "tensor_parallel=2", "--runs-dir", tmp_path)
    assert code == 2 and "--vllm tensor_parallel=...: unknown setting; known: dtype, tensor_parallel_size" in err
    code, _, err = harness_cli("run", "--suite", "lab1", "--ckpt", BUNDLED_ALIAS, "--backend", "vllm",
                               "--vllm", "max_model_len=lots", "--runs-dir", tmp_path)
    assert code == 2 and "--vllm max_model_len=lots: not a valid int" in err
    code, _, err = harness_cli("run", "--suite", "lab1", "--ckpt", BUNDLED_ALIAS, "--vllm", "max_model_len=512",
                               "--runs-dir", tmp_path)
    assert code == 2 and "only with --backend vllm" in err
    assert not any(tmp_path.iterdir())


def test_a_missing_vllm_environment_says_how_to_set_it_up(harness_cli, tmp_path):
    code, _, err = harness_cli("run", "--suite", "lab1", "--task", "format", "--ckpt", BUNDLED_ALIAS, "--backend", "vllm",
                               "--vllm-python", str(tmp_path / "nowhere" / "python"), "--runs-dir", tmp_path / "runs")
    assert code == 2 and "no Python with vLLM" in err and "bash scripts/setup.sh --with-vllm" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_server_that_dies_while_starting_is_reported_with_its_log_and_leaves_nothing(harness_cli, tmp_path):
    """This Python has no vllm module: the server exits at once; its last lines are in the error."""
    code, _, err = harness_cli("run", "--suite", "lab1", "--task", "format", "--ckpt", BUNDLED_ALIAS, "--backend", "vllm",
                               "--vllm-python", sys.executable, "--runs-dir", tmp_path / "runs")
    assert code == 2
    assert "the vLLM server exited with code 1 while starting" in err and "No module named 'vllm'" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_lora_rank_is_rounded_up_to_one_vllm_takes():
    assert [lora_rank_for(r) for r in (1, 4, 8, 9, 64, 300)] == [1, 8, 8, 16, 64, 320]
    with pytest.raises(HarnessError, match="above vLLM's largest"):
        lora_rank_for(1024)
    assert VLLMSettings.parse({"enforce_eager": "true", "gpu_memory_utilization": "0.5"}).recorded()["enforce_eager"] is True


# ---- with vLLM ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundled_dir() -> str:
    return resolve_checkpoint(BUNDLED_ALIAS).model


@pytest.fixture(scope="module")
def adapters(bundled_dir, tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("adapters")
    return [random_adapter(bundled_dir, root / f"checkpoint-{i}", seed=i) for i in (1, 2)]


RUN_ARGS = ["--suite", "lab1", "--task", "format", "--task", "ppl", "--limit", "4", "--gen", "max_new_tokens=24"]


@pytest.fixture(scope="module")
def vllm_and_hf_runs(adapters, tmp_path_factory):
    """`harness run --backend vllm` on an adapter (base and adapter from one engine), and the same run on hf."""
    _vllm_or_skip()
    from harness.cli import main

    tmp = tmp_path_factory.mktemp("runs")
    assert main(["run", *RUN_ARGS, "--ckpt", adapters[0], "--backend", "vllm", *EAGER, "--runs-dir", str(tmp / "vllm")]) == 0
    assert main(["run", *RUN_ARGS, "--ckpt", adapters[0], "--runs-dir", str(tmp / "hf")]) == 0
    return only_run_dir(tmp / "vllm"), only_run_dir(tmp / "hf")


def answers(run: Path) -> dict:
    return {(r["role"], r["task"], r["id"]): r.get("output") for r in map(json.loads, (run / "samples.jsonl").read_text().splitlines())}


def test_base_and_adapter_from_one_engine_answer_as_the_hf_backend(vllm_and_hf_runs):
    vllm_run, hf_run = vllm_and_hf_runs
    ours, theirs = answers(vllm_run), answers(hf_run)
    assert set(ours) == set(theirs) and {k[0] for k in ours} == {"base", "ckpt"}
    generated = [k for k in ours if k[1] == "format"]
    assert [k for k in generated if ours[k] != theirs[k]] == []  # greedy, float32 on both
    assert any(ours[("base", *k[1:])] != ours[("ckpt", *k[1:])] for k in generated)  # the adapter is really on
    log = vllm_run / "vllm-server.log"
    assert len(server_pids(log)) == 1 and not any(alive(p) for p in server_pids(log))  # one engine, stopped


def test_perplexity_and_bits_per_byte_agree_with_the_hf_backend_within_a_tenth_of_a_percent(vllm_and_hf_runs):
    vllm_run, hf_run = vllm_and_hf_runs
    ours, theirs = (load_json(r / "summary.json")["metrics"] for r in vllm_and_hf_runs)
    for metric in ("ppl/perplexity", "ppl/bits_per_byte"):
        for role in ("base", "ckpt"):
            assert ours[metric][role]["n"] == 4 and ours[metric][role]["unscored"] == 0
            assert ours[metric][role]["value"] == pytest.approx(theirs[metric][role]["value"], rel=1e-3), (metric, role)
    assert ours["ppl/perplexity"]["base"]["value"] != ours["ppl/perplexity"]["ckpt"]["value"]


def test_config_records_the_engine_and_compare_refuses_a_different_one(harness_cli, vllm_and_hf_runs):
    vllm_run, hf_run = vllm_and_hf_runs
    config = load_json(vllm_run / "config.json")
    assert config["backend"] == "vllm" and config["device"] == "cpu"
    engine = config["engine"]
    assert engine["backend"] == "vllm" and engine["dtype"] == "float32" and engine["enforce_eager"] is True
    assert engine["tensor_parallel_size"] == 1 and engine["max_lora_rank"] is None and engine["vllm"]
    assert config["chat_template_hash"] == load_json(hf_run / "config.json")["chat_template_hash"]
    code, _, err = harness_cli("compare", hf_run, vllm_run)
    assert code == 2 and "engine:" in err and "--allow-different engine" in err, err
    code, out, err = harness_cli("compare", hf_run, vllm_run, "--allow-different", "engine")
    assert code == 0, err


def test_watch_loads_each_checkpoint_into_one_running_engine(harness_cli, adapters, tmp_path):
    _vllm_or_skip()
    import shutil

    from harness.models.backends import make_backend

    watched = tmp_path / "out"
    for a in adapters:
        shutil.copytree(a, watched / Path(a).name)
    code, _, err = harness_cli("watch", watched, "--task", "ppl", "--max-samples", "3", "--once", "--backend", "vllm", *EAGER)
    assert code == 0, err
    lines = [json.loads(x) for x in (watched / "scores.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2]
    log = (watched / "vllm-server.log").read_text()
    assert len(server_pids(watched / "vllm-server.log")) == 1  # one engine for both checkpoints
    assert "load_lora_adapter" in log or "Loaded new LoRA adapter" in log
    # checkpoint-2 scored through the engine equals checkpoint-2 on the hf backend
    second = load_json(Path(lines[1]["run_dir"]) / "summary.json")["metrics"]["ppl/perplexity"]["ckpt"]["value"]
    hf = make_backend(resolve_checkpoint(str(watched / "checkpoint-2")))
    from harness.suite import load_suite

    suite = load_suite("lab1", tasks=["ppl"])
    samples = [json.loads(x) for x in (Path(lines[1]["run_dir"]) / "samples.jsonl").read_text().splitlines() if '"ckpt"' in x]
    by_id = {s["id"]: s for s in suite.tasks["ppl"].samples}
    results = hf.loglikelihood([by_id[s["id"]]["messages"] for s in samples])
    import math

    assert second == pytest.approx(math.exp(sum(r.nll_sum for r in results) / sum(r.n_tokens for r in results)), rel=1e-3)
    assert lines[0]["metrics"]["ppl/perplexity"]["ckpt"] != lines[1]["metrics"]["ppl/perplexity"]["ckpt"]


def test_training_rescores_every_checkpoint_through_one_engine(bundled_dir, tmp_path):
    _vllm_or_skip()
    from harness.cli import main

    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Say {i}."},
                                                     {"role": "assistant", "content": f"{i}"}]}) + "\n" for i in range(8)))
    config = {
        "model": BUNDLED_ALIAS, "output_dir": str(tmp_path / "out"), "quantization": "none",
        "data": {"train": str(data), "val_split": 0.25}, "lora": {"r": 8, "alpha": 16},
        "per_device_batch_size": 2, "gradient_accumulation_steps": 1, "max_steps": 2, "max_length": 64,
        "logging_steps": 1, "save_steps": 1, "eval_steps": 1, "gradient_checkpointing": False,
        "rescore": {"suite": "lab1", "tasks": ["ppl"], "max_samples": 2, "final_tasks": ["ppl"], "backend": "vllm",
                    "vllm": {"enforce_eager": True}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(path)]) == 0
    out = tmp_path / "out"
    lines = [json.loads(x) for x in (out / "scores.jsonl").read_text().splitlines()]
    assert [(line["step"], line["profile"]) for line in lines] == [(1, "checkpoint"), (2, "checkpoint"), (None, "final")]
    log = out / "vllm-server.log"
    assert len(server_pids(log)) == 1 and not any(alive(p) for p in server_pids(log))
    assert all(load_json(Path(line["run_dir"]) / "config.json")["backend"] == "vllm" for line in lines)


def test_ctrl_c_while_the_server_starts_leaves_no_process(adapters, tmp_path):
    python = _vllm_or_skip()
    env = dict(os.environ, SFT_HARNESS_VLLM_PYTHON=python, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "--suite", "lab1", "--task", "format", "--ckpt", adapters[0],
                             "--backend", "vllm", *EAGER, "--runs-dir", str(tmp_path)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_in_a_terminal)
    server = None
    deadline = time.time() + 120
    while server is None and time.time() < deadline:
        server = next((int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _child_server(p, proc.pid)), None)
        time.sleep(0.2)
    assert server is not None, "the vLLM server never started"
    time.sleep(3)  # well inside its start-up (tens of seconds)
    proc.send_signal(signal.SIGINT)
    try:  # communicate, not wait: the pipes are read, so a chatty run cannot block on a full one
        _, err = proc.communicate(timeout=120)  # the stop sends SIGKILL 20 s after SIGTERM: room for a loaded machine
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"harness run did not exit within 120 s of Ctrl-C; its stderr ends:\n{err[-3000:]}")
    assert proc.returncode != 0, err[-3000:]
    deadline = time.time() + 30
    while alive(server) and time.time() < deadline:
        time.sleep(0.5)
    assert not alive(server)
    leftovers = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _in_group(p, server)]
    assert leftovers == []


def _ctrl_c_as_in_a_terminal() -> None:
    """The run starts with SIGINT as a terminal gives it. A child inherits an ignored or blocked
    SIGINT (POSIX), and within the full suite the pytest process can hold one (a library of an
    earlier test sets it); the run then never sees the Ctrl-C this test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _child_server(proc_dir: Path, parent: int) -> bool:
    try:
        stat = (proc_dir / "stat").read_text()
        cmdline = (proc_dir / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return int(stat.split(")")[-1].split()[1]) == parent and SERVER_MODULE in cmdline


def _in_group(proc_dir: Path, pgid: int) -> bool:
    try:
        fields = (proc_dir / "stat").read_text().split(")")[-1].split()
    except OSError:
        return False
    return int(fields[2]) == pgid and fields[0] != "Z"
