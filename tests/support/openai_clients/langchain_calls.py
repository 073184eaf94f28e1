"""LangChain chat models against a server: ``invoke`` and ``stream``; prints one JSON line.

    python langchain_calls.py '{"base_url": ..., "api_key": ..., "model": ..., "messages": [...]}'

Optional keys: ``"chat": "qwen"`` uses langchain-qwq's ``ChatQwen`` (Qwen's own
LangChain model: it sends ``enable_thinking``/``thinking_budget`` and reads
``reasoning_content``) instead of ``ChatOpenAI``; ``"options"`` go to the
model's constructor (``reasoning_effort``, ``enable_thinking``, ...);
``"followup"``: after the first answer, invoke again with the history, the
answer and this new user message.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def model_of(spec: dict[str, Any]) -> Any:
    options = spec.get("options", {})
    if spec.get("chat") == "qwen":
        from langchain_qwq import ChatQwen

        return ChatQwen(
            api_base=spec["base_url"],
            api_key=spec["api_key"],
            model=spec["model"],
            max_retries=0,
            timeout=60,
            **options,
        )
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=spec["base_url"],
        api_key=spec["api_key"],
        model=spec["model"],
        temperature=0.2,
        max_retries=0,
        timeout=60,
        **options,
    )


def reasoning_of(message: Any) -> str:
    return str(message.additional_kwargs.get("reasoning_content") or "")


def main() -> None:
    spec = json.loads(sys.argv[1])
    llm = model_of(spec)
    messages = [(m["role"], m["content"]) for m in spec["messages"]]
    invoked = llm.invoke(messages)
    pieces = list(llm.stream(messages))
    out = {
        "invoke": invoked.content,
        "invoke_reasoning": reasoning_of(invoked),
        "stream": "".join(str(p.content) for p in pieces),
        "stream_reasoning": "".join(reasoning_of(p) for p in pieces),
        "stream_pieces": sum(1 for p in pieces if p.content),
    }
    if spec.get("followup"):
        history = [*messages, ("assistant", invoked.content), ("user", spec["followup"])]
        again = llm.invoke(history)
        out.update(followup=again.content, followup_reasoning=reasoning_of(again))
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
