#!/usr/bin/env bash
# Answer a file of prompts with `qwen-spaces batch`: concurrent, resumable, one JSON line per answer.
#
#   examples/cli_batch.sh [IN.jsonl] [OUT.jsonl]
#
# IN has one JSON object per line: {"prompt": "..."} or {"messages": [...]} (OpenAI-style),
# with an optional "id" (default: the line number). Answers are appended to OUT as they finish,
# one whole line each: {"id", "text", "model", "timings"}, or {"id", "error", ...} for a line
# that failed. Run it again after a crash or Ctrl-C: ids already answered are skipped.
# QWEN_SPACES_BASE_URL and QWEN_SPACES_MODEL choose the Space and the model.
# The qwen-spaces command is the one on PATH (pip install . in the checkout), else the one
# `make unit` puts in this checkout's .venv/bin (it builds .venv, then runs the fast tests).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if command -v qwen-spaces >/dev/null; then
    qwen_spaces=qwen-spaces
elif [[ -x $here/../.venv/bin/qwen-spaces ]]; then
    qwen_spaces=$here/../.venv/bin/qwen-spaces
else
    echo "qwen-spaces not found: pip install . or make unit in the checkout" >&2
    exit 127
fi

in=${1:-"$here/prompts.jsonl"}
out=${2:-answers.jsonl}
args=(batch "$in" -o "$out" --concurrency 2)
if [[ -n ${QWEN_SPACES_MODEL:-} ]]; then args+=(--model "$QWEN_SPACES_MODEL"); fi
if [[ -n ${QWEN_SPACES_BASE_URL:-} ]]; then args+=(--base-url "$QWEN_SPACES_BASE_URL"); fi

"$qwen_spaces" "${args[@]}"
"$qwen_spaces" "${args[@]}"  # a second run finds every line answered and asks nothing again
echo "$(wc -l <"$out") answers in $out" >&2
