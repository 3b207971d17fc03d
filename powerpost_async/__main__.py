"""``python -m powerpost_async``: the ``powerpost`` command."""

from powerpost_async.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
