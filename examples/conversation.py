"""A multi-turn conversation: each answer streamed, the history kept for the next turn.

    python examples/conversation.py

QWEN_SPACES_BASE_URL and QWEN_SPACES_MODEL choose the Space and the model.
"""

from __future__ import annotations

import os
import sys

import qwen_spaces as qs

TURNS = [
    "My name is Ada. Please remember it.",
    "What is my name?",
    "Spell it backwards.",
]


def main() -> int:
    with qs.Client(
        model=os.environ.get("QWEN_SPACES_MODEL", "qwen-2.5-max"),
        base_url=os.environ.get("QWEN_SPACES_BASE_URL"),
    ) as client:
        conversation = client.conversation(system="Be brief.")
        for text in TURNS:
            print(f"> {text}")
            try:
                # The turn is added to the conversation once its stream completes.
                for piece in conversation.stream(text).text_stream:
                    print(piece, end="", flush=True)
            except qs.QwenSpacesError as error:
                print(f"\nerror: {error}", file=sys.stderr)
                return 1
            print("\n")
    # conversation.messages is the history, OpenAI-style: save it as JSON and
    # continue later with client.conversation(messages=saved).
    print(f"[{len(conversation.messages)} messages in the history]", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
