"""Pages Hugging Face serves for a Space that is not running, shaped like the real ones.

Its Space page embeds the Space's data (runtime stage included) as HTML-escaped
JSON in a ``data-props`` attribute, and says the state in words; pages without
the data carry the words alone. Test data for the not-running classifier.
"""

from __future__ import annotations

from html import escape
from typing import Optional

__all__ = ["PAGES", "WORDS", "page"]

# What each state's page says, as Hugging Face words it.
WORDS = {
    "sleeping": (
        "This Space is sleeping due to inactivity.",
        "Restart this Space",
    ),
    "building": (
        "Building",
        "This Space is building. It will be available once the build completes.",
    ),
    "paused": (
        "This Space has been paused by its owner.",
        "Want to use this Space? Head to the community tab to ask the author(s) to restart it.",
    ),
    "runtime_error": (
        "Runtime error",
        "Exit code: 1. Reason: Traceback (most recent call last): ... CUDA out of memory",
    ),
}
STAGES = {
    "sleeping": "SLEEPING",
    "building": "BUILDING",
    "paused": "PAUSED",
    "runtime_error": "RUNTIME_ERROR",
}


def page(state: str, *, stage: Optional[str] = "auto", words: bool = True) -> str:
    """An HTML page for ``state``; ``stage`` is the embedded runtime stage (None: no data)."""
    if stage == "auto":
        stage = STAGES[state]
    props = ""
    if stage is not None:
        data = (
            '{"space":{"author":"Qwen","id":"Qwen/Qwen2.5-Max-Demo","sdk":"gradio",'
            f'"runtime":{{"stage":"{stage}","hardware":{{"current":null,"requested":"cpu-basic"}}}}}}}}'
        )
        props = f' data-target="SpacePageInner" data-props="{escape(data)}"'
    heading, detail = WORDS[state] if words else ("", "")
    return (
        '<!DOCTYPE html>\n<html class="">\n<head>\n<meta charset="utf-8" />\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0" />\n'
        "<title>Qwen2.5 Max Demo - a Hugging Face Space by Qwen</title>\n"
        '<script>window.hubConfig = {"features":{"signupDisabled":false}};</script>\n'
        "<style>.SpacePage{min-height:100vh}</style>\n</head>\n"
        '<body class="flex flex-col min-h-dvh bg-white dark:bg-gray-950 text-black SpacePage">\n'
        f'<div class="SVELTE_HYDRATER contents"{props}>\n'
        '<main class="flex flex-1 flex-col"><div class="container">\n'
        f'<h2 class="mb-2 text-lg font-semibold">{escape(heading)}</h2>\n'
        f'<p class="text-gray-500">{escape(detail)}</p>\n'
        '<form action="/spaces/Qwen/Qwen2.5-Max-Demo/start" method="POST">'
        '<button class="btn-lg" type="submit">Restart this Space</button></form>\n'
        "</div></main></div>\n</body>\n</html>\n"
    )


PAGES = {state: page(state) for state in WORDS}
