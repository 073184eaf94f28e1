"""The transport contract, and its drivers over requests and aiohttp."""
