"""Serve a replica Space on 127.0.0.1.

    python serve.py max|onem|qwen3|qwen2|qwen25 --port P [--shift-ids] [--footer] [--mount-path /chat]

Run it with the Python of the right Gradio venv (see launcher.py). The app is
mounted on a FastAPI app and served by uvicorn, because ``demo.launch()``
refuses to start in a sandbox where it thinks localhost is unreachable.
``--mount-path /chat`` mounts it under that path instead of at the root, as
``gr.mount_gradio_app(app, demo, path="/chat")`` does in a larger FastAPI app:
the root then answers 404 for everything (no Gradio app there).
"""

from __future__ import annotations

import argparse
import os
import sys

# No telemetry and no hub calls from a test server.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_SSR_MODE", "False")

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["max", "onem", "qwen3", "qwen2", "qwen25"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--shift-ids", action="store_true", help="max, qwen3: extra components first"
    )
    parser.add_argument("--footer", action="store_true", help="onem: a changing <summary> footer")
    parser.add_argument("--mount-path", default="", help="mount the app under this path")
    args = parser.parse_args(argv)

    import gradio as gr
    import uvicorn
    from fastapi import FastAPI

    show_error = True
    if args.kind == "max":
        import max_app

        demo = max_app.build(shift_ids=args.shift_ids)
    elif args.kind == "qwen2":  # the usual demo layout, as the Qwen2-72B-Instruct Space
        import max_app

        demo = max_app.build(shift_ids=args.shift_ids, title=max_app.QWEN2_TITLE)
    elif args.kind == "qwen25":
        import qwen25_app

        demo = qwen25_app.build()
    elif args.kind == "qwen3":
        import qwen3_app

        demo = qwen3_app.build(shift_ids=args.shift_ids)
        show_error = False  # as the Space's launch(): failed events say {"error": null}
    else:
        import onem_app

        demo = onem_app.build(footer=args.footer)

    base = FastAPI()
    if args.kind == "qwen3":  # what reached the fake model, whole, for the tests to read

        @base.get("/replica/upstream")
        def upstream() -> list[dict[str, object]]:
            return qwen3_app.UPSTREAM_CALLS

    app = gr.mount_gradio_app(base, demo, path=args.mount_path, show_error=show_error)
    print(
        f"replica {args.kind} on gradio {gr.__version__} at "
        f"http://127.0.0.1:{args.port}{args.mount_path}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
