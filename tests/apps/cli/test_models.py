"""``qwen-spaces models``: the registry, and --check against fake Spaces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qwen_spaces.testing import FakeSpace, Fault
from tests.support.cli_runs import Result

pytestmark = pytest.mark.timeout(20)

Cli = Callable[..., Result]


def test_lists_models_spaces_and_aliases(cli: Cli) -> None:
    result = cli("models")
    assert result.code == 0 and result.err == ""
    lines = result.out.splitlines()
    assert lines[0].split() == ["MODEL", "SPACE", "CONTEXT", "ALIASES"]
    assert lines[1].split() == [
        "qwen-2.5-max",
        "https://qwen-qwen2-5-max-demo.hf.space",
        "32,768",
        "qwen-2-5-max,",
        "qwen-qwen2-5-max",
    ]
    assert lines[2].split() == [
        "qwen-2.5-1m",
        "https://qwen-qwen2-5-1m-demo.hf.space",
        "1,010,000",
        "qwen-2.5-1m-demo",
    ]
    contexts = {line.split()[0]: line.split()[2] for line in lines[1:]}
    assert contexts["qwen-3-235b"] == "131,072" and contexts["qwen-3-0.6b"] == "32,768"


def test_one_model_by_alias(cli: Cli) -> None:
    result = cli("models", "--model", "QWEN-2-5-MAX")
    assert [line.split()[0] for line in result.out.splitlines()] == ["MODEL", "qwen-2.5-max"]


@pytest.mark.parametrize("layout,model", [("max", "qwen-2.5-max"), ("1m", "qwen-2.5-1m")])
def test_check_ok(cli: Cli, layout: str, model: str) -> None:
    with FakeSpace(layout=layout) as space:
        result = cli("models", "--check", "--model", model, "--base-url", space.url)
    assert result.code == 0, result.err
    header, row = result.out.splitlines()
    assert header.split()[-1] == "STATUS"
    assert row.startswith(f"{model}  {space.url}") and " ok (" in row


def test_check_reports_the_error_and_exits_1(cli: Cli) -> None:
    with FakeSpace(faults=[Fault.space_error(message="overloaded", times=None)]) as space:
        result = cli("models", "--check", "--model", "qwen-2.5-max", "--base-url", space.url)
    assert result.code == 1
    row = result.out.splitlines()[1]
    assert row.endswith("error: SpaceError: the Space reported an error: overloaded")


def test_check_times_out_quickly(cli: Cli) -> None:
    with FakeSpace(faults=[Fault.heartbeats_only()], heartbeat_interval=0.2) as space:
        result = cli(
            "models", "--check", "-m", "qwen-2.5-max", "--base-url", space.url, "--timeout", "1"
        )
    assert result.code == 1 and "error: SpaceTimeoutError" in result.out


def test_base_url_and_model_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from qwen_spaces._cli import _from_environment, _parser

    def parse(*argv: str) -> Any:
        args = _parser().parse_args(argv)
        _from_environment(args)  # what main() does after parsing
        return args

    monkeypatch.setenv("QWEN_SPACES_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("QWEN_SPACES_MODEL", "qwen-2-5-max")
    args = parse("ask", "hi")
    assert args.base_url == "http://127.0.0.1:9" and args.model == "qwen-2.5-max"
    args = parse("ask", "--base-url", "http://127.0.0.1:8", "hi")
    assert args.base_url == "http://127.0.0.1:8"


def test_check_with_a_base_url_alone_checks_the_one_model_served_there(cli: Cli) -> None:
    with FakeSpace() as space:
        result = cli("models", "--check", "--base-url", space.url)
    assert result.code == 0, result.out
    assert [line.split()[0] for line in result.out.splitlines()] == ["MODEL", "qwen-2.5-max"]
