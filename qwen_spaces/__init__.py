"""qwen_spaces: Qwen's chat models on Hugging Face Spaces, sync and async."""
