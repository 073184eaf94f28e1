"""Stream one answer to stdout as it arrives; queue position on stderr.

    python examples/sync_stream.py "What is 2+2?"

QWEN_SPACES_BASE_URL points it at another Space (a duplicate, a local
replica); QWEN_SPACES_MODEL picks the model (default qwen-2.5-max).
"""

from __future__ import annotations

import os
import sys

import qwen_spaces as qs


def main(prompt: str) -> int:
    client = qs.Client(
        model=os.environ.get("QWEN_SPACES_MODEL", "qwen-2.5-max"),
        base_url=os.environ.get("QWEN_SPACES_BASE_URL"),  # None: the model's own Space
    )
    try:
        with client, client.stream(prompt) as stream:
            for event in stream:
                match event:
                    case qs.QueueStatus(rank=rank, started=False) if rank:
                        print(f"[{rank} ahead in the queue]", file=sys.stderr)
                    case qs.TextDelta(text=text):
                        print(text, end="", flush=True)
    except qs.QwenSpacesError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(" ".join(sys.argv[1:]) or "What is 2+2?"))
