"""A test that needs something of the machine (Chromium; unshare or setpriv as root) skips with its
reason on a user's machine and fails under CI, where .ci/run sets SFT_HARNESS_REQUIRE_ALL=1."""

from __future__ import annotations

import pytest
from conftest import REPO, REQUIRE_ALL, needs


def test_a_missing_tool_skips_with_its_reason(monkeypatch):
    monkeypatch.delenv(REQUIRE_ALL, raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        needs("chromium is not installed")


def test_under_ci_a_missing_tool_fails(monkeypatch):
    monkeypatch.setenv(REQUIRE_ALL, "1")
    with pytest.raises(pytest.fail.Exception, match="chromium is not installed .required: SFT_HARNESS_REQUIRE_ALL=1"):
        needs("chromium is not installed")


def test_ci_requires_every_tool_and_pytest_lists_skip_reasons():
    ci = (REPO / ".ci" / "run").read_text()
    assert "export SFT_HARNESS_REQUIRE_ALL=1" in ci and ci.index("REQUIRE_ALL=1") < ci.index("pytest -q")
    assert '"-rfEs"' in (REPO / "pyproject.toml").read_text()
