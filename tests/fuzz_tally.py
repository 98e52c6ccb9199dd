"""What the long-running property tests did, counted as they run, for the short summary that
``tests/conftest.py`` prints at the end of a session (``make fuzz``): examples and steps of the
model, the rules it exercised and how they ended, the fields and requests the fuzzers sent."""

from __future__ import annotations

from collections import Counter

TALLY: Counter[str] = Counter()


def count(what: str, n: int = 1) -> None:
    """Adds ``n`` to one line of the summary."""
    TALLY[what] += n
