"""The console script's start-up: imports with the collector off, then on again (cli.main)."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from qwen_spaces._cli import main
from tests.support.cli_runs import child_env


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # what main() froze goes back to the collector of this test process
    gc.enable()


@pytest.mark.usefixtures("unfrozen")
def test_the_process_command_line_freezes_its_imports_and_collects_again(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[bool] = []
    monkeypatch.setattr(sys, "argv", ["qwen-spaces", "models"])
    import qwen_spaces._cli.models as models

    real = models.run

    def run(args: object) -> int:
        seen.append(gc.isenabled())
        return real(args)  # type: ignore[arg-type]

    monkeypatch.setattr(models, "run", run)
    assert main() == 0
    assert seen == [True]  # the command runs with the collector on
    assert gc.isenabled() and gc.get_freeze_count() > 0
    assert "qwen-2.5-max" in capsys.readouterr().out


@pytest.mark.usefixtures("unfrozen")
@pytest.mark.parametrize("argv", [["--version"], ["ask", "--no-such-flag"], ["nonsense"]])
def test_the_collector_is_back_on_after_an_exit_from_parsing(
    monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["qwen-spaces", *argv])
    with pytest.raises(SystemExit):
        main()
    assert gc.isenabled()


def test_called_from_python_it_leaves_the_collector_alone() -> None:
    gc.disable()
    try:
        assert main(["models"]) == 0
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_a_child_process_asks_with_the_collector_on_after_start_up() -> None:
    code = (
        "import gc, sys; from qwen_spaces._cli import main, common; real = common.make_client\n"
        "def make(*a, **k):\n"
        "    print('gc', gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)\n"
        "    raise SystemExit(0)\n"
        "common.make_client = make; import qwen_spaces._cli.ask as ask; ask.make_client = make\n"
        "sys.argv = ['qwen-spaces', 'ask', 'hi']; main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), timeout=60
    )
    assert "gc True True" in done.stderr, done.stderr
