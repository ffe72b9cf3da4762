"""`harness run --ckpt URL` request settings: --request-concurrency, --request-retries,
--request-backoff, --request-timeout reach the openai backend, are kept for --resume, and are
refused for a model loaded here. The endpoint is a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from conftest import load_json, only_run_dir
from fault_servers import FaultyJudge, serving
from test_cli_errors import assert_one_line_error

TASKS = ["--task", "compare10", "--task", "format"]  # 10 + 19 prompts, no model loaded here


def test_concurrency_and_retries_reach_the_endpoint(harness_cli, tmp_path):
    # every third prompt fails once with HTTP 500; each request waits until 16 are in flight (or 1 s)
    server = FaultyJudge("http_500", times=1, gather=16)
    with serving(server) as url:
        code, _, err = harness_cli("run", "--ckpt", url, "--model-name", "faulty-judge", *TASKS, "--runs-dir", tmp_path,
                                   "--request-concurrency", "16", "--request-retries", "2", "--request-backoff", "0",
                                   "--request-timeout", "30")
    assert code == 0, err
    assert server.max_in_flight == 16  # 16 at once: the batch grew to the concurrency (the default batch is 8)
    assert server.faulted and all(server.attempts[p] == 2 for p in server.faulted)  # retried once, then answered
    run = only_run_dir(tmp_path)
    config = load_json(run / "config.json")
    assert config["invocation"]["requests"] == {"concurrency": 16, "retries": 2, "backoff_s": 0.0, "timeout_s": 30.0}
    assert load_json(run / "summary.json")["metrics"]["usability/usability_rate"]["ckpt"]["n"] == 29


def test_default_concurrency_is_eight_and_no_retries_means_a_failed_batch_stops_the_run(harness_cli, tmp_path):
    server = FaultyJudge("http_500", gather=16)
    with serving(server) as url:
        code, _, err = harness_cli("run", "--ckpt", url, "--model-name", "faulty-judge", *TASKS, "--runs-dir", tmp_path,
                                   "--request-retries", "0")
    assert_one_line_error(code, err, "HTTP 500", "finished samples are saved", "--resume")
    assert server.max_in_flight <= 8
    assert server.faulted and all(server.attempts[p] == 1 for p in server.faulted)  # not retried


def test_request_flags_are_refused_for_a_model_loaded_here(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--request-concurrency", "4", "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "--request-concurrency", "only for a model behind an API")
    code, _, err = harness_cli("run", "--ckpt", "http://127.0.0.1:9/v1", "--model-name", "m", "--request-timeout", "0",
                               "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "--request-timeout must be > 0")
