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
set -euo pipefail

in=${1:-"$(dirname "$0")/prompts.jsonl"}
out=${2:-answers.jsonl}
args=(batch "$in" -o "$out" --concurrency 2)
if [[ -n ${QWEN_SPACES_MODEL:-} ]]; then args+=(--model "$QWEN_SPACES_MODEL"); fi
if [[ -n ${QWEN_SPACES_BASE_URL:-} ]]; then args+=(--base-url "$QWEN_SPACES_BASE_URL"); fi

qwen-spaces "${args[@]}"
qwen-spaces "${args[@]}"  # a second run finds every line answered and asks nothing again
echo "$(wc -l <"$out") answers in $out" >&2
