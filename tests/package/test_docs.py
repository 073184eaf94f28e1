"""The documentation covers the public surface: every public name in the API reference,
every constructor argument in a docstring, every guide linked from a README that stays short."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest

import qwen_spaces
import qwen_spaces.providers
import qwen_spaces.testing
import qwen_spaces.testing.pytest_plugin

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PUBLIC_MODULES = (qwen_spaces, qwen_spaces.testing, qwen_spaces.providers)


def public_names() -> list[str]:
    names = [f"{module.__name__}.{name}" for module in PUBLIC_MODULES for name in module.__all__]
    plugin = qwen_spaces.testing.pytest_plugin
    return names + [f"{plugin.__name__}.{name}" for name in plugin.__all__]


def documented_names() -> set[str]:
    """The objects docs/api.rst describes (autodoc directives and hand-written py:data)."""
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    return set(re.findall(r"^\.\. (?:auto\w+|py:\w+):: ([\w.]+)", text, re.M))


def test_every_public_name_is_in_the_api_reference() -> None:
    missing = [name for name in public_names() if name not in documented_names()]
    assert not missing, f"add to docs/api.rst: {missing}"


def test_the_api_reference_names_only_what_exists() -> None:
    for dotted in documented_names():
        module_name, _, attribute = dotted.rpartition(".")
        try:
            module = __import__(dotted, fromlist=["_"])
        except ImportError:
            module = __import__(module_name, fromlist=["_"])
            assert hasattr(module, attribute), dotted
        else:
            assert module.__name__ == dotted


def public_classes() -> list[tuple[str, type]]:
    found = []
    for module in PUBLIC_MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                found.append((f"{module.__name__}.{name}", obj))
    return found


@pytest.mark.parametrize(("name", "cls"), public_classes(), ids=lambda v: str(v))
def test_every_constructor_argument_is_described(name: str, cls: type) -> None:
    try:
        parameters = inspect.signature(cls).parameters
    except ValueError:  # a builtin's constructor (an exception taking *args)
        return
    # The class's docstring, its __init__'s and those of its bases in this package.
    docs = " ".join(
        (klass.__doc__ or "") + (vars(klass).get("__init__").__doc__ or "")
        if "__init__" in vars(klass)
        else (klass.__doc__ or "")
        for klass in cls.__mro__
        if klass.__module__.startswith("qwen_spaces")
    )
    missing = [
        p
        for p in parameters
        if parameters[p].kind
        not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and not re.search(rf"\b{re.escape(p)}\b", docs)
    ]
    assert not missing, f"{name}: describe {missing} in its docstring"


# The methods users call with arguments: each argument is named in the method's docstring
# or its class's.
METHODS = [
    (qwen_spaces.Client, ("chat", "stream", "conversation")),
    (qwen_spaces.AsyncClient, ("chat", "stream", "conversation")),
    (qwen_spaces.Conversation, ("send", "stream")),
    (qwen_spaces.AsyncConversation, ("send", "stream")),
    (qwen_spaces.Timeouts, ("of", "upload_seconds")),
    *[
        (provider, ("create_async_generator", "create_completion", "get_model"))
        for provider in qwen_spaces.providers.PROVIDERS.values()
    ],
]


@pytest.mark.parametrize(
    ("cls", "method"),
    [(cls, method) for cls, methods in METHODS for method in methods],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_every_argument_of_a_public_method_is_described(cls: type, method: str) -> None:
    function = getattr(cls, method)
    docs = (function.__doc__ or "") + (cls.__doc__ or "")
    missing = [
        p
        for p, parameter in inspect.signature(function).parameters.items()
        if p not in ("self", "cls")
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and not re.search(rf"\b{re.escape(p)}\b", docs)
    ]
    assert not missing, f"{cls.__name__}.{method}: describe {missing}"


def test_the_readme_is_short_and_points_at_every_guide() -> None:
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 300
    guides = sorted(path.relative_to(ROOT).as_posix() for path in (DOCS / "guides").glob("*.rst"))
    assert len(guides) >= 9
    for guide in guides:
        assert f"``{guide}``" in readme, guide
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    for guide in guides:
        assert f"   guides/{Path(guide).stem}\n" in index, guide


def python_blocks() -> list[tuple[str, str]]:
    """The ``code-block:: python`` blocks of the README and the docs (the ``testcode`` ones
    run in ``make doctest``; these are shown only, so at least they must parse)."""
    found = []
    for path in [ROOT / "README.rst", *sorted(DOCS.rglob("*.rst"))]:
        text = path.read_text(encoding="utf-8")
        for block in re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text):
            found.append((path.relative_to(ROOT).as_posix(), textwrap.dedent(block)))
    return found


def test_the_shown_python_parses() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 5
    for where, code in blocks:
        # A notebook cell may await at the top level, as Jupyter allows.
        compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
