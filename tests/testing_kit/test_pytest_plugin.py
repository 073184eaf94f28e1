"""The pytest plugin (``pytest11`` entry point) costs nothing where it is not used.

Suites are generated in a temporary directory and run by a child pytest, with
the plugin loaded by its entry point and with ``-p no:<plugin>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

PLUGIN = "qwen_spaces.testing.pytest_plugin"
TESTS = 2000
# Best of 3 each way on a shared, noisy 2-core machine: the plugin may cost at most
# this fraction plus this many seconds. Before the plugin was made lazy it cost
# about +50% (a tmp_path_factory.mktemp per test, and aiohttp imported at start).
TOLERANCE = 0.15
SLACK = 0.25

PROBE = """
import os
import pytest

def test_the_plugin_is_{state}(request):
    assert request.config.pluginmanager.has_plugin({plugin!r}) is {loaded}
"""


def child_env(tmp: Path) -> dict[str, str]:
    """No variable of ours or of pytest's from this session; TMPDIR under ``tmp``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("QWEN_SPACES", "PYTEST_")) and k not in ("TMPDIR", "TEMP", "TMP")
    }
    env["TMPDIR"] = str(tmp)
    return env


def run_suite(
    suite: Path, tmp: Path, *, plugin: bool, env: Optional[dict[str, str]] = None
) -> float:
    """Seconds for a child pytest over ``suite``; fails the test if the suite fails."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    args += [
        "--basetemp",
        str(tmp / "basetemp"),
        "-o",
        "asyncio_default_fixture_loop_scope=function",
    ]
    if not plugin:
        args += ["-p", f"no:{PLUGIN}"]
    start = time.perf_counter()
    done = subprocess.run(
        [*args, str(suite)],
        cwd=suite,
        env=env or child_env(tmp),
        capture_output=True,
        text=True,
        timeout=240,
    )
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return seconds


def make_suite(where: Path, body: str) -> Path:
    where.mkdir()
    (where / "test_many.py").write_text(body)
    return where


@pytest.mark.slow  # about 40 s of timing, best of 3 each way: make test runs it, make unit does not
@pytest.mark.timeout(300)
def test_an_unrelated_suite_of_2000_tests_runs_as_fast_with_the_plugin(tmp_path: Path) -> None:
    body = "\n".join(f"def test_{i}():\n    assert {i} + 1 == {i + 1}\n" for i in range(TESTS))
    with_plugin = make_suite(tmp_path / "on", body)
    (with_plugin / "test_probe.py").write_text(PROBE.format(state="on", plugin=PLUGIN, loaded=True))
    without = make_suite(tmp_path / "off", body)
    (without / "test_probe.py").write_text(PROBE.format(state="off", plugin=PLUGIN, loaded=False))
    temp = tmp_path / "tmp"
    temp.mkdir()
    on: list[float] = []
    off: list[float] = []
    for _ in range(3):  # interleaved, so a burst of load on the machine hits both
        on.append(run_suite(with_plugin, temp, plugin=True))
        off.append(run_suite(without, temp, plugin=False))
    print(f"best of 3: {min(on):.2f}s with the plugin, {min(off):.2f}s without")
    assert min(on) <= min(off) * (1 + TOLERANCE) + SLACK, (on, off)
    # No directory per test, and nothing at all left once pytest ended.
    assert not (temp / "basetemp").exists()
    assert list(temp.iterdir()) == [], list(temp.iterdir())


ISOLATION = """
import os
from pathlib import Path

SEEN = []

def test_a_writes_to_the_cache():
    where = Path(os.environ["QWEN_SPACES_CACHE_DIR"])
    SEEN.append(where)
    assert where.is_dir() and list(where.iterdir()) == []
    assert where.parent == Path(os.environ["TMPDIR"])
    (where / "endpoints-x.json").write_text("{}")

def test_b_starts_with_it_empty():
    where = Path(os.environ["QWEN_SPACES_CACHE_DIR"])
    assert where == SEEN[0] and list(where.iterdir()) == []

def test_c_the_discovery_cache_uses_it():
    from qwen_spaces._client import discovery_cache
    assert discovery_cache.cache_dir() == SEEN[0]
"""


def test_each_test_starts_with_an_empty_cache_and_nothing_is_left(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    run_suite(make_suite(tmp_path / "suite", ISOLATION), temp, plugin=True)
    assert list(temp.iterdir()) == []


USERS_OWN = """
import os

def test_the_users_directory_is_kept():
    assert os.environ["QWEN_SPACES_CACHE_DIR"] == {mine!r}
"""


def test_a_cache_directory_set_before_pytest_is_kept(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "endpoints-kept.json").write_text("{}")
    env = child_env(temp)
    env["QWEN_SPACES_CACHE_DIR"] = str(mine)
    suite = make_suite(tmp_path / "suite", USERS_OWN.format(mine=str(mine)))
    run_suite(suite, temp, plugin=True, env=env)
    assert [p.name for p in mine.iterdir()] == ["endpoints-kept.json"]
    assert list(temp.iterdir()) == []


def test_loading_the_plugin_imports_no_http_library() -> None:
    code = (
        f"import sys, {PLUGIN}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'requests')"
        " or m == 'qwen_spaces.testing._server'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
