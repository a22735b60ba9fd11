"""'Did you mean' suggestions for mistyped names."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable


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
