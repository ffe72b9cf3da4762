"""What `--judge ...` asked for: which judge, how to reach it, and how hard to try.

`url` is an OpenAI-compatible base URL (`http://127.0.0.1:8000/v1`, with `--judge-model`) or
`local:MODEL` (any --ckpt value; `harness serve` is started for the run). Only the *name* of the
environment variable holding the API key is kept (it lands in config.json); the key itself is
read from the environment when requests are sent and is never written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from harness.errors import HarnessError
from harness.models.openai_client import EndpointSettings, check_endpoint_url, looks_like_url

LOCAL_PREFIX = "local:"


@dataclass
class JudgeOptions:
    url: str  # http(s)://... or local:MODEL
    model: str | None = None  # required for a URL; for local: the served id (set when started)
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)  # how to talk to it (its base_url is set per target)
    max_tokens: int = 1024
    cache_dir: str | None = None  # None: ~/.cache/sft-harness/judge ($SFT_HARNESS_CACHE/judge)

    def __post_init__(self):
        if isinstance(self.endpoint, dict):  # from config.json on --resume
            self.endpoint = EndpointSettings(**self.endpoint)

    @classmethod
    def from_dict(cls, data: dict) -> "JudgeOptions":
        """From a saved `invocation.judge`; runs saved before the endpoint settings were grouped
        kept them as flat keys (concurrency, timeout_s, ...), which are accepted too."""
        own = {f.name for f in fields(cls)}
        flat = {f.name for f in fields(EndpointSettings)} & set(data)
        endpoint = EndpointSettings(**{k: data[k] for k in flat}) if flat else data.get("endpoint", EndpointSettings())
        return cls(**{k: v for k, v in data.items() if k in own and k != "endpoint"}, endpoint=endpoint)

    @property
    def local_model(self) -> str | None:
        return self.url[len(LOCAL_PREFIX):] if self.url.startswith(LOCAL_PREFIX) else None

    def for_target(self, base_url: str, api_key_env: str) -> EndpointSettings:
        """The endpoint settings for a started judge (its URL, and its key variable: "" for `local:`)."""
        return replace(self.endpoint, base_url=base_url, api_key_env=api_key_env)

    def check_reachable(self, timeout_s: float = 10.0) -> None:
        """Before any answer is generated: one clear HarnessError when a URL judge cannot be used
        (nothing listens, the key is refused, the model is not served), instead of a whole
        generation phase followed by judge errors. A `local:` judge is checked by `check`."""
        if self.local_model is not None:
            return
        import openai

        from harness.models.openai_client import api_key_from_env

        client = openai.OpenAI(base_url=self.url, api_key=api_key_from_env(self.endpoint.api_key_env),
                               max_retries=0, timeout=min(timeout_s, self.endpoint.timeout_s))
        try:
            served = [m.id for m in client.models.list()]
        except openai.APIConnectionError as e:
            what = "timed out" if isinstance(e, openai.APITimeoutError) else "cannot connect"
            raise HarnessError(f"--judge {self.url}: {what} (is the judge server running at that URL?); "
                               "nothing was generated") from None
        except openai.APIStatusError as e:
            if e.status_code in {401, 403}:
                raise HarnessError(f"--judge {self.url}: HTTP {e.status_code}: the judge refuses the API key "
                                   f"(set ${self.endpoint.api_key_env}, or name another variable with "
                                   "--judge-api-key-env); nothing was generated") from None
            return  # no /v1/models on this server: the first judge request will tell
        finally:
            client.close()
        if served and self.model not in served:
            raise HarnessError(f"--judge-model {self.model!r} is not served at {self.url} (it serves: "
                               f"{', '.join(served)}); nothing was generated")

    def check(self) -> "JudgeOptions":
        """Validate (one clear HarnessError per problem); returns self with the URL normalised."""
        if self.url.startswith(LOCAL_PREFIX):
            if not self.local_model:
                raise HarnessError("--judge local: needs a model, e.g. --judge local:smollm2-135m-instruct")
            if self.model:
                raise HarnessError("--judge-model is set by --judge local:MODEL itself; drop --judge-model")
            from harness.models.checkpoint import resolve_checkpoint

            try:  # now, not after the whole generation phase
                resolve_checkpoint(self.local_model)
            except HarnessError as e:
                raise HarnessError(f"--judge {self.url}: {e}") from None
        elif looks_like_url(self.url):
            self.url = check_endpoint_url(self.url, "--judge")
            if not self.model:
                raise HarnessError(f"--judge {self.url} needs --judge-model NAME (the judge model's id at that endpoint)")
        else:
            raise HarnessError(
                f"--judge {self.url!r}: expected an http(s) URL of an OpenAI-compatible API "
                "(e.g. http://127.0.0.1:8000/v1 with --judge-model NAME) or local:MODEL (e.g. local:smollm2-135m-instruct)"
            )
        e = self.endpoint
        for name, value, low in (("--judge-concurrency", e.concurrency, 1), ("--judge-retries", e.retries, 0),
                                 ("--judge-max-tokens", self.max_tokens, 1)):
            if value < low:
                raise HarnessError(f"{name} must be >= {low}, got {value}")
        for name, value in (("--judge-timeout", e.timeout_s), ("--judge-backoff", e.backoff_s)):
            if value < 0 or (name == "--judge-timeout" and value == 0):
                raise HarnessError(f"{name} must be {'> 0' if name == '--judge-timeout' else '>= 0'} seconds, got {value}")
        if not e.api_key_env.strip():
            raise HarnessError("--judge-api-key-env must name an environment variable, e.g. OPENAI_API_KEY")
        return self

    def describe(self) -> dict:
        """config.json's `judge` section: where, which model, how, and the template hashes.
        The key's environment variable is named; the key is not."""
        from judges.cache import default_cache_dir
        from judges.prompt_templates import template_hashes

        return {
            "endpoint": self.url,
            "model": self.model or self.local_model,
            "api_key_env": self.endpoint.api_key_env if self.local_model is None else None,
            "request": {"temperature": 0.0, "max_tokens": self.max_tokens},
            "concurrency": self.endpoint.concurrency, "timeout_s": self.endpoint.timeout_s,
            "retries": self.endpoint.retries, "backoff_s": self.endpoint.backoff_s,
            "cache_dir": str(self.cache_dir or default_cache_dir()),
            "templates": template_hashes(),
        }
