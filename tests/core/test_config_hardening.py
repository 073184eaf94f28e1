"""/config of any shape: read_config + resolve_endpoints raise ProtocolError or LookupError, nothing else."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwen_spaces._errors import ProtocolError
from qwen_spaces._gradio.gradio import read_config
from qwen_spaces._spaces.spaces import QWEN_1M, QWEN_MAX, resolve_endpoints
from qwen_spaces.testing._layouts import make_layout

SPECS = (QWEN_MAX, QWEN_1M)
REAL = {
    (name, gradio): make_layout(name, gradio).config("http://127.0.0.1:1")
    for name in ("max", "1m")
    for gradio in (4, 5, 6)
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and infinities too: Python's json reads them
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)
ids = st.integers(min_value=-1, max_value=20) | st.booleans() | json_values
id_lists = st.lists(ids, max_size=4) | json_values
dependency = (
    st.dictionaries(
        st.sampled_from(
            ["id", "targets", "inputs", "outputs", "api_name", "queue", "trigger_after"]
        ),
        st.one_of(
            ids,
            id_lists,
            st.lists(st.lists(ids, max_size=3), max_size=3),
            st.sampled_from(["model_chat", "/agent_run", "add_text", "then"]),
        ),
    )
    | json_values
)
component = (
    st.dictionaries(
        st.sampled_from(["id", "type", "props"]),
        st.one_of(
            ids,
            st.sampled_from(["chatbot", "textbox", "state", "ChatBot", "multimodalinput"]),
            st.fixed_dictionaries(
                {}, optional={"type": st.sampled_from(["tuples", "messages"]) | json_values}
            ),
        ),
    )
    | json_values
)
configs = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from(["4.44.1", "5.12.0", "6.0", "²", "٣.1", ""]) | json_values,
        "api_prefix": st.sampled_from(["", "/gradio_api", "/gradio_api/", "@evil.example", "//x"])
        | json_values,
        "components": st.lists(component, max_size=8) | json_values,
        "dependencies": st.lists(dependency, max_size=6) | json_values,
    },
)

PATH_SAFE = re.compile(r"(/[A-Za-z0-9._~-]+)*")


def resolve_both(data: Any) -> None:
    """The property: only ProtocolError (bad /config) or LookupError (no function) escape."""
    for spec in SPECS:
        try:
            config = read_config(copy.deepcopy(data))
        except ProtocolError:
            continue
        try:
            endpoints = resolve_endpoints(spec, config)
        except LookupError:
            continue
        # What resolves is safe to put in a URL and a join body.
        assert PATH_SAFE.fullmatch(endpoints.api_prefix)
        assert type(endpoints.fn_index) is int and endpoints.fn_index >= 0
        for trigger in (endpoints.trigger_id, *(f.trigger_id for f in endpoints.side)):
            assert trigger is None or (type(trigger) is int and trigger >= 0)
        assert 0 <= endpoints.chatbot_output


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_raises_nothing_else(data: Any) -> None:
    resolve_both(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_config_shaped_json_raises_nothing_else(data: Any) -> None:
    resolve_both(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(REAL)), st.data())
def test_a_real_config_with_one_value_replaced_raises_nothing_else(
    key: tuple[str, int], data: st.DataObject
) -> None:
    config = copy.deepcopy(REAL[key])
    # Walk down to a random container and replace one of its values with any JSON.
    node: Any = config
    for _ in range(6):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        k = data.draw(st.sampled_from(keys))
        child = node[k]
        if isinstance(child, (dict, list)) and child and data.draw(st.booleans()):
            node = child
            continue
        node[k] = data.draw(json_values)
        break
    resolve_both(config)


@pytest.mark.parametrize("key", sorted(REAL))
def test_real_configs_pass_unchanged_in_meaning(key: tuple[str, int]) -> None:
    spec = QWEN_MAX if key[0] == "max" else QWEN_1M
    config = REAL[key]
    assert resolve_endpoints(spec, read_config(config)) == resolve_endpoints(spec, config)


def max_config(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(REAL[("max", 5)])
    config.update(changes)
    return config


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (
            lambda c: c["components"][0].update(id=[4]),
            r"components\[0\] is malformed: its id is not an int",
        ),
        (lambda c: c["components"][0].update(id=True), r"its id is not an int"),
        (
            lambda c: c["dependencies"][0].update(inputs=5),
            r"dependencies\[0\] is malformed: inputs",
        ),
        (
            lambda c: c["dependencies"][0].update(outputs=[1, [2]]),
            r"outputs is not a list of component ids",
        ),
        (lambda c: c["dependencies"][0].update(inputs={"a": 1}), r"inputs is not a list"),
        (lambda c: c["dependencies"][0].update(id="0"), r"dependencies\[0\] is malformed: its id"),
        (lambda c: c["dependencies"][0].update(id=-1), r"its id"),
        (lambda c: c.update(api_prefix="@evil.example"), r"api_prefix is malformed"),
        (lambda c: c.update(api_prefix=["/gradio_api"]), r"api_prefix is malformed"),
        (lambda c: c.update(components={"id": 1}), r"no list of components"),
        (lambda c: c.update(dependencies=None), r"no list of dependencies"),
    ],
)
def test_malformed_ids_are_a_protocol_error(mutate: Any, match: str) -> None:
    config = max_config()
    mutate(config)
    with pytest.raises(ProtocolError, match=match):
        read_config(config)


def test_entries_that_are_not_dicts_are_dropped_and_ids_filled_in() -> None:
    config = max_config()
    config["components"].insert(0, "junk")
    deps = config["dependencies"]
    for dep in deps:
        del dep["id"]  # Gradio 3: the fn_index is the position
    deps.insert(0, ["not", "a", "dependency"])
    deps[1]["targets"] = [[True, "submit"], "x", [], [11, "submit"]]
    deps[1]["trigger_after"] = "0"
    read = read_config(config)
    assert "junk" not in read["components"]
    assert [d["id"] for d in read["dependencies"]] == list(range(1, len(deps)))
    assert read["dependencies"][0]["targets"] == [[11, "submit"]]
    assert read["dependencies"][0]["trigger_after"] is None
    # The original position counts: the dropped entry was function 0.
    assert resolve_endpoints(QWEN_MAX, read).fn_index == 1
    assert deps[1]["targets"][0] == [True, "submit"]  # the input is not modified


@pytest.mark.parametrize("version", ["²", "5.12.0\n<script>", 5, None])
def test_an_odd_version_is_dropped_not_fatal(version: Any) -> None:
    read = read_config(max_config(version=version))
    assert "version" not in read
    assert resolve_endpoints(QWEN_MAX, read).fn_index == 0
