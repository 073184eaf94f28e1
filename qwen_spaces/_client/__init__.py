"""The sync and async clients and what only they need."""
