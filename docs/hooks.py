"""mkdocs hook: the CLI reference page is generated from the commands themselves, whose
options `distil.cli.params.takes` makes from `distil/settings.py`."""

from __future__ import annotations

from typing import Any

MARKER = "<!-- cli-reference -->"
RUN_MARKER = "<!-- run-config-reference -->"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, cli_reference())
    if RUN_MARKER in markdown:
        markdown = markdown.replace(RUN_MARKER, run_config_reference())
    return markdown


def run_config_reference() -> str:
    """The keys of a `distil run` config, section by section, from `RunSettings`."""
    import typing

    from pydantic import BaseModel

    from distil.settings import RunSettings

    lines = ["| key | default | help |", "|---|---|---|"]
    sections = []
    for name, field in RunSettings.model_fields.items():
        kinds = [field.annotation, *typing.get_args(field.annotation)]
        model = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
        if model is None:
            lines.append(_row(name, field))
        else:
            sections.append((name, model))
    for section, model in sections:
        lines += ["", f"### `{section}:`", "", "| key | default | help |", "|---|---|---|"]
        lines += [_row(f"{section}.{name}", field) for name, field in model.model_fields.items()]
    return "\n".join(lines) + "\n"


def _row(key: str, field: Any) -> str:
    default = field.get_default(call_default_factory=True)
    value = getattr(default, "value", default)
    shown = "" if value in (None, {}, []) or field.is_required() else f"`{value}`"
    text = " ".join((field.description or "").split()).replace("|", "\\|")
    return f"| `{key}` | {shown} | {text} |"


def cli_reference() -> str:
    import typer

    from distil.cli import app

    commands = _commands(typer.main.get_command(app), ["distil"])
    return "\n".join(_command_section(path, command) for path, command in commands)


def _commands(group: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = []
    for name in sorted(group.commands):
        command = group.commands[name]
        if hasattr(command, "commands"):
            found += _commands(command, [*path, name])
        else:
            found.append(([*path, name], command))
    return found


def _command_section(path: list[str], command: Any) -> str:
    # Typer may build on its own copy of click: parameters are told apart by their kind.
    lines = [f"## `{' '.join(path)}`", "", (command.help or "").strip(), ""]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    if arguments:
        shown = " ".join(p.metavar or p.name.upper() for p in arguments)
        lines += [f"Arguments: `{shown}`", ""]
    options = [p for p in command.params if p.param_type_name == "option" and not p.hidden]
    if options:
        lines += ["| option | default | help |", "|---|---|---|"]
        for option in options:
            flags = ", ".join(f"`{flag}`" for flag in [*option.opts, *option.secondary_opts])
            default = "" if option.default in (None, False, ()) else f"`{_shown(option)}`"
            text = " ".join((option.help or "").split()).replace("|", "\\|")
            lines.append(f"| {flags} | {default} | {text} |")
        lines.append("")
    return "\n".join(lines)


def _shown(option: Any) -> str:
    default = option.default
    if isinstance(default, (list, tuple)):
        return ",".join(str(v) for v in default)
    value = getattr(default, "value", default)
    return str(value).replace("|", "\\|")
