"""The `vllm` backend: a vLLM OpenAI-compatible server that this process starts, owns and stops.

vLLM pins its own transformers, so it runs from its own Python (`bash scripts/setup.sh --with-vllm`
makes ./.venv-vllm; `--vllm-python` or $SFT_HARNESS_VLLM_PYTHON point elsewhere). The server is
started with `python -m vllm.entrypoints.openai.api_server` on a free port of 127.0.0.1, its output
goes to a log file (the run directory's `vllm-server.log` once the run has one), `/health` is
polled with a progress line, and the server is stopped when the backend closes: at the end of the
run, on Ctrl-C, on errors, at interpreter exit, and by the kernel if this process dies (parent
death signal).

One engine serves base and checkpoint: the base model under the id `base`, an adapter as the LoRA
module `ckpt` (`--enable-lora --max-lora-rank` from adapter_config.json). `switch_adapter` loads
another adapter of the same base at run time (`/v1/load_lora_adapter`; the server runs with
VLLM_ALLOW_RUNTIME_LORA_UPDATING=True), so `harness watch` and rescoring during training use one
engine. Generation goes over chat completions, loglikelihoods over `/v1/completions` with echo
(counted tokens from the model's tokenizer here, as the hf backend counts them).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from harness.errors import HarnessError
from harness.models.backends import register_backend
from harness.models.backends.base import BackendBase, Capabilities, Generation, TokenizerView, template_hash
from harness.models.backends.openai_backend import generations
from harness.models.checkpoint import Checkpoint
from harness.models.generation_settings import GenerationSettings
from harness.models.openai_client import ChatClient, ChatRequest, EndpointSettings

PYTHON_ENV = "SFT_HARNESS_VLLM_PYTHON"
DEFAULT_VENV = ".venv-vllm"
SERVER_MODULE = "vllm.entrypoints.openai.api_server"
BASE_ID, CKPT_ID = "base", "ckpt"
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the values vLLM's --max-lora-rank takes


@dataclass
class VLLMSettings:
    """What the engine is started with; recorded in config.json (`engine`) and compared between runs."""

    python: str | None = None  # a Python with vllm (default: $SFT_HARNESS_VLLM_PYTHON, then ./.venv-vllm)
    dtype: str = "auto"  # auto: the hf backend's rule (bf16 on a GPU that has it, else float32)
    tensor_parallel_size: int = 1  # GPUs one model is split over
    gpu_memory_utilization: float | None = None  # the share of each GPU's memory vLLM takes (its default 0.9)
    max_model_len: int | None = None  # context length (default: the model's)
    kv_cache_gib: float | None = None  # KV cache size; default on CPU: 2 (vLLM's CPU build would reserve 92% of RAM)
    max_lora_rank: int | None = None  # default: the adapter's rank rounded up to a value vLLM takes
    enforce_eager: bool = False  # no torch.compile / CUDA graphs: starts faster, generates slower
    max_num_seqs: int | None = None  # sequences per engine step (vLLM's default 256)
    concurrency: int = 32  # requests in flight at once (the engine batches them)
    startup_timeout_s: float = 1200.0
    extra_args: list[str] = field(default_factory=list)  # more `vllm serve` flags, passed as given

    @classmethod
    def parse(cls, values: dict | None, where: str = "--vllm") -> VLLMSettings:
        """From `--vllm KEY=VALUE` strings or config.json; a bad key or value is one HarnessError."""
        values = dict(values or {})
        known = {f.name: f for f in fields(cls)}
        out = {}
        for key, value in values.items():
            if key not in known:
                raise HarnessError(f"{where} {key}=...: unknown setting; known: {', '.join(k for k in known if k != 'python')}")
            out[key] = _convert(key, value, known[key].type, where)
        return cls(**out)

    def recorded(self) -> dict:
        """config.json's engine settings (the Python's path is where, not how: left out)."""
        return {k: v for k, v in asdict(self).items() if k not in {"python", "startup_timeout_s", "concurrency"}}


def _convert(key: str, value, kind: str, where: str):
    if not isinstance(value, str):
        return value
    try:
        if "bool" in kind:
            if value.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(value)
            return value.lower() in {"true", "1", "yes"}
        if "list" in kind:
            return value.split()
        if "int" in kind:
            return int(value)
        if "float" in kind:
            return float(value)
    except ValueError:
        raise HarnessError(f"{where} {key}={value}: not a valid {kind.replace(' | None', '')}") from None
    return value


def vllm_python(configured: str | None = None) -> str:
    """The Python that runs the server: the flag, then $SFT_HARNESS_VLLM_PYTHON, then ./.venv-vllm."""
    candidates = [configured] if configured else [os.environ.get(PYTHON_ENV)] if os.environ.get(PYTHON_ENV) else [
        str(Path.cwd() / DEFAULT_VENV / "bin" / "python"), str(Path(__file__).resolve().parents[3] / DEFAULT_VENV / "bin" / "python")]
    for c in candidates:
        found = shutil.which(c) if os.sep not in c else (c if os.access(c, os.X_OK) and Path(c).is_file() else None)
        if found:
            return found
    raise HarnessError(
        f"no Python with vLLM: {' or '.join(candidates)} does not exist. Set one up with "
        f"`bash scripts/setup.sh --with-vllm` (./{DEFAULT_VENV}), or point --vllm-python / ${PYTHON_ENV} at a Python that has vllm")


def lora_rank_for(rank: int) -> int:
    for r in LORA_RANKS:
        if r >= rank:
            return r
    raise HarnessError(f"LoRA rank {rank} is above vLLM's largest --max-lora-rank ({LORA_RANKS[-1]})")


def adapter_rank(adapter_dir: str) -> int:
    cfg = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    ranks = [cfg.get("r") or 8, *(cfg.get("rank_pattern") or {}).values()]
    return max(int(r) for r in ranks)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VLLMServer:
    """One `vllm` api_server subprocess: started, health-checked, logged, stopped."""

    def __init__(self, command: list[str], env: dict, port: int, *, log_file: Path, timeout_s: float,
                 progress=None):
        self.command, self.port = command, port
        self.url = f"http://127.0.0.1:{port}"
        self.log_file = log_file
        self._log = open(log_file, "a", encoding="utf-8")
        self._log_lock = threading.Lock()
        self._tail: deque[str] = deque(maxlen=30)
        self._progress = progress or _stderr_progress
        self.proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True,
                                     preexec_fn=_die_with_parent)
        self._log.write(f"# server pid {self.proc.pid}\n")
        self._log.flush()
        atexit.register(self.stop)
        self._pump = threading.Thread(target=self._read_output, daemon=True, name="vllm-log")
        self._pump.start()
        try:
            self._wait_healthy(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _read_output(self) -> None:
        for line in self.proc.stdout:
            self._tail.append(line.rstrip())
            with self._log_lock:
                if not self._log.closed:
                    self._log.write(line)
                    self._log.flush()

    def move_log(self, path: Path) -> None:
        """Go on logging into `path`, with what was logged so far copied there first."""
        with self._log_lock:
            self._log.close()
            if path != self.log_file:
                shutil.copyfile(self.log_file, path)
                self.log_file.unlink(missing_ok=True)
            self.log_file = path
            self._log = open(path, "a", encoding="utf-8")

    def _wait_healthy(self, timeout_s: float) -> None:
        start = time.monotonic()
        last_report = 0.0
        while True:
            if self.proc.poll() is not None:
                self._pump.join(timeout=5)
                tail = "\n  ".join(list(self._tail)[-12:])
                raise HarnessError(f"the vLLM server exited with code {self.proc.returncode} while starting "
                                   f"(log: {self.log_file}); its last lines:\n  {tail}")
            if self._healthy():
                self._progress(f"vllm: server ready on {self.url} after {time.monotonic() - start:.0f} s (log: {self.log_file})")
                return
            elapsed = time.monotonic() - start
            if elapsed > timeout_s:
                raise HarnessError(f"the vLLM server did not answer {self.url}/health within {timeout_s:.0f} s "
                                   f"(log: {self.log_file}); raise --vllm startup_timeout_s=SECONDS")
            if elapsed - last_report >= 10:
                last_report = elapsed
                last = self._tail[-1][:120] if self._tail else ""
                self._progress(f"vllm: starting the server (pid {self.proc.pid}), {elapsed:.0f} s ... {last}")
            time.sleep(0.5)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def post(self, route: str, body: dict) -> str:
        req = urllib.request.Request(f"{self.url}{route}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                return r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            raise HarnessError(f"vLLM {route}: HTTP {e.code}: {e.read().decode('utf-8', 'replace')[:300]}") from None

    def stop(self) -> None:
        """SIGTERM to the server's process group (the engine's workers too), SIGKILL after 20 s."""
        proc = self.proc
        if proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        try:  # workers the server started that outlived it (same process group)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._pump.join(timeout=5)
        with self._log_lock:
            self._log.close()
        atexit.unregister(self.stop)


def _has_tokenizer(folder: str) -> bool:
    return any((Path(folder) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json"))


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGTERM if this harness process dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@register_backend("vllm")
class VLLMBackend(BackendBase):
    def __init__(self, ckpt: Checkpoint, *, settings: VLLMSettings | dict | None = None, progress=None):
        if ckpt.endpoint:
            raise HarnessError(f"--backend vllm starts its own server; --ckpt {ckpt.spec} is an endpoint "
                               "(use the openai backend for a server you started)")
        self.ckpt = ckpt
        self.settings = settings if isinstance(settings, VLLMSettings) else VLLMSettings.parse(settings)
        self.dtype = self._dtype()
        from harness.models.backends.hf import end_of_turn_ids, load_tokenizer
        from harness.models.chat_template import require_chat_template

        self.tokenizer = load_tokenizer(ckpt)  # the adapter's own when it carries one, as the hf backend does
        require_chat_template(self.tokenizer, ckpt.spec)
        self._stop_ids = sorted(end_of_turn_ids(self.tokenizer))  # the hf backend's end-of-turn tokens
        self._adapters = 0
        self._adapter_id = CKPT_ID if ckpt.adapter else None
        self._lora = bool(ckpt.adapter) or self.settings.max_lora_rank is not None
        self._echo = None
        self._version: str | None = None
        self.server = self._start(progress)
        endpoint = EndpointSettings(base_url=f"{self.server.url}/v1", concurrency=self.settings.concurrency,
                                    timeout_s=600.0, retries=1)
        self.endpoint = endpoint
        self._clients = {BASE_ID: ChatClient(endpoint, BASE_ID)}
        if self._adapter_id:
            self._clients[CKPT_ID] = ChatClient(endpoint, CKPT_ID)

    # ---- the engine -----------------------------------------------------------------------
    def _dtype(self) -> str:
        dtype = self.settings.dtype if self.settings.dtype != "auto" else self.ckpt.load.dtype
        if dtype in (None, "auto"):
            import torch

            dtype = "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float32"
        return dtype

    def command(self, python: str, port: int) -> list[str]:
        s = self.settings
        cmd = [python, "-m", SERVER_MODULE, "--model", self.ckpt.model, "--served-model-name", BASE_ID,
               "--host", "127.0.0.1", "--port", str(port), "--dtype", self.dtype,
               "--tensor-parallel-size", str(s.tensor_parallel_size),
               "--generation-config", "vllm",  # sampling defaults are the request's, not the model's generation_config
               "--seed", "0"]
        if self.ckpt.model_revision:
            cmd += ["--revision", self.ckpt.model_revision]
        if self.ckpt.adapter and _has_tokenizer(self.ckpt.adapter):  # the tokenizer and template it trained with
            cmd += ["--tokenizer", self.ckpt.adapter]
        if self.ckpt.trust_remote_code:
            cmd.append("--trust-remote-code")
        if s.gpu_memory_utilization is not None:
            cmd += ["--gpu-memory-utilization", str(s.gpu_memory_utilization)]
        if s.max_model_len is not None:
            cmd += ["--max-model-len", str(s.max_model_len)]
        kv_cache = s.kv_cache_gib if s.kv_cache_gib is not None else (None if self._on_gpu() or s.gpu_memory_utilization else 2)
        if kv_cache is not None:
            cmd += ["--kv-cache-memory-bytes", str(int(kv_cache * 2**30))]
        if s.max_num_seqs is not None:
            cmd += ["--max-num-seqs", str(s.max_num_seqs)]
        if s.enforce_eager:
            cmd.append("--enforce-eager")
        if self._lora:
            rank = s.max_lora_rank or lora_rank_for(adapter_rank(self.ckpt.adapter))
            cmd += ["--enable-lora", "--max-lora-rank", str(rank)]
            if self.ckpt.adapter:
                cmd += ["--lora-modules", f"{CKPT_ID}={self.ckpt.adapter}"]
        return cmd + list(s.extra_args)

    def _start(self, progress) -> VLLMServer:
        python = vllm_python(self.settings.python)
        port = free_port()
        env = dict(os.environ, VLLM_ALLOW_RUNTIME_LORA_UPDATING="True", PYTHONUNBUFFERED="1")
        env.pop("PYTHONPATH", None)  # this process's path (our transformers) must not leak into vLLM's Python
        log = Path(tempfile.mkstemp(prefix="vllm-server-", suffix=".log")[1])
        command = self.command(python, port)
        log.write_text("$ " + " ".join(command) + "\n")
        return VLLMServer(command, env, port, log_file=log, timeout_s=self.settings.startup_timeout_s, progress=progress)

    # ---- the contract ---------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return Capabilities(generate=True, loglikelihood=True, batching=True, switch_adapter=self._lora)

    def describe(self) -> dict:
        return {"backend": self.name, "device": "cuda" if self._on_gpu() else "cpu",
                "chat_template_hash": template_hash(self.tokenizer.chat_template),
                "engine": {"vllm": self._vllm_version(), **self.settings.recorded(), "dtype": self.dtype}}

    def attach_run_dir(self, folder) -> None:
        """The server's log goes on in `folder`/vllm-server.log (what it logged so far moved there)."""
        self.server.move_log(Path(folder) / "vllm-server.log")

    def tokenizer_view(self) -> TokenizerView:
        return TokenizerView(self.tokenizer)

    def model_id(self, role: str) -> str:
        return self._adapter_id if role == "ckpt" and self._adapter_id else BASE_ID

    def generate(self, batch: list[list[dict]], settings: GenerationSettings, role: str = "ckpt") -> list[Generation]:
        from harness.models.backends.openai_backend import request_params

        client = self._clients[self.model_id(role)]
        params = request_params(settings)
        params["extra_body"] = {**params.get("extra_body", {}), "stop_token_ids": self._stop_ids}
        replies = client.complete_all([ChatRequest(messages, params) for messages in batch])
        return generations(replies, f"vLLM server ({self.model_id(role)})", f" (log: {self.server.log_file})")

    def loglikelihood(self, batch, mask: str = "assistant", role: str = "ckpt"):
        return self._echo_scorer().loglikelihood(batch, mask, self.model_id(role))

    def loglikelihood_length(self, messages: list[dict], mask: str = "assistant") -> int:
        return self._echo_scorer().length(messages, mask)

    def switch_adapter(self, ckpt: Checkpoint) -> None:
        """Load `ckpt`'s adapter into the running engine (vLLM's runtime LoRA loading) and answer with
        it; the previous one is unloaded. The base stays loaded: no restart."""
        if not self._lora or not ckpt.adapter or ckpt.model != self.ckpt.model:
            raise HarnessError(f"cannot switch the vLLM engine of {self.ckpt.spec} to {ckpt.spec}: only another "
                               "adapter of the same base, on an engine started with LoRA")
        self._adapters += 1
        name = f"{CKPT_ID}-{self._adapters}"
        self.server.post("/v1/load_lora_adapter", {"lora_name": name, "lora_path": ckpt.adapter})
        previous = self._adapter_id
        self._adapter_id = name
        self._clients[name] = ChatClient(self.endpoint, name)
        if previous and previous != name:
            self.server.post("/v1/unload_lora_adapter", {"lora_name": previous})
            self._clients.pop(previous, None)
        self.ckpt = ckpt

    def close(self) -> None:
        if self._echo is not None:
            self._echo.close()
            self._echo = None
        self.server.stop()

    # ---- helpers --------------------------------------------------------------------------
    def _echo_scorer(self):
        if self._echo is None:
            from dataclasses import replace

            from harness.models.echo_loglikelihood import EchoLoglikelihood
            from harness.models.loglikelihood_tokens import CountedTokens

            endpoint = self.endpoint
            if self._lora:
                # vLLM 0.32 with --enable-lora: the LoRA logits layer indexes its weights per sampled
                # row, not per prompt token, so prompt logprobs of two requests in one engine step
                # crash the engine (einsum size mismatch). One request at a time is exact: its one
                # index broadcasts over its prompt tokens.
                endpoint = replace(endpoint, concurrency=1)
            self._echo = EchoLoglikelihood(CountedTokens(self.tokenizer, self.ckpt.spec), endpoint)
        return self._echo

    def _on_gpu(self) -> bool:
        import torch

        return torch.cuda.is_available()

    def _vllm_version(self) -> str | None:
        if self._version is None:
            try:
                with urllib.request.urlopen(f"{self.server.url}/version", timeout=5) as r:
                    self._version = json.loads(r.read()).get("version")
            except (urllib.error.URLError, OSError, ValueError):
                return None
        return self._version
