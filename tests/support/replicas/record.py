"""Record transcripts of the raw Gradio protocol against the replica Spaces.

    .venv/bin/python tests/support/replicas/record.py [SCENARIO ...]     # default: all

Uses plain ``requests`` (never the SDK), so a transcript shows what a real
Gradio server sends, not what the SDK expects. Each scenario is written to
``tests/support/transcripts/<scenario>.json``::

    {"scenario", "note", "gradio_version", "session_hash",
     "request": {"query", "history", "system"}, "expected_answer",
     "exchanges": [{"method", "path", "query_params", "request_json",
                    "status", "content_type", "body"}]}

A multi-turn scenario (one session) holds its calls under ``"turns"``, each
``{"request", "expected_answer", "session_hash", "exchanges"}``; the
top-level ``request``/``expected_answer`` repeat the last turn. Each turn starts
with its own (real) GET /config, so a turn can be replayed on its own.

Scenarios where the Space fails on purpose go to ``tests/support/transcripts/errors/``
with ``"expected_answer": null``, ``"expected_error"`` (a substring of the
Space's message) and ``"expected_partial_text"`` (the text streamed before it).

``body`` is the response text; for ``/queue/data`` the whole SSE text exactly
as received, except that each server-made event_id (a random uuid4 hex) is
rewritten to a fixed 32-hex value of the same length everywhere it appears,
so transcripts are reproducible. Session hashes are chosen here (12 hex
characters derived from the scenario name).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fake_model  # noqa: E402
from launcher import Replica, start_replica  # noqa: E402

OUT = HERE.parent / "transcripts"
DEADLINE = 60.0

QUERY = "Laugh: ha ha — café ☕?"
FOLLOW_UP = "Again, ha!"
HISTORY = [["Hi", "Hello! ☕"], ["What is 2+2?", "4, ha ha."]]
CUSTOM_SYSTEM = "Be brief — très."
FAIL_MESSAGE = "replica failure (requested by the query)"  # as in max_app / onem_app


@dataclass
class Scenario:
    name: str
    kind: str  # "max" | "onem" | "qwen2" (the max layout) | "qwen25" (size radio, dict cells)
    gradio: int
    query: str = QUERY
    history: list[list[str]] = field(default_factory=list)
    system: Optional[str] = fake_model.DEFAULT_SYSTEM
    shift_ids: bool = False
    footer: bool = False
    follow_up: Optional[str] = None  # onem: a second turn in the same session
    note: str = ""
    error: bool = False  # the Space fails on purpose: saved under transcripts/errors/
    hunt: int = 0  # onem: try up to this many sessions for Gradio 4's stale first diff
    size: Optional[str] = None  # qwen25: the size radio's value (the 4th input)


SCENARIOS = [
    Scenario("max-g4", "max", 4, note="Gradio 4.44: no api_prefix, tuples chatbot"),
    Scenario("max-g5", "max", 5, note="Gradio 5.12: /gradio_api prefix, tuples chatbot"),
    Scenario("max-g6", "max", 6, note="Gradio 6.31: /gradio_api prefix, messages chatbot"),
    Scenario("max-g5-shifted", "max", 5, shift_ids=True, note="every component id shifted by one"),
    Scenario(
        "max-g5-history",
        "max",
        5,
        history=HISTORY,
        system=CUSTOM_SYSTEM,
        note="two earlier pairs sent as tuples history, custom system prompt",
    ),
    Scenario(
        "max-g6-history",
        "max",
        6,
        history=HISTORY,
        system=CUSTOM_SYSTEM,
        note="two earlier pairs sent as Gradio 6 messages (content as text parts)",
    ),
    Scenario(
        "max-g5-error-midway",
        "max",
        5,
        query="__fail_midway__",
        error=True,
        note="the Space raises gr.Error after 5 chunks: process_completed success=false",
    ),
    Scenario(
        "onem-g4-error",
        "onem",
        4,
        query="__fail__",
        system=None,
        error=True,
        note="the Space raises gr.Error after the thinking placeholder, before any answer text",
    ),
    Scenario(
        "qwen2-g4",
        "qwen2",
        4,
        note="Qwen2-72B-Instruct demo: the Max layout on Gradio 4.44 (fn 0, trigger 11)",
    ),
    Scenario(
        "qwen25-g4",
        "qwen25",
        4,
        system=fake_model.QWEN25_SYSTEM,
        size="72B",
        note="Qwen2.5 demo on Gradio 4.44 + modelscope_studio 0.5.2: model_chat(query, history, "
        "system, size) is fn 3, trigger 25; mgr.Chatbot cells are message dicts",
    ),
    Scenario(
        "qwen25-g4-history",
        "qwen25",
        4,
        history=HISTORY,
        system=CUSTOM_SYSTEM,
        size="7B",
        note="two earlier pairs sent as mgr.Chatbot message dicts ({text, ...}), size 7B, "
        "custom system prompt",
    ),
    Scenario("onem-g4", "onem", 4, system=None, note="predict, join, data; placeholder first"),
    Scenario(
        "onem-g4-footer",
        "onem",
        4,
        system=None,
        footer=True,
        note="a <summary> footer that changes every chunk: replace ops",
    ),
    Scenario(
        "onem-g4-followup",
        "onem",
        4,
        system=None,
        follow_up=FOLLOW_UP,
        note="two turns in one session; the second sends only the new message",
    ),
    Scenario(
        "onem-g4-stale-diff",
        "onem",
        4,
        system=None,
        hunt=600,
        note=(
            "Gradio 4 keys its per-session diff state by id() of the iterator and never "
            "clears it for add_text (a generator run once by /run/predict); when a later "
            "agent_run iterator reuses that address, its FIRST process_generating carries "
            '[["replace", [], value]] per output instead of full values (~1 follow-up in 100). '
            "The last turn here is such a turn, caught live."
        ),
    ),
]


def session_hash_for(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:12]


def fixed_event_id(n: int) -> str:
    return f"{n:032x}"


class Recorder:
    def __init__(self, replica: Replica, session_hash: str) -> None:
        self.base = replica.url
        self.prefix = str(replica.config.get("api_prefix") or "")
        self.session_hash = session_hash
        self.http = requests.Session()
        self.turns: list[list[dict[str, Any]]] = [[]]
        self.event_ids: dict[str, str] = {}

    def next_turn(self) -> None:
        self.turns.append([])

    @property
    def exchanges(self) -> list[dict[str, Any]]:
        return [x for turn in self.turns for x in turn]

    def _rewrite(self, text: str) -> str:
        for real, fixed in self.event_ids.items():
            text = text.replace(real, fixed)
        return text

    def _log(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: Any,
        resp: requests.Response,
        text: str,
    ) -> None:
        self.turns[-1].append(
            {
                "method": method,
                "path": path,
                "query_params": params,
                "request_json": body,
                "status": resp.status_code,
                "content_type": resp.headers.get("content-type"),
                "body": self._rewrite(text),
            }
        )

    def get_config(self) -> dict[str, Any]:
        resp = self.http.get(self.base + "/config", timeout=10)
        self._log("GET", "/config", {}, None, resp, resp.text)
        resp.raise_for_status()
        return dict(resp.json())

    def post(self, path: str, body: dict[str, Any]) -> Any:
        resp = self.http.post(self.base + self.prefix + path, json=body, timeout=10)
        data = (
            resp.json()
            if resp.headers.get("content-type", "").startswith("application/json")
            else None
        )
        if path.endswith("/queue/join") and isinstance(data, dict) and "event_id" in data:
            self.event_ids.setdefault(data["event_id"], fixed_event_id(len(self.event_ids) + 1))
        self._log("POST", self.prefix + path, {}, body, resp, resp.text)
        resp.raise_for_status()
        return data

    def stream(self) -> str:
        params = {"session_hash": self.session_hash}
        raw = bytearray()
        started = time.monotonic()
        with self.http.get(
            self.base + self.prefix + "/queue/data",
            params=params,
            stream=True,
            headers={"Accept": "text/event-stream"},
            timeout=(10, 30),
        ) as resp:
            for chunk in resp.iter_content(chunk_size=None):
                raw.extend(chunk)
                if time.monotonic() - started > DEADLINE:
                    raise TimeoutError("the data stream did not end in time")
            text = raw.decode("utf-8")
            self._log("GET", self.prefix + "/queue/data", params, None, resp, text)
        return text


def final_messages(sse_text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in sse_text.splitlines() if line.startswith("data: ")]


def all_exchanges(transcript: dict[str, Any]) -> list[dict[str, Any]]:
    turns = transcript.get("turns") or [transcript]
    return [x for turn in turns for x in turn["exchanges"]]


def ms_message(text: str) -> dict[str, Any]:
    return {
        "id": None,
        "elem_id": None,
        "elem_classes": None,
        "name": None,
        "text": text,
        "flushing": None,
        "avatar": "",
        "files": [],
    }


def max_history(history: list[list[str]], gradio: int) -> list[Any]:
    if gradio >= 6:
        out: list[Any] = []
        for user, assistant in history:
            out.append({"role": "user", "content": [{"type": "text", "text": user}]})
            out.append({"role": "assistant", "content": [{"type": "text", "text": assistant}]})
        return out
    return [list(pair) for pair in history]


def find_dep(config: dict[str, Any], api_name: str) -> tuple[int, Optional[int]]:
    for dep in config["dependencies"]:
        if dep.get("api_name") == api_name:
            target = dep["targets"][0][0] if dep.get("targets") else None
            return int(dep["id"]), target
    raise LookupError(api_name)


def qwen25_history(history: list[list[str]]) -> list[Any]:
    """History as the Qwen2.5 Space's mgr.Chatbot holds it: a message dict per cell."""
    return [[ms_message(user), ms_message(bot)] for user, bot in history]


def run_max(sc: Scenario, rec: Recorder) -> str:
    """One model_chat call: the Max layout, Qwen2-72B's (the same) or Qwen2.5's (+ size)."""
    config = rec.get_config()
    fn_index, trigger = find_dep(config, "model_chat")
    if sc.kind == "qwen25":
        data = [sc.query, qwen25_history(sc.history), sc.system, sc.size]
        system = fake_model.sized_system(sc.size or "", sc.system or "")
    else:
        data = [sc.query, max_history(sc.history, sc.gradio), sc.system]
        system = sc.system or ""
    body = {
        "data": data,
        "event_data": None,
        "fn_index": fn_index,
        "trigger_id": trigger,
        "session_hash": rec.session_hash,
    }
    rec.post("/queue/join", body)
    rec.stream()
    return fake_model.expected_answer(sc.query, len(sc.history), system)


def run_onem_turn(rec: Recorder, config: dict[str, Any], query: str) -> None:
    predict_fn, predict_trigger = find_dep(config, "add_text")
    run_fn, _ = find_dep(config, "agent_run")
    predicted = rec.post(
        "/run/predict",
        {
            "data": [{"files": [], "text": query}, [], []],
            "event_data": None,
            "fn_index": predict_fn,
            "trigger_id": predict_trigger,
            "session_hash": rec.session_hash,
        },
    )
    chatbot = (
        predicted["data"][1] if predicted and predicted.get("data") else [[ms_message(query), None]]
    )
    rec.post(
        "/queue/join",
        {
            "data": [chatbot, None, 0],
            "event_data": None,
            "fn_index": run_fn,
            "trigger_id": predict_trigger,
            "session_hash": rec.session_hash,
        },
    )
    rec.stream()


def onem_queries(sc: Scenario) -> list[str]:
    if sc.hunt:
        return [sc.query, FOLLOW_UP, "Once more ☕"]
    return [sc.query] if sc.follow_up is None else [sc.query, sc.follow_up]


def stale_first_diff(rec: Recorder) -> bool:
    """Whether the last stream's first process_generating is diffs, not full values."""
    body = rec.turns[-1][-1]["body"]
    first = next(m for m in final_messages(body) if m["msg"] == "process_generating")
    chatbot = first["output"]["data"][0]
    return bool(chatbot) and isinstance(chatbot[0], list) and chatbot[0][:2] == ["replace", []]


def run_onem(sc: Scenario, rec: Recorder) -> list[dict[str, Any]] | None:
    """Each turn's request and expected answer (the exchanges are in ``rec``).

    A hunting scenario returns None unless its last turn shows the stale diff.
    """
    turns: list[dict[str, Any]] = []
    history: list[list[str]] = []
    for t, query in enumerate(onem_queries(sc)):
        if t:
            rec.next_turn()
        config = rec.get_config()  # each turn re-fetches, so it replays on its own
        run_onem_turn(rec, config, query)
        answer = fake_model.expected_answer(query, t, fake_model.ONEM_SYSTEM)
        turns.append(
            {
                "request": {"query": query, "history": [list(p) for p in history], "system": None},
                "expected_answer": answer,
            }
        )
        history.append([query, answer])
        if sc.hunt and t and stale_first_diff(rec):
            return turns
    return None if sc.hunt else turns


def hunt_onem(sc: Scenario, replica: Replica) -> tuple[Recorder, list[dict[str, Any]]]:
    """Run fresh sessions until Gradio 4 streams a stale first diff (about 1 turn in 100)."""
    for i in range(sc.hunt):
        rec = Recorder(replica, session_hash_for(f"{sc.name}-{i}"))
        turns = run_onem(sc, rec)
        if turns is not None:
            return rec, turns
    raise RuntimeError(f"{sc.name}: no stale first diff in {sc.hunt} sessions")


def partial_text(sc: Scenario) -> str:
    """The answer text a failing scenario streams before its gr.Error."""
    if sc.query != "__fail_midway__":
        return ""
    system = sc.system if sc.kind == "max" else fake_model.ONEM_SYSTEM
    answer = fake_model.expected_answer(sc.query, len(sc.history), system or "")
    return "".join(fake_model.tokens(answer)[:5])


def record(sc: Scenario, replica: Replica) -> dict[str, Any]:
    rec = Recorder(replica, session_hash_for(sc.name))
    if sc.hunt:
        rec, turns = hunt_onem(sc, replica)
    elif sc.kind != "onem":
        expected = run_max(sc, rec)
        request = {"query": sc.query, "history": sc.history, "system": sc.system}
        if sc.size is not None:
            request["size"] = sc.size
        turns = [
            {
                "request": request,
                "expected_answer": expected,
            }
        ]
    else:
        turns = run_onem(sc, rec) or []
    transcript: dict[str, Any] = {
        "scenario": sc.name,
        "note": sc.note,
        "gradio_version": replica.version,
        "session_hash": rec.session_hash,
        "request": turns[-1]["request"],
        "expected_answer": turns[-1]["expected_answer"],
    }
    if sc.error:
        transcript["expected_answer"] = None
        transcript["expected_error"] = FAIL_MESSAGE
        transcript["expected_partial_text"] = partial_text(sc)
    if len(turns) == 1:
        transcript["exchanges"] = rec.turns[0]
    else:
        transcript["turns"] = [
            dict(turn, session_hash=rec.session_hash, exchanges=exchanges)
            for turn, exchanges in zip(turns, rec.turns, strict=True)
        ]
    return transcript


def main(names: list[str]) -> int:
    wanted = [sc for sc in SCENARIOS if not names or sc.name in names]
    unknown = set(names) - {sc.name for sc in SCENARIOS}
    if unknown:
        print(f"unknown scenarios: {sorted(unknown)}", file=sys.stderr)
        return 2
    (OUT / "errors").mkdir(parents=True, exist_ok=True)
    replicas: dict[tuple[str, int, bool, bool], Replica] = {}
    try:
        for sc in wanted:
            key = (sc.kind, sc.gradio, sc.shift_ids, sc.footer)
            if key not in replicas:
                replicas[key] = start_replica(
                    sc.kind, sc.gradio, shift_ids=sc.shift_ids, footer=sc.footer
                )
            transcript = record(sc, replicas[key])
            path = (OUT / "errors" if sc.error else OUT) / f"{sc.name}.json"
            path.write_text(
                json.dumps(transcript, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )
            n = sum(
                len(final_messages(x["body"]))
                for x in all_exchanges(transcript)
                if x["path"].endswith("/queue/data")
            )
            print(
                f"{sc.name}: gradio {transcript['gradio_version']}, "
                f"{n} stream messages -> {path.name}"
            )
    finally:
        for replica in replicas.values():
            replica.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
