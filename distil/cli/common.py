"""Shared CLI plumbing: logging, errors -> one line + exit code, JSON output, run dirs."""

from __future__ import annotations

import errno
import functools
import json
import logging
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from distil.errors import DistilError, UsageError

# soft_wrap: lines are never broken by rich, so a long path is never split mid-name (the
# terminal wraps it, and a log keeps it whole).
console = Console(stderr=True, soft_wrap=True)

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_QUALITY = 3  # --fail-under: the model or the labels miss a quality bar
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it
EXIT_TERMINATED = 143  # SIGTERM (128 + 15): a CI job cancelled, a pod evicted


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that it stops like on Ctrl-C: the batch in
    flight is dropped, everything stored stays, temporary files are removed."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


F = TypeVar("F", bound=Callable[..., Any])


class ConsoleHandler(logging.Handler):
    """Log records as `warning: message` lines on the console: printed as written (no
    markup), never wrapped mid-path, and above any progress bar."""

    STYLES = {logging.DEBUG: "dim", logging.WARNING: "yellow", logging.ERROR: "red"}

    def emit(self, record: logging.LogRecord) -> None:
        from rich.text import Text

        try:
            message = self.format(record)
        except Exception:  # noqa: BLE001 - logging's own contract
            self.handleError(record)
            return
        prefix = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        style = self.STYLES.get(min(record.levelno, logging.ERROR), "")
        console.print(Text(prefix + message, style=style), highlight=False)


def setup_logging(quiet: bool, verbose: bool | None = None) -> None:
    """distil's log level: errors only (`quiet`), debug (`verbose`, by default when
    debugging: `--verbose`, DISTIL_DEBUG=1), else info."""
    verbose = debugging() if verbose is None else verbose
    level = logging.ERROR if quiet else (logging.DEBUG if verbose else logging.INFO)
    handler = ConsoleHandler()
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(message)s", force=True)
    logging.getLogger("distil").setLevel(level)
    # Third-party libraries speak only when something is wrong.
    for name in ("transformers", "ultralytics", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)


def escape(value: object) -> str:
    """Text printed through rich as written: `[train]` in a path is not markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(str(value))


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def handle_errors(command: F) -> F:
    """Turn exceptions into one clear line on stderr and a meaningful exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except Terminated:
            raise fail("terminated; rerun the same command to resume", EXIT_TERMINATED) from None
        except KeyboardInterrupt:
            raise fail("interrupted; rerun the same command to resume", EXIT_INTERRUPTED) from None
        except UsageError as e:  # bad input (the OS's file errors: `file_system_problem`)
            show_traceback()
            raise fail(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
        except DistilError as e:  # a step failed for a reason distil names
            show_traceback()
            raise fail(str(e).splitlines()[0] or type(e).__name__, EXIT_FAILURE) from None
        except sqlite3.Error as e:  # the store turns its own errors into StoreErrors
            raise fail(f"database error: {e}") from None
        except OSError as e:
            message = file_system_problem(e)
            show_traceback()
            if message is None:  # the machine or the network, not distil's code
                raise fail(f"{exception_name(e)}: {e}", EXIT_FAILURE) from None
            raise fail(message) from None
        except MemoryError:
            raise fail(
                "out of memory: an input (image, video or config) is too large for this "
                "machine, or the batch is; try a smaller --batch-size"
            ) from None
        except RecursionError:
            raise fail("an input is nested too deeply to read") from None
        except Exception as e:  # noqa: BLE001 - the CLI's last line of defence
            raise bug(e) from None

    return wrapper  # type: ignore[return-value]


DEBUG_VARIABLE = "DISTIL_DEBUG"


def debugging() -> bool:
    """Whether tracebacks are shown: `distil --verbose ...` or DISTIL_DEBUG=1."""
    import os

    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def show_traceback() -> None:
    """Print the exception being handled, with its traceback, when debugging."""
    if debugging():
        console.print_exception(show_locals=False)


def bug(error: BaseException) -> typer.Exit:
    """An error distil did not expect: exit 1 with a line saying it is a bug, where to
    report it and how to see the traceback (shown at once when debugging)."""
    from distil.version import issues_url, version

    show_traceback()
    console.print(
        f"[bold red]error:[/] {escape(exception_name(error))}: "
        f"{escape(str(error).splitlines()[0] if str(error) else '')}",
        highlight=False,
    )
    shown = "" if debugging() else "; rerun with DISTIL_DEBUG=1 (or distil --verbose) to see it"
    console.print(
        f"this is a bug in distil {escape(version())}, not in your input: please report it "
        f"at {escape(issues_url())} with the traceback{shown}",
        highlight=False,
        style="dim",
    )
    return typer.Exit(EXIT_FAILURE)


# The machine's state, not a bug: said in one line naming the file, exit 2.
_FILE_SYSTEM = {
    errno.ENOENT: "no such file or folder",
    errno.EEXIST: "already exists",
    errno.ENOSPC: "the disk is full; free some space and rerun (what was there before is intact)",
    errno.EDQUOT: "the disk quota is used up; free some space and rerun",
    errno.EACCES: "permission denied (a read-only folder, or another user's?)",
    errno.EPERM: "operation not permitted (a read-only folder, or another user's?)",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.EISDIR: "is a folder, where a file was expected",
    errno.ENAMETOOLONG: "the name is too long for the file system",
}


def file_system_problem(error: OSError) -> str | None:
    """One line for an OSError that the machine causes (full disk, permissions, a file
    where a folder goes), naming the file; None for any other."""
    what = _FILE_SYSTEM.get(error.errno or -1)
    if what is None:
        return None
    where = error.filename if error.filename is not None else ""
    return f"{where}: {what}" if where else what


def exception_name(error: BaseException) -> str:
    """`TypeError`, or `cv2.error` for a library's class named `error` (never `error: error`)."""
    kind = type(error)
    if kind.__module__ in ("builtins", "__main__") or kind.__name__[:1].isupper():
        return kind.__name__
    return f"{kind.__module__.split('.')[0]}.{kind.__name__}"


def print_table(
    title: str,
    headers: list[str],
    rows: list[list[str]],
    bold_last: bool = False,
) -> None:
    """A table that fits the terminal without cutting a value: when its columns do not fit
    side by side, it is printed as several tables, each repeating the first column (the
    row's name). Cells are printed as given (escape markup first); numbers right-aligned."""
    from rich.table import Table

    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    room = max(console.width, 40)
    groups: list[list[int]] = [[]]
    used = 1 + widths[0] + 3
    for i in range(1, len(headers)):
        if groups[-1] and used + widths[i] + 3 > room:
            groups.append([])
            used = 1 + widths[0] + 3
        groups[-1].append(i)
        used += widths[i] + 3
    for number, group in enumerate(groups):
        part = title if len(groups) == 1 else f"{title} ({number + 1}/{len(groups)})"
        table = Table(title=part)
        for i in (0, *group):
            table.add_column(
                headers[i], justify="left" if i == 0 else "right", no_wrap=i != 0,
                overflow="fold", min_width=min(widths[i], room // 2),
            )  # fmt: skip
        for index, row in enumerate(rows):
            last = bold_last and index == len(rows) - 1
            table.add_row(*(row[i] for i in (0, *group)), style="bold" if last else None)
        console.print(table)


def wrapped(text: str, indent: int) -> str:
    """`text` wrapped to the terminal's width, every line indented by `indent` spaces."""
    import textwrap

    width = max(console.width - indent, 20)
    pad = " " * indent
    return "\n".join(pad + line for line in textwrap.wrap(text, width, break_long_words=False))


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 video`, `2 videos` (`nouns`: the plural, when it is not `noun` + s).

    >>> plural(1, "video"), plural(0, "frame"), plural(3, "class", "classes")
    ('1 video', '0 frames', '3 classes')
    """
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


SHOWN_CLASSES = 12  # classes named in a one-line count; --json has them all


def class_counts(counts: dict[str, int], added: dict[str, int] | None = None) -> str:
    """Labels per class on one line: all classes in ontology order for a small ontology,
    else the most frequent ones; `(+n)` where this run added only part of a class.

    >>> class_counts({"car": 3, "person": 5}, {"car": 1, "person": 5})
    'car 3 (+1), person 5'
    """
    named = [(name, n) for name, n in counts.items() if n]
    if not named:
        return "none"
    if len(named) > SHOWN_CLASSES:
        named = sorted(named, key=lambda item: -item[1])[:SHOWN_CLASSES]
    text = ", ".join(
        f"{name} {n}" + (f" (+{added[name]})" if added and 0 < added.get(name, 0) < n else "")
        for name, n in named
    )
    more = sum(1 for n in counts.values() if n) - len(named)
    return text + (f" and {more} more classes" if more else "")


def empty_classes(counts: dict[str, int]) -> str | None:
    """The classes without a single label, for a warning: usually a prompt the detector
    does not understand or a threshold set too high."""
    empty = [name for name, n in counts.items() if not n]
    if not empty:
        return None
    shown = ", ".join(empty[:SHOWN_CLASSES]) + (" ..." if len(empty) > SHOWN_CLASSES else "")
    return f"{len(empty)} of {len(counts)} classes have no labels: {shown}"
