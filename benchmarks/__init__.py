"""Benchmarks of powerpost-async against the bare libraries it stands on.

Run with ``nox -s bench`` or ``python -m benchmarks --help``; see ``README.md`` here.
"""
