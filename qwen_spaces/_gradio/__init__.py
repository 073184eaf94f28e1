"""Gradio's wire: queue messages, diffs and answer tracking, SSE, payloads, config."""
