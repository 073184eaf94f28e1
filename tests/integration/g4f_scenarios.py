"""What the gpt4free driver sends and which entry points it drives (stdlib only).

Shared by ``g4f_driver.py`` (run in .venvs/g4f) and ``test_g4f.py`` (run in
the dev venv, which computes the expected answers from the same inputs).
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

#: Every name each provider answers to (the driver rotates them over the entry points).
NAMES = {
    "max": ["qwen-2-5-max", "qwen-2.5-max", "qwen-qwen2-5-max"],
    "onem": ["qwen-2.5-1m", "qwen-2.5-1m-demo"],
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
