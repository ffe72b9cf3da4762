"""`harness train` (QLoRA via TRL on the tiny model), every checkpoint rescored; `harness watch`;
config and data errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from conftest import CHATML_TEMPLATE, build_tiny_model, load_json, only_run_dir
from test_mask_audit import TRAINS_USER

CONVS = [
    [{"role": "user", "content": f"Only output a JSON object with keys name and score for student {i}."},
     {"role": "assistant", "content": json.dumps({"name": f"s{i}", "score": i})}]
    for i in range(12)
]


def write_config(tmp_path, model, **overrides) -> str:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in CONVS))
    config = {
        "model": str(model), "output_dir": str(tmp_path / "out"),
        "data": {"train": str(data), "val_split": 0.25},
        "lora": {"r": 4, "alpha": 8},
        "per_device_batch_size": 2, "gradient_accumulation_steps": 2, "max_steps": 2, "max_length": 128,
        "learning_rate": 1e-3, "logging_steps": 1, "save_steps": 1, "eval_steps": 1, "gradient_checkpointing": False,
        "rescore": {"suite": "lab1", "tasks": ["format", "ppl"], "max_samples": 2, "gen": {"max_new_tokens": 4},
                    "final_gen": {"max_new_tokens": 4}},
        "report_to": "tensorboard",
        "max_grad_norm": 0.5,  # not a harness key: passed through to TRL's SFTConfig
        "optim": "paged_adamw_32bit",  # the QLoRA choice; on this CPU it runs unpaged
    }
    config.update(overrides)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory):
    """One QLoRA run on the tiny model, shared by the tests below."""
    from harness.cli import main

    tmp = tmp_path_factory.mktemp("train")
    assert main(["train", "--config", write_config(tmp, tiny_model)]) == 0
    return tmp / "out"


def test_training_writes_checkpoints_each_rescored(trained):
    assert (trained / "checkpoint-1" / "adapter_config.json").is_file()
    assert (trained / "checkpoint-2" / "adapter_config.json").is_file()
    assert (trained / "final" / "adapter_model.safetensors").is_file()
    lines = [json.loads(x) for x in (trained / "scores.jsonl").read_text().splitlines()]
    assert [(x["step"], x["profile"]) for x in lines] == [(1, "checkpoint"), (2, "checkpoint"), (None, "final")]
    first = lines[0]["metrics"]
    assert set(first) == {"format/json_validity_strict", "format/json_validity_lenient", "format/schema_pass_rate",
                          "format/table_pass_rate", "ppl/perplexity", "ppl/bits_per_byte",
                          "usability/usability_rate"}
    assert first["ppl/perplexity"]["n"] == 2 and first["ppl/perplexity"]["delta"] is not None
    # training moved the adapter: perplexity differs from the base's
    assert lines[1]["metrics"]["ppl/perplexity"]["ckpt"] != lines[1]["metrics"]["ppl/perplexity"]["base"]
    # the base is scored once per profile and reused
    base = [json.loads(x) for x in (trained / "evals" / "base-checkpoint" / "samples.jsonl").read_text().splitlines()]
    assert len(base) == len({(r["task"], r["id"]) for r in base})
    final = lines[2]["metrics"]
    assert "safety/over_refusal_rate" in final and final["ppl/perplexity"]["n"] == 24


class NoHooks:
    def on_start(self, model, tokenizer): ...
    def on_checkpoint(self, step, path, model, tokenizer): ...


def test_an_evaluation_pass_does_not_change_the_lora_gradients(tiny_model, tmp_path):
    """Evaluation and rescoring switch the model to eval mode between training steps. On a CPU
    with AVX512-BF16, bitsandbytes would then repack the 4-bit weights into an inference layout
    with no autograd: later backward passes stop flowing through the base weights, and the LoRA
    layers below get (much) smaller, wrong gradients. So: the same batch must give the same LoRA
    gradients before and after an inference pass, and every one of them must be non-zero."""
    import torch

    from trainers.config import load_train_config
    from trainers.qlora import QLoRATrainer

    config = load_train_config(write_config(tmp_path, tiny_model), ["rescore.suite=null", "lora.dropout=0",
                                                                    "model_init_kwargs.attn_implementation=eager"])
    model = QLoRATrainer().train(config, NoHooks(), Console(quiet=True)).model
    assert model.config._attn_implementation == "eager"  # model_init_kwargs reach from_pretrained (default: sdpa)
    lora = {name: p for name, p in model.named_parameters() if "lora_" in name}
    assert len(lora) == 2 * 2 * 7  # A and B, 2 layers, 7 linear modules each (all-linear)
    ids = torch.tensor([[5, 17, 42, 99, 7, 64]], device=next(model.parameters()).device)

    def lora_gradients() -> dict:
        model.train()
        model.zero_grad(set_to_none=True)
        model(input_ids=ids, labels=ids).loss.backward()
        return {name: p.grad.detach().clone() for name, p in lora.items()}

    before = lora_gradients()
    assert all(g.abs().sum() > 0 for g in before.values())
    model.eval()
    with torch.no_grad():  # an inference pass, as evaluation and rescoring do
        model(input_ids=ids)
    after = lora_gradients()
    changed = [n for n in lora if not torch.allclose(after[n], before[n], rtol=1e-4, atol=1e-7)]
    assert not changed, f"{len(changed)} of {len(lora)} LoRA gradients changed after an eval pass, e.g. {changed[:2]}"


def test_training_outputs_curve_diagnosis_config_and_audit(trained):
    assert (trained / "training_loss.png").stat().st_size > 1000
    summary = load_json(trained / "training_summary.json")
    # 2 steps log 2 train losses: too few to read a curve, and the diagnosis says so
    assert len(summary["train_loss"]) == 2 and summary["diagnosis"]["kind"] == "too_short"
    assert "only 2 logged training losses" in summary["diagnosis"]["message"]
    assert summary["final_report"].endswith("report.md")
    saved = yaml.safe_load((trained / "train_config.yaml").read_text())
    assert saved["lora"]["r"] == 4 and saved["max_length"] == 128
    audit = load_json(trained / "mask_audit.json")
    assert audit["ok"] and audit["trained_user_tokens"] == 0 and audit["end_of_turn_trained"] == audit["assistant_turns"]


def test_watch_rescores_each_new_checkpoint_once(harness_cli, trained, tmp_path):
    watched = tmp_path / "external"
    watched.mkdir()
    shutil.copytree(trained / "checkpoint-1", watched / "checkpoint-1")
    code, _, err = harness_cli("watch", watched, "--task", "ppl", "--max-samples", "3", "--once")
    assert code == 0, err
    shutil.copytree(trained / "checkpoint-2", watched / "checkpoint-2")
    code, out, err = harness_cli("watch", watched, "--task", "ppl", "--max-samples", "3", "--once")
    assert code == 0, err
    assert "scored 1 new checkpoint" in out
    lines = [json.loads(x) for x in (watched / "scores.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2]
    assert lines[0]["metrics"]["ppl/perplexity"]["ckpt"] != lines[1]["metrics"]["ppl/perplexity"]["ckpt"]


def test_unknown_config_key_names_the_valid_ones(harness_cli, tiny_model, tmp_path):
    path = write_config(tmp_path, tiny_model, learning_rte=1e-4)
    code, _, err = harness_cli("train", "--config", path)
    assert code == 2 and "unknown config key 'learning_rte'" in err and "learning_rate" in err


def test_every_error_of_a_config_file_is_reported_in_one_pass(harness_cli, tiny_model, tmp_path):
    """Two misspelled keys, a bad value in a section and a bad passed-through value: all four in
    one run's one error line, each with its file:line (not one per attempt)."""
    path = write_config(tmp_path, tiny_model, learning_rte=1e-4, warmup_ratoi=0.1, max_grad_norm="big")
    text = open(path).read().replace("r: 4", "r: four")
    open(path, "w").write(text)
    code, _, err = harness_cli("train", "--config", path)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    line = " ".join(err.split())
    assert "4 errors in the training config:" in line
    assert "unknown config key 'learning_rte'" in line and "unknown config key 'warmup_ratoi'" in line
    assert "lora.r:" in line and "'four'" in line and "max_grad_norm (TRL SFTConfig field" in line
    assert line.count(f"{path}:") == 4


def test_bitsandbytes_optional_kernel_notice_is_silenced_at_its_logger(caplog):
    """bitsandbytes logs, on every import on a CPU with AVX512-BF16, that it could not fetch an
    optional kernel from the hub; the CLI drops that one message (its own CPU kernel is used)."""
    import logging

    from harness.cli import _quiet_libraries

    _quiet_libraries()
    bnb = logging.getLogger("bitsandbytes.backends.cpu.ops")
    with caplog.at_level(logging.WARNING):
        bnb.warning("Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure you already "
                    "`pip install kernels` and the kernels >= 0.11.1", "no network")
        bnb.warning("another bitsandbytes warning")
    assert [r.getMessage() for r in caplog.records] == ["another bitsandbytes warning"]


def test_unknown_override_key(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("train", "--config", write_config(tmp_path, tiny_model), "--set", "lora.rank=8")
    assert code == 2 and "lora.rank" in err and "r, alpha" in err


def test_bad_training_data_names_file_and_line(harness_cli, tiny_model, tmp_path):
    path = write_config(tmp_path, tiny_model)
    data = tmp_path / "train.jsonl"
    lines = data.read_text().splitlines()
    lines[3] = json.dumps({"messages": [{"role": "user", "content": "hi"}]})  # no assistant turn
    data.write_text("\n".join(lines) + "\n")
    code, _, err = harness_cli("train", "--config", path)
    assert code == 2 and f"{data}:4" in err and "assistant" in err
    lines[3] = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]})
    data.write_text("\n".join(lines) + "\n")
    code, _, err = harness_cli("train", "--config", path)
    assert code == 2 and f"{data}:4" in err and "empty content" in err
    assert not (tmp_path / "out" / "checkpoint-1").exists()


def test_training_refuses_a_mask_that_trains_user_text(harness_cli, tmp_path):
    model = build_tiny_model(tmp_path / "bad-template-model", chat_template=TRAINS_USER)
    code, _, err = harness_cli("train", "--config", write_config(tmp_path, model))
    assert code == 2 and "mask audit failed" in err and "user" in err
    assert not (tmp_path / "out" / "checkpoint-1").exists()


def test_checkpoints_carry_the_models_own_chat_template_and_a_portable_base(trained, tiny_model):
    """The training variant of the template ({% generation %} markers) is for the loss mask only;
    what is saved is the model's own, so merged models and exports render as the base does."""
    from transformers import AutoTokenizer

    from conftest import CHATML_TEMPLATE
    from harness.models.chat_template import has_generation_markers

    for name in ("checkpoint-1", "final"):
        tok = AutoTokenizer.from_pretrained(trained / name)
        assert tok.chat_template == CHATML_TEMPLATE, name
        assert not has_generation_markers((trained / name / "chat_template.jinja").read_text())
    cfg = load_json(trained / "final" / "adapter_config.json")
    assert cfg["base_model_name_or_path"] == str(tiny_model.resolve())  # a local base: its absolute path
    assert cfg["revision"] is None


def test_the_adapters_model_card_names_its_base_and_its_evaluation(trained, tiny_model):
    card = (trained / "final" / "README.md").read_text()
    base = str(tiny_model.resolve())
    assert f"base_model: {base}" in card and f"fine-tuned from **{base}**" in card
    assert "[None]" not in card and "More Information Needed" not in card
    final = [json.loads(x) for x in (trained / "scores.jsonl").read_text().splitlines()][-1]
    ppl = final["metrics"]["ppl/perplexity"]
    row = next(line for line in card.splitlines() if line.startswith("| ppl/perplexity |"))
    assert f"| {ppl['base']:.4g} | {ppl['ckpt']:.4g} | {ppl['delta']:+.4g} [" in row and row.endswith(f"| {ppl['n']} |")
    assert "report.md" in card


def test_passed_through_and_current_names_reach_trl(trained):
    args = load_json(trained / "sft_config.json")  # what SFTConfig really got
    assert args["max_grad_norm"] == 0.5
    assert args["optim"] == "adamw_torch"  # paged_adamw_32bit asked for, unpaged on a CPU
    assert args["activation_checkpointing"] is False and args["save_only_model"] is False
    assert (trained / "checkpoint-1" / "optimizer.pt").is_file()  # what resuming needs


def test_rescored_metrics_are_logged_to_tensorboard_at_their_step(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    [logdir] = {p.parent for p in (trained / "runs").rglob("events.out.tfevents.*")}
    events = EventAccumulator(str(logdir))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert "train/loss" in tags and "eval/loss" in tags
    scores = {x["step"]: x["metrics"] for x in map(json.loads, (trained / "scores.jsonl").read_text().splitlines())}
    logged = {e.step: e.value for e in events.Scalars("eval/rescore/ppl/perplexity")}
    assert logged.keys() == {1, 2}
    for step in (1, 2):
        assert logged[step] == pytest.approx(scores[step]["ppl/perplexity"]["ckpt"], rel=1e-6)
    delta = {e.step: e.value for e in events.Scalars("eval/rescore_delta/format/json_validity_strict")}
    assert delta[2] == pytest.approx(scores[2]["format/json_validity_strict"]["delta"], abs=1e-6)


def test_resuming_from_a_checkpoint_continues_as_if_never_stopped(harness_cli, trained, tiny_model, tmp_path):
    """Optimizer, scheduler, RNG and data order come back: resuming the 2-step run from step 1
    gives the step-2 adapter of the uninterrupted run (which rescored in between)."""
    from safetensors.torch import load_file

    out = tmp_path / "out"
    out.mkdir()
    shutil.copytree(trained / "checkpoint-1", out / "checkpoint-1")
    config = write_config(tmp_path, tiny_model)
    code, stdout, err = harness_cli("train", "--config", config, "--rescore", "none", "--resume-from-checkpoint")
    assert code == 0, err
    assert "resuming from" in stdout and "checkpoint-1" in stdout
    state = load_json(out / "checkpoint-2" / "trainer_state.json")
    assert state["global_step"] == 2
    resumed = load_file(out / "checkpoint-2" / "adapter_model.safetensors")
    straight = load_file(trained / "checkpoint-2" / "adapter_model.safetensors")
    first = load_file(trained / "checkpoint-1" / "adapter_model.safetensors")
    assert resumed.keys() == straight.keys()
    for name in straight:
        assert resumed[name].dtype == straight[name].dtype, name  # trained in the same precision
        assert torch_close(resumed[name], straight[name]), name
    assert any(not torch_close(first[n], straight[n]) for n in straight)  # step 2 did change the weights


def torch_close(a, b) -> bool:
    import torch

    return bool(torch.allclose(a, b, rtol=1e-5, atol=1e-7))


def test_resuming_needs_the_optimizer_state(harness_cli, trained, tiny_model, tmp_path):
    ckpt = tmp_path / "model-only-checkpoint"
    shutil.copytree(trained / "checkpoint-1", ckpt)
    (ckpt / "optimizer.pt").unlink()
    code, _, err = harness_cli("train", "--config", write_config(tmp_path, tiny_model), "--resume-from-checkpoint", ckpt)
    assert code == 2 and "no optimizer state" in err and str(ckpt) in err
    code, _, err = harness_cli("train", "--config", write_config(tmp_path, tiny_model), "--resume-from-checkpoint")
    assert code == 2 and "no complete checkpoint-<step> directory" in err
    shutil.copytree(ckpt, tmp_path / "out" / "checkpoint-1")  # the last checkpoint in output_dir: checked too
    code, _, err = harness_cli("train", "--config", write_config(tmp_path, tiny_model), "--resume-from-checkpoint")
    assert code == 2 and "no optimizer state" in err
    assert not (tmp_path / "out" / "checkpoint-2").exists()


def test_a_paged_optimizer_on_cpu_falls_back_with_a_warning():
    from rich.console import Console

    from trainers.qlora import choose_optimizer

    console = Console(record=True, width=200)
    assert choose_optimizer("paged_adamw_8bit", cuda=False, console=console) == "adamw_8bit"
    assert "needs a GPU" in console.export_text()
    assert choose_optimizer("paged_adamw_8bit", cuda=True, console=console) == "paged_adamw_8bit"
    assert choose_optimizer("auto", cuda=True, console=console) == "paged_adamw_32bit"
    assert choose_optimizer("auto", cuda=False, console=console) == "adamw_torch"


@pytest.mark.parametrize("override, expected", [
    ("lora.r=abc", "--set lora.r=abc: lora.r: input should be a valid integer"),
    ("lora.dropout=abc", "--set lora.dropout=abc: lora.dropout: input should be a valid number"),
    ("lora.dropout=1.5", "lora.dropout: input should be less than 1"),
    ("bf16=maybe", "--set bf16=maybe: bf16: must be true, false or auto (got 'maybe')"),
    ("save_total_limit=abc", "save_total_limit: input should be a valid integer"),
    ("rescore.max_samples=-3", "rescore.max_samples: input should be greater than or equal to 1 (got -3)"),
    ("max_grad_norm=abc", "max_grad_norm (TRL SFTConfig field of type float): input should be a valid number"),
    ("assistant_only_loss=false", "'assistant_only_loss' cannot be set here"),
    ("report_to=tensorbord", "unknown logger 'tensorbord'"),
    ("optim=paged_adamw", "did you mean paged_adamw_8bit or paged_adamw_32bit"),
    ("model_init_kwargs.dtype=f8", "model_init_kwargs.dtype: unknown dtype 'f8'"),
])
def test_bad_config_values_are_one_line_naming_the_key(harness_cli, tiny_model, tmp_path, override, expected):
    code, out, err = harness_cli("train", "--config", write_config(tmp_path, tiny_model), "--set", override)
    assert code == 2 and expected in " ".join(err.split()), err
    assert "Traceback" not in err and not (tmp_path / "out").exists()  # nothing written


def test_a_bad_value_in_the_file_names_file_and_line(harness_cli, tiny_model, tmp_path):
    path = write_config(tmp_path, tiny_model)
    text = open(path).read().replace("  r: 4\n", "  r: four\n")
    open(path, "w").write(text)
    line = text.splitlines().index("  r: four") + 1
    code, _, err = harness_cli("train", "--config", path)
    assert code == 2 and f"{path}:{line}: lora.r: input should be a valid integer" in " ".join(err.split())


def test_trl_names_of_harness_keys_are_read_as_the_harness_keys(tiny_model, tmp_path):
    from trainers.config import load_train_config

    config = load_train_config(write_config(tmp_path, tiny_model), ["num_train_epochs=2", "lr_scheduler_type=linear",
                                                                    "neftune_noise_alpha=5"])
    assert config.epochs == 2 and config.lr_scheduler == "linear"
    assert config.sft_overrides == {"max_grad_norm": 0.5, "neftune_noise_alpha": 5.0}
    saved = config.to_dict()
    assert saved["epochs"] == 2 and saved["neftune_noise_alpha"] == 5.0 and "sft_overrides" not in saved


TRAINS_NOTHING = CHATML_TEMPLATE + "{% generation %}{% endgeneration %}"  # markers around no token


def test_training_refuses_a_mask_that_trains_nothing(harness_cli, tmp_path):
    model = build_tiny_model(tmp_path / "empty-mask-model", chat_template=TRAINS_NOTHING)
    code, _, err = harness_cli("train", "--config", write_config(tmp_path, model))
    assert code == 2 and "mask audit failed" in err and "trains no token at all" in err
    assert not (tmp_path / "out" / "checkpoint-1").exists()


# The same short answer to every question: a set any working trainer learns within a few steps.
TOY = [[{"role": "user", "content": f"Question {i}: what is the answer?"}, {"role": "assistant", "content": "The answer is 42."}]
       for i in range(16)]


def train_toy(tmp_path, model, **overrides):
    """Plain LoRA (quantization: none) on TOY[:12], validated on the separate file TOY[12:]."""
    from trainers.config import load_train_config
    from trainers.qlora import QLoRATrainer

    (tmp_path / "toy.jsonl").write_text("".join(json.dumps({"messages": c}) + "\n" for c in TOY[:12]))
    (tmp_path / "toy_val.jsonl").write_text("".join(json.dumps({"messages": c}) + "\n" for c in TOY[12:]))
    path = write_config(tmp_path, model, quantization="none",
                        data={"train": str(tmp_path / "toy.jsonl"), "validation": str(tmp_path / "toy_val.jsonl")},
                        lora={"r": 8, "alpha": 16, "dropout": 0.0}, per_device_batch_size=2, gradient_accumulation_steps=1,
                        max_steps=-1, epochs=2, learning_rate=1e-2, lr_scheduler="constant", warmup_ratio=0.0,
                        save_steps=1000, eval_steps=4, rescore={"suite": None}, **overrides)
    console = Console(record=True, width=200)
    result = QLoRATrainer().train(load_train_config(path), NoHooks(), console)
    return result, console.export_text()


def test_loss_falls_on_a_learnable_toy_set_without_quantization_on_a_validation_file(tiny_model, tmp_path):
    from bitsandbytes.nn import Linear4bit

    result, printed = train_toy(tmp_path, tiny_model)
    assert "data: 12 train / 4 validation conversations" in printed  # data.validation, not a split of train
    assert "(unquantized, CPU" in printed and not any(isinstance(m, Linear4bit) for m in result.model.modules())
    evals = [e["eval_loss"] for e in result.log_history if "eval_loss" in e]
    train = [e["loss"] for e in result.log_history if "loss" in e]
    assert len(evals) == 1 + 12 // 4 and len(train) == 12  # 12 conversations x 2 epochs / batch 2
    assert evals[-1] < 0.9 * evals[0], evals  # measured: 6.41 -> 5.23
    assert max(train[-3:]) < min(train[:3]), train


def test_packing_trains_on_fewer_longer_rows(tiny_model, tmp_path):
    result, _ = train_toy(tmp_path, tiny_model, packing=True)
    steps = max(e["step"] for e in result.log_history)
    assert steps < 12  # unpacked: 12 steps (test above); packed, several conversations share a row
    evals = [e["eval_loss"] for e in result.log_history if "eval_loss" in e]
    assert evals[-1] < 0.9 * evals[0], evals


def test_the_final_report_is_reproduced_by_harness_run_on_the_final_adapter(harness_cli, trained, tmp_path):
    """docs/training.md: the final adapter is scored the way `harness run --ckpt <out>/final` does."""
    final = [json.loads(x) for x in (trained / "scores.jsonl").read_text().splitlines()][-1]
    assert final["profile"] == "final"
    code, _, err = harness_cli("run", "--ckpt", trained / "final", "--gen", "max_new_tokens=4", "--runs-dir", tmp_path)
    assert code == 0, err
    rerun = load_json(only_run_dir(tmp_path) / "summary.json")
    reported = load_json(Path(final["run_dir"]) / "summary.json")
    assert rerun["suite_version"] == reported["suite_version"] and rerun["roles"] == reported["roles"] == ["base", "ckpt"]
    assert rerun["metrics"].keys() == reported["metrics"].keys()
    for name, metric in reported["metrics"].items():  # the same numbers up to float noise from batching
        for side in ("base", "ckpt", "delta"):
            if metric.get(side) is None:
                continue
            assert rerun["metrics"][name][side]["n"] == metric[side]["n"], (name, side)
            expected = metric[side]["value"]
            got = rerun["metrics"][name][side]["value"]
            # a delta is a difference of two such numbers: its noise scales with the base's size
            scale = abs(metric["base"]["value"] or 0) if side == "delta" else 0
            assert got == (expected if expected is None else pytest.approx(expected, rel=1e-4, abs=1e-6 + 1e-6 * scale)), (name, side)
