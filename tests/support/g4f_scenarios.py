"""What the gpt4free driver sends and which entry points it drives (stdlib only).

Shared by ``g4f_driver.py`` (run in .venvs/g4f and .venvs/g4f-new) and
``test_g4f.py`` (run in the dev venv, which computes the expected answers
from the same inputs).
"""

from __future__ import annotations

QUERY = "Laugh: ha ha — café ☕?"
SYSTEM = "Be brief — très."
HISTORY = [
    ("First question ☕", "First answer"),
    ("Second — question", "Second answer ha ha"),
    ("Third question", "Third answer ✓"),
]
#: The first turn of a conversation and its follow-up.
FOLLOW_UP = ("Start a story ☕", "And then? ha ha")
#: A third turn sent alone (the seed's rule: with a conversation, only the
#: new user message is sent).
ALONE = "The end — alone?"
#: A conversation over a Space restart (on the testing kit's FakeSpace, which
#: restarts on demand): turn one, restart, then the new message alone.
RESTART = ("Before the restart ☕", "After it?")
#: Two chats that begin alike: gpt4free 8.x's conversation cache hands the second
#: the first one's conversation (the providers must notice and start afresh).
CACHE_CHATS = ("Same start ☕", "A asks on", "B asks on")
#: The Qwen3 thinking-off conversation: three turns, thinking off from the first,
#: with a budget of 4 units (gpt4free's unit: 1024 tokens).
NO_THINK = ("Quiet, please ☕", "Still quiet?", "And now?")
NO_THINK_BUDGET = 4

#: Every name each provider answers to (the driver rotates them over the entry points).
NAMES = {
    "max": ["qwen-2-5-max", "qwen-2.5-max", "qwen-qwen2-5-max"],
    "onem": ["qwen-2.5-1m", "qwen-2.5-1m-demo"],
    "qwen3": [
        "qwen-3-235b",
        "qwen-3-32b",
        "qwen-3-30b-a3b",
        "qwen-3-14b",
        "qwen-3-8b",
        "qwen-3-4b",
        "qwen-3-1.7b",
        "qwen-3-0.6b",
        "qwen-3-30b",
        "qwen3-32b",
    ],
    "qwen2": ["qwen-2-72b", "qwen-qwen2-72b-instruct"],
    "qwen25": ["qwen-2.5", "qwen-qwen2-5"],
}
#: The Qwen3 Space's own id of each name (what its settings form must receive).
QWEN3_IDS = {
    "qwen-3-235b": "qwen3-235b-a22b",
    "qwen-3-32b": "qwen3-32b",
    "qwen-3-30b-a3b": "qwen3-30b-a3b",
    "qwen-3-14b": "qwen3-14b",
    "qwen-3-8b": "qwen3-8b",
    "qwen-3-4b": "qwen3-4b",
    "qwen-3-1.7b": "qwen3-1.7b",
    "qwen-3-0.6b": "qwen3-0.6b",
    "qwen-3-30b": "qwen3-30b-a3b",
    "qwen3-32b": "qwen3-32b",
}
#: kind -> the provider class's name.
CLASSES = {
    "max": "Qwen_Qwen_2_5_Max",
    "onem": "Qwen_Qwen_2_5M",
    "qwen3": "Qwen_Qwen_3",
    "qwen2": "Qwen_Qwen_2_72B",
    "qwen25": "Qwen_Qwen_2_5",
}

#: gpt4free's entry points, as the rows of the results table.
ENTRY_POINTS = [
    "Client.create",
    "Client.create(stream=True)",
    "AsyncClient.create",
    "AsyncClient.create(stream=True)",
    "ChatCompletion.create",
    "ChatCompletion.create(stream=True)",
    "ChatCompletion.create_async",
    "ChatCompletion.create_async(stream=True)",
    "IterListProvider + Client.create",
    "IterListProvider + AsyncClient.create(stream=True)",
]


def first_query(entry: str) -> str:
    """The first turn of ``entry``'s conversation: its own, so chats never begin alike."""
    return f"{FOLLOW_UP[0]} #{ENTRY_POINTS.index(entry)}"
