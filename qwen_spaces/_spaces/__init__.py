"""The registry of Qwen Spaces and one adapter per page layout."""
