"""The sans-I/O core: a chat call and its state (no sockets, files, threads or clocks)."""
