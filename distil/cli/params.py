"""CLI options made from `distil.settings`: one flag per field, with its default, range and help.

>>> @takes(LabelSettings)  # doctest: +SKIP
... def label(inputs: list[Path], settings: LabelSettings) -> None: ...

`label` then has `--batch-size`, `--device`, ... and receives them as one validated
`LabelSettings`; a bad value is exit 2 with a line naming the flag.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union

import annotated_types
import typer
from pydantic.fields import FieldInfo

from distil.settings import Section

F = TypeVar("F", bound=Callable[..., Any])

JsonFlag = Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")]
QuietFlag = Annotated[bool, typer.Option("--quiet", "-q", help="No progress; errors only.")]

_SCALARS = (bool, int, float, str, Path)
# What help shows after an option name; enums show their choices, flags nothing.
_METAVARS = {int: "<int>", float: "<float>", str: "<text>", Path: "<path>"}


def _cli_type(annotation: Any) -> tuple[Any, bool]:
    """(type typer parses, whether None is allowed). Lists and tuples come in as text and
    are parsed by the settings model."""
    optional = False
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0] if len(args) == 1 else str
    if typing.get_origin(annotation) is Annotated:  # Fraction | None -> float
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and (issubclass(annotation, Enum) or annotation in _SCALARS):
        return annotation, optional
    return str, True


def _cli_default(field: FieldInfo) -> Any:
    value = field.get_default(call_default_factory=True)
    if isinstance(value, (list, tuple)):
        return ",".join(str(v.value if isinstance(v, Enum) else v) for v in value)
    return value


def _bounds(field: FieldInfo) -> dict[str, Any]:
    """The field's closed range, for click to show (`[x>=1]`) and check; open bounds are
    left to the settings model, which names the flag too."""
    bounds: dict[str, Any] = {}
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            bounds["min"] = item.ge
        elif isinstance(item, annotated_types.Le):
            bounds["max"] = item.le
    return bounds


def _is_list(annotation: Any) -> bool:
    """list[...], also inside `X | None` (pydantic keeps Annotated metadata there)."""
    if typing.get_origin(annotation) in (list, tuple):
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return _is_list(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(annotation))
    return False


def option_parameters(
    model: type[Section], exclude: Iterable[str] = (), panel: str | None = None
) -> list[inspect.Parameter]:
    """One keyword parameter per CLI field of `model`, annotated for typer."""
    parameters = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if name in exclude or not extra.get("cli", True):
            continue
        kind, optional = _cli_type(field.annotation)
        bounds = _bounds(field) if kind in (int, float) else {}
        is_list = _is_list(field.annotation)
        info = typer.Option(
            *extra.get("flags", []),
            help=field.description,
            metavar="<list>" if is_list else _METAVARS.get(kind),
            rich_help_panel=extra.get("panel") or panel,
            **bounds,
        )
        annotation = Annotated[kind | None if optional else kind, info]  # type: ignore[valid-type]
        parameters.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=_cli_default(field),
                annotation=annotation,
            )
        )  # fmt: skip
    return parameters


def takes(
    model: type[Section],
    name: str = "settings",
    exclude: Iterable[str] = (),
    panel: str | None = None,
) -> Callable[[F], F]:
    """Give a command one option per field of `model`; it receives them as `name`, validated
    (errors name the flag, exit 2)."""
    exclude = tuple(exclude)

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        hints = typing.get_type_hints(command, include_extras=True)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values()
            if p.name != name
        ]
        added = option_parameters(model, exclude, panel)
        fields = [p.name for p in added]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {f: kwargs.pop(f) for f in fields if f in kwargs}
            kwargs[name] = model.build(values, flags=True)
            return command(*args, **kwargs)

        parameters = [p for p in own if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        parameters += added + [p for p in own if p.kind is inspect.Parameter.KEYWORD_ONLY]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper  # type: ignore[return-value]

    return decorate
