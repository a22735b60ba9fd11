"""distil's own errors. `UsageError` is the user's input (exit 2, one line naming the
field); every other `DistilError` is ours.

They derive from `ValueError` too, so callers that catch `ValueError` keep working.
"""

from __future__ import annotations


class DistilError(Exception):
    """Any error distil raises on purpose."""


class UsageError(DistilError, ValueError):
    """Bad input: a setting, a file, a model name, a store; the message names it."""


class CheckpointError(UsageError):
    """Model weights distil will not load: not a checkpoint, or one carrying code."""


class LinkRefusedError(UsageError):
    """A symbolic link where distil writes inside its output folder: writing through it
    would reach a file outside the folder, so distil refuses."""
