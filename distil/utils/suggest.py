"""'Did you mean' suggestions for mistyped names."""

from __future__ import annotations

import difflib
import re
import reprlib
from collections.abc import Iterable
from typing import Any

_SHORT = reprlib.Repr()  # builds at most this much of a repr, however large the value
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 60, 60
_SHORT.maxdict = _SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxset = 6


def excerpt(value: Any, limit: int = 80) -> str:
    """A short `repr` of `value` for a message, however large the value (the repr is built
    with limits, never whole).

    >>> excerpt(list(range(1000)))
    '[0, 1, 2, 3, 4, 5, ...]'
    """
    text = repr(value) if isinstance(value, str) and len(value) <= limit else _SHORT.repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest choice, or an empty string.

    >>> did_you_mean("box_treshold", ["box_threshold", "prompts"])
    " Did you mean 'box_threshold'?"
    """
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{match[0]}'?" if match else ""


def normalize_name(name: str) -> str:
    """Class names compared loosely: case, '_', '-' and repeated spaces ignored.

    >>> normalize_name("Traffic_Light")
    'traffic light'
    """
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())
