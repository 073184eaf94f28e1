"""The qwen_spaces benchmark suite: ``python -m benchmarks.run`` (see README.md)."""
