"""Argument checks shared by every call: refuse what cannot work before anything is sent.

No I/O. Each check names the argument and what it got, so the error says what to fix.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["check_retries", "check_timeout"]


def check_timeout(value: Any, name: str = "timeout") -> float | None:
    """A timeout in seconds: a positive number, or ``None`` for none.

    ``math.inf`` means no limit too, and is read as ``None`` (an infinite deadline would
    overflow the transports' timers and the clock arithmetic behind every deadline).

    Raises:
        ValueError: Not a positive number (zero, negative, NaN, a bool, a string...).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")
    return None if value == math.inf else float(value)


def check_retries(value: Any) -> int:
    """A number of retries: an integer >= 0.

    Raises:
        ValueError: Anything else (a bool, a float, a negative number...).
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"max_retries must be an integer >= 0, got {value!r}")
    return value
