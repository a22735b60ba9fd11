"""distil's own errors, and how the command line tells them apart:

- `UsageError`: the user's input (a setting, a file, a model name, a store): exit 2 and
  one line naming it. They derive from `ValueError` too, so callers that catch
  `ValueError` keep working.
- Any other `DistilError`: a step that failed for a reason distil names (an export that
  does not match PyTorch): exit 1 and that line.
- Anything else is a bug: exit 1, a line saying so, and the traceback with `--verbose`.
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


class MissingInputError(UsageError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class OutputExistsError(UsageError, FileExistsError):
    """An output that distil will not overwrite (it did not write it, or it is in use)."""


class ExportError(DistilError):
    """A model export that failed or does not match the PyTorch model."""
