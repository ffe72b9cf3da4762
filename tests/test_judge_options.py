"""JudgeOptions holds the endpoint settings (one copy of the defaults, shared with the CLI), and a
saved run's judge options load back, in today's shape and in the older flat one."""

from __future__ import annotations

from dataclasses import asdict

from harness.cli import _judge_options, build_parser
from harness.models.openai_client import EndpointSettings
from judges.options import JudgeOptions

URL = "http://127.0.0.1:8000/v1"


def test_cli_judge_flag_defaults_are_the_endpoint_settings_defaults():
    args = build_parser().parse_args(["run", "--ckpt", "x", "--judge", URL, "--judge-model", "m"])
    options = _judge_options(args)
    assert options.endpoint == EndpointSettings()
    assert options.max_tokens == JudgeOptions(url="").max_tokens


def test_cli_judge_flags_land_in_the_endpoint_settings():
    args = build_parser().parse_args(["run", "--ckpt", "x", "--judge", URL, "--judge-model", "m",
                                      "--judge-concurrency", "3", "--judge-timeout", "7", "--judge-retries", "0",
                                      "--judge-backoff", "0.25", "--judge-api-key-env", "MY_KEY"])
    e = _judge_options(args).endpoint
    assert (e.concurrency, e.timeout_s, e.retries, e.backoff_s, e.api_key_env) == (3, 7.0, 0, 0.25, "MY_KEY")


def test_saved_judge_options_load_back_nested_and_flat():
    options = JudgeOptions(url=URL, model="m", endpoint=EndpointSettings(retries=2, concurrency=3), max_tokens=9)
    assert JudgeOptions.from_dict(asdict(options)) == options  # config.json's invocation.judge today
    flat = {"url": URL, "model": "m", "api_key_env": "OPENAI_API_KEY", "concurrency": 3, "timeout_s": 60.0,
            "retries": 2, "backoff_s": 1.0, "max_tokens": 9, "cache_dir": None}  # runs saved before
    assert JudgeOptions.from_dict(flat) == options
