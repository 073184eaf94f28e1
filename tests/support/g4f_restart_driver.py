"""gpt4free conversations paused between turns (for a Space restart); run in a gpt4free venv.

    python g4f_restart_driver.py '{"urls": {KIND: URL}, "conversations": [...]}'

Each conversation is ``{"name", "kind", "entry", "model", "first", "follow",
"kwargs"}``: KIND "onem" or "qwen3" (the provider classes Qwen_Qwen_2_5M and
Qwen_Qwen_3, their ``url`` set to the Space's), ENTRY one of
``g4f_driver.ENTRY_POINTS``' labels that hand a conversation out. Turn one
asks for the conversation (``return_conversation=True``, plus ``kwargs``);
then ``QWEN_SPACES_TURN_ONE {json}`` is printed and the script waits for a
line on stdin (the test restarts the Space meanwhile). Each follow-up passes
back the conversation gpt4free handed out with ONLY the new user message
(the seed's rule), and ``QWEN_SPACES_RESULT {json}`` gives both turns'
observations. It asserts nothing: tests/integration/test_restart_apps.py checks.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from g4f_driver import ENTRY_POINTS, PROVIDERS, call

TURN_ONE = "QWEN_SPACES_TURN_ONE"
RESULT = "QWEN_SPACES_RESULT"


def main() -> None:
    spec = json.loads(sys.argv[1])
    for kind, url in spec["urls"].items():
        PROVIDERS[kind].url = url  # the providers read cls.url at call time
    conversations = spec["conversations"]
    out: dict[str, dict[str, Any]] = {}
    handed: dict[str, Any] = {}
    for conv in conversations:
        entry, provider = ENTRY_POINTS[conv["entry"]], PROVIDERS[conv["kind"]]
        first = [{"role": "user", "content": conv["first"]}]
        obs, handed[conv["name"]] = call(
            entry, provider, conv["model"], first, return_conversation=True, **conv["kwargs"]
        )
        out[conv["name"]] = {"one": obs}
    print(TURN_ONE, json.dumps(out, ensure_ascii=False, default=str), flush=True)
    sys.stdin.readline()  # the test restarts the Space, then writes a line
    for conv in conversations:
        entry, provider = ENTRY_POINTS[conv["entry"]], PROVIDERS[conv["kind"]]
        conversation = handed[conv["name"]]
        if conversation is None:
            out[conv["name"]]["two"] = {"error": "turn one handed no conversation out"}
            continue
        alone = [{"role": "user", "content": conv["follow"]}]
        out[conv["name"]]["two"], _ = call(
            entry, provider, conv["model"], alone, conversation=conversation
        )
    print(RESULT, json.dumps(out, ensure_ascii=False, default=str), flush=True)


if __name__ == "__main__":
    main()
