"""Framework recipes for powerpost-async, each a runnable, tested example (see README.md)."""
