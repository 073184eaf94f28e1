"""Record transcripts of the Qwen3 demo replica (qwen3_app.py on Gradio 5.27), raw ``requests``.

    .venv/bin/python tests/support/replicas/record_qwen3.py [SCENARIO ...]     # default: all

The format is record.py's (``scenario``, ``note``, ``gradio_version``,
``session_hash``, ``request``, ``expected_answer``, ``exchanges`` or
``turns``), with the Qwen3 inputs in ``request`` (``query``, ``model``,
``system``, ``thinking_budget``, ``thinking``) and ``expected_reasoning``
beside ``expected_answer`` (``""`` with thinking off). A scenario whose
thinking is off starts its first turn with the thinking toggle (its own join
and stream, before add_message's). Event ids are rewritten to fixed values,
as in record.py; session hashes are ``sha1(scenario)[:12]``. The error
scenario goes to ``tests/support/transcripts/errors/`` with ``expected_answer: null``,
``expected_error`` (the message inside the HTML part), ``expected_partial_text``
and ``expected_partial_reasoning``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import fake_qwen3
from launcher import Replica, start_replica
from record import (  # the sibling module (this file runs as a script)
    DEADLINE,
    OUT,
    Recorder,
    final_messages,
    find_dep,
    fixed_event_id,
    session_hash_for,
)

GRADIO = 527
QUERY = "Laugh: ha ha — café ☕?"
FOLLOW_UP = "Again, ha!"
CUSTOM_SYSTEM = "Be brief — très."


@dataclass
class Turn:
    query: str
    model: str = fake_qwen3.DEFAULT_MODEL
    system: str = fake_qwen3.DEFAULT_SYSTEM
    budget: int = fake_qwen3.DEFAULT_BUDGET


@dataclass
class Scenario:
    name: str
    turns: list[Turn]
    note: str
    thinking: bool = True  # False: run the toggle once, before the first turn
    shift_ids: bool = False
    named_api: bool = False  # use /gradio_api/call/add_message instead of the queue
    error: bool = False


SCENARIOS = [
    Scenario(
        "qwen3-g527-thinking",
        [Turn(QUERY)],
        "Gradio 5.27 + modelscope_studio 1.6.1: add_message (fn 13, trigger 33) with the "
        "Space's defaults, thinking on: tool part (reasoning) then text part",
    ),
    Scenario(
        "qwen3-g527-no-think",
        [
            Turn(QUERY, "qwen3-32b", CUSTOM_SYSTEM, 4),
            Turn(FOLLOW_UP, "qwen3-32b", CUSTOM_SYSTEM, 4),
        ],
        "toggle_thinking (fn 3, trigger 61, data [null]) in the session first, then two turns: "
        "no tool part in either (the session's thinking state stays off); model qwen3-32b, "
        "budget 4, custom system prompt",
        thinking=False,
    ),
    Scenario(
        "qwen3-g527-followup",
        [Turn(QUERY, "qwen3-0.6b", budget=2), Turn(FOLLOW_UP, "qwen3-0.6b", budget=2)],
        "two turns in one session, thinking on; the second sends only the new message and the "
        "chatbot value holds all four turns",
    ),
    Scenario(
        "qwen3-g527-shifted",
        [Turn(QUERY)],
        "extra components and one extra event first: add_message is fn 14, trigger 40, "
        "inputs [40, 45, 67, 8], outputs [40, 63, 29, 22, 27, 36, 8]; toggle_thinking fn 4, "
        "trigger 68, state 67",
        shift_ids=True,
    ),
    Scenario(
        "qwen3-g527-named-api",
        [Turn(QUERY, "qwen3-8b", budget=8)],
        "the named route: POST /gradio_api/call/add_message {data} -> {event_id}, then "
        "GET /gradio_api/call/add_message/{event_id} (SSE event: generating|complete, full "
        "snapshots of the seven outputs)",
        named_api=True,
    ),
    Scenario(
        "qwen3-g527-error",
        [Turn(f"Fail please {fake_qwen3.ERROR_MARKER}")],
        "the upstream fails after the reasoning and 5 answer chunks: a red <span> text part is "
        "appended, the turn marked done, one more (postprocess) message, then process_completed "
        'success=false with {"error": null} (show_error=False, as the Space\'s launch())',
        error=True,
    ),
    Scenario(
        "qwen3-g527-error-no-think",
        [Turn(f"Fail please {fake_qwen3.ERROR_MARKER}", "qwen3-4b", CUSTOM_SYSTEM, 1)],
        "after the toggle: no tool part; 5 answer chunks, then the red <span> as text part 1",
        thinking=False,
        error=True,
    ),
    Scenario(
        "qwen3-g527-error-early",
        [Turn(f"Fail at once {fake_qwen3.ERROR_EARLY_MARKER}")],
        "the upstream fails before its first chunk: the turn's only part is the red <span> "
        "(text part 0), nothing partial",
        error=True,
    ),
]


class Qwen3Recorder(Recorder):
    """record.Recorder, also rewriting the named route's event ids and recording its stream."""

    def post(self, path: str, body: dict[str, Any]) -> Any:
        if "/call/" not in path:
            return super().post(path, body)
        resp = self.http.post(self.base + self.prefix + path, json=body, timeout=10)
        data = resp.json()
        if isinstance(data, dict) and "event_id" in data:
            self.event_ids.setdefault(data["event_id"], fixed_event_id(len(self.event_ids) + 1))
        self._log("POST", self.prefix + path, {}, body, resp, resp.text)
        resp.raise_for_status()
        return data

    def call_stream(self, path: str) -> str:
        raw = bytearray()
        started = time.monotonic()
        with self.http.get(self.base + self.prefix + path, stream=True, timeout=(10, 30)) as resp:
            for chunk in resp.iter_content(chunk_size=None):
                raw.extend(chunk)
                if time.monotonic() - started > DEADLINE:
                    raise TimeoutError("the call stream did not end in time")
            text = raw.decode("utf-8")
            self._log("GET", self.prefix + self._rewrite(path), {}, None, resp, text)
        return text


def settings(turn: Turn) -> dict[str, Any]:
    return {"model": turn.model, "sys_prompt": turn.system, "thinking_budget": turn.budget}


def join(rec: Recorder, config: dict[str, Any], api_name: str, data: list[Any]) -> None:
    fn_index, trigger = find_dep(config, api_name)
    body = {
        "data": data,
        "event_data": None,
        "fn_index": fn_index,
        "trigger_id": trigger,
        "session_hash": rec.session_hash,
    }
    rec.post("/queue/join", body)
    rec.stream()


def record(sc: Scenario, replica: Replica) -> dict[str, Any]:
    rec = Qwen3Recorder(replica, session_hash_for(sc.name))
    turns: list[dict[str, Any]] = []
    for t, turn in enumerate(sc.turns):
        if t:
            rec.next_turn()
        config = rec.get_config()
        if t == 0 and not sc.thinking:
            join(rec, config, "toggle_thinking", [None])
        data = [turn.query, settings(turn), None, None]
        if sc.named_api:
            event_id = rec.post("/call/add_message", {"data": data})["event_id"]
            rec.call_stream(f"/call/add_message/{event_id}")
        else:
            join(rec, config, "add_message", data)
        args = (turn.query, turn.model, turn.budget)
        unseen = fake_qwen3.NO_SYSTEM  # the form's system prompt never reaches the model
        reasoning = (
            fake_qwen3.expected_reasoning(turn.query, turn.model, turn.budget, unseen, t)
            if sc.thinking
            else ""
        )
        answer = fake_qwen3.expected_answer(*args, sc.thinking, unseen, t)
        turns.append(
            {
                "request": {
                    "query": turn.query,
                    "model": turn.model,
                    "system": turn.system,
                    "thinking_budget": turn.budget,
                    "thinking": sc.thinking,
                },
                "expected_reasoning": reasoning,
                "expected_answer": answer,
            }
        )
    transcript: dict[str, Any] = {
        "scenario": sc.name,
        "note": sc.note,
        "gradio_version": replica.version,
        "session_hash": rec.session_hash,
        **turns[-1],
    }
    if sc.error:
        turn = sc.turns[-1]
        partial_reasoning, partial_text = fake_qwen3.partial_error_texts(
            turn.query,
            turn.model,
            turn.budget,
            sc.thinking,
            fake_qwen3.NO_SYSTEM,
            len(sc.turns) - 1,
        )
        transcript.update(
            expected_answer=None,
            expected_error=fake_qwen3.ERROR_MESSAGE,
            expected_partial_text=partial_text,
            expected_partial_reasoning=partial_reasoning,
        )
    if len(turns) == 1:
        transcript["exchanges"] = rec.turns[0]
    else:
        transcript["turns"] = [
            dict(turn, session_hash=rec.session_hash, exchanges=exchanges)
            for turn, exchanges in zip(turns, rec.turns, strict=True)
        ]
    return transcript


def count_messages(transcript: dict[str, Any]) -> int:
    turns = transcript.get("turns") or [transcript]
    return sum(
        len(final_messages(x["body"]))
        for turn in turns
        for x in turn["exchanges"]
        if x["method"] == "GET" and x["path"] != "/config"
    )


def main(names: list[str]) -> int:
    wanted = [sc for sc in SCENARIOS if not names or sc.name in names]
    unknown = set(names) - {sc.name for sc in SCENARIOS}
    if unknown:
        print(f"unknown scenarios: {sorted(unknown)}", file=sys.stderr)
        return 2
    (OUT / "errors").mkdir(parents=True, exist_ok=True)
    replicas: dict[bool, Replica] = {}
    try:
        for sc in wanted:
            if sc.shift_ids not in replicas:
                replicas[sc.shift_ids] = start_replica("qwen3", GRADIO, shift_ids=sc.shift_ids)
            transcript = record(sc, replicas[sc.shift_ids])
            path = (OUT / "errors" if sc.error else OUT) / f"{sc.name}.json"
            path.write_text(
                json.dumps(transcript, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )
            print(
                f"{sc.name}: gradio {transcript['gradio_version']}, "
                f"{count_messages(transcript)} stream messages -> {path.name}"
            )
    finally:
        for replica in replicas.values():
            replica.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
