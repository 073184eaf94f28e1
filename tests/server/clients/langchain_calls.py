"""LangChain's ChatOpenAI against a server: ``invoke`` and ``stream``; prints one JSON line.

    python langchain_calls.py '{"base_url": ..., "api_key": ..., "model": ..., "messages": [...]}'
"""

from __future__ import annotations

import json
import sys

from langchain_openai import ChatOpenAI


def main() -> None:
    spec = json.loads(sys.argv[1])
    llm = ChatOpenAI(
        base_url=spec["base_url"], api_key=spec["api_key"], model=spec["model"],
        temperature=0.2, max_retries=0, timeout=60,
    )
    messages = [(m["role"], m["content"]) for m in spec["messages"]]
    invoked = llm.invoke(messages)
    pieces = [chunk.content for chunk in llm.stream(messages)]
    print(json.dumps({
        "invoke": invoked.content,
        "stream": "".join(str(p) for p in pieces),
        "stream_pieces": len(pieces),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
