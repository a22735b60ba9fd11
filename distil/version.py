"""distil's version: the release (bumped with each release section of CHANGELOG.md), and
the git commit when distil runs from a checkout, so that it changes with the code."""

from __future__ import annotations

import functools
from pathlib import Path

RELEASE = "0.2.0"


@functools.cache
def version() -> str:
    """`0.2.0`, or `0.2.0+g066591d` in a git checkout (read from `.git`, no git process).

    >>> version().startswith(RELEASE)
    True
    """
    commit = _checkout_commit(Path(__file__).resolve().parents[1] / ".git")
    return f"{RELEASE}+g{commit[:7]}" if commit else RELEASE


def _checkout_commit(git: Path) -> str | None:
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None  # a detached HEAD names its commit
        ref = head[5:]
        loose = git / ref
        if loose.is_file():
            return loose.read_text().strip() or None
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(f" {ref}"):
                return line.split()[0]
    except OSError:
        return None
    return None


def issues_url() -> str:
    """Where bugs are reported: the package's `Issues` project URL, else its maintainers."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("distil").get_all("Project-URL") or []
    except PackageNotFoundError:
        urls = []
    for entry in urls:
        name, _, url = entry.partition(",")
        if name.strip().lower() in ("issues", "bug tracker", "bugs"):
            return url.strip()
    return "the distil issue tracker"
