"""The Backend contract: the registry's rules, capabilities and describe() of the built-in backends."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.models.backends import BackendBase, Capabilities, make_backend, register_backend
from harness.models.checkpoint import resolve_checkpoint


def test_a_name_registered_twice_is_refused_naming_both_classes():
    @register_backend("contract-test-a")
    class First(BackendBase):
        pass

    with pytest.raises(HarnessError) as e:
        @register_backend("contract-test-a")
        class Second(BackendBase):
            pass

    message = str(e.value)
    assert "contract-test-a" in message and "First" in message and "Second" in message


def test_a_built_in_name_cannot_be_taken_by_a_plugin():
    import harness.models.backends.hf  # noqa: F401  (built-in backends register on first use)

    with pytest.raises(HarnessError, match="HFBackend"):
        @register_backend("hf")
        class MyHF(BackendBase):
            pass


def test_a_class_without_the_contract_is_refused_with_what_it_lacks():
    with pytest.raises(HarnessError, match="lacks capabilities, describe.*BackendBase"):
        @register_backend("contract-test-b")
        class Bare:
            def generate(self, batch, settings, role="ckpt"):
                return []

            def loglikelihood(self, batch, mask="assistant", role="ckpt"):
                return []


def test_base_class_defaults_say_what_is_missing():
    @register_backend("contract-test-c")
    class Minimal(BackendBase):
        def __init__(self, ckpt):
            self.ckpt = ckpt

    backend = Minimal(None)
    caps = backend.capabilities()
    assert caps.generate and not caps.loglikelihood and not caps.switch_adapter
    assert caps.loglikelihood_missing == "the contract-test-c backend has no loglikelihoods"
    with pytest.raises(HarnessError, match="no loglikelihoods"):
        backend.loglikelihood([[]])
    with pytest.raises(HarnessError, match="no local tokenizer"):
        backend.tokenizer_view()
    assert backend.describe() == {"backend": "contract-test-c", "device": "", "chat_template_hash": None, "engine": {}}


def test_hf_backend_states_its_capabilities_and_switches_adapters(tiny_adapter, tiny_model):
    backend = make_backend(resolve_checkpoint(str(tiny_adapter)))
    assert backend.capabilities() == Capabilities(generate=True, loglikelihood=True, token_logprobs=True, raw_text=True,
                                                  switch_adapter=True, batching=True, token_streams=True)
    described = backend.describe()
    assert described["backend"] == "hf" and described["device"] == "cpu" and len(described["chat_template_hash"]) == 16
    view = backend.tokenizer_view()
    ids = view.encode("hello world")
    assert view.decode(ids) == "hello world" and "".join(view.pieces(ids)) == "hello world"
    plain = make_backend(resolve_checkpoint(str(tiny_model)))
    assert not plain.capabilities().switch_adapter
    with pytest.raises(HarnessError, match="only another adapter of the same base"):
        plain.switch_adapter(resolve_checkpoint(str(tiny_adapter)))


def test_runs_made_by_different_engines_are_refused_unless_allowed():
    from types import SimpleNamespace

    from harness.results.compare import condition_differences
    from harness.results.snapshot import run_conditions

    def made_by(engine):
        config = {"suite": {"tasks": {}}, "engine": engine}
        return SimpleNamespace(source=engine["backend"], conditions=run_conditions(config))

    hf, vllm = made_by({"backend": "hf"}), made_by({"backend": "vllm", "dtype": "float32", "enforce_eager": True})
    with pytest.raises(HarnessError, match=r"engine: backend 'hf' vs 'vllm'.*--allow-different engine"):
        condition_differences(hf, vllm)
    assert condition_differences(hf, vllm, frozenset({"engine"})) == [
        "engine: backend 'hf' vs 'vllm', dtype None vs 'float32', enforce_eager None vs True"]
    assert condition_differences(hf, made_by({"backend": "hf"})) == []
    old = SimpleNamespace(source="old", conditions=run_conditions({"suite": {"tasks": {}}}))  # recorded no engine
    assert condition_differences(old, vllm) == []
