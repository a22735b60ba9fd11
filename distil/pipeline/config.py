"""The `distil run` config file: YAML -> `RunSettings`, every value checked up front.

Relative paths in the file are relative to the file, every one of them; any field can be
overridden from the command line as `section.key=value`, whose paths are relative to the
working directory. Unknown keys fail with a suggestion and every error
names the field as written in the file (`label.batch`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from distil.settings import SECTIONS, RunSettings, SettingsError, Tracker
from distil.sources.remote import as_url
from distil.utils.yaml import YamlError, load_yaml

ConfigError = SettingsError


def load_config(path: Path, overrides: dict[str, Any] | None = None) -> RunSettings:
    """Read, override (`train.epochs=5`), validate; raises ConfigError naming the field.

    Paths in the file are relative to the file; paths in `overrides` (the command line's
    `--set`) are relative to the working directory, where the user typing them stands."""
    path = Path(path)
    try:
        data = load_yaml(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except YamlError as e:
        raise ConfigError(f"{path}: {e}") from None
    data = data if data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    data = _resolve_paths(data, path.parent)
    given: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        _set_dotted(given, key, value, path)
    data = _merged(data, _resolve_paths(given, Path.cwd()), path)
    return _validated(data, str(path))


def _set_dotted(data: dict, key: str, value: Any, path: Path) -> None:
    parts = key.split(".")
    target = data
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{path}: --set {key}: '{part}' is not a section")
    target[parts[-1]] = value


def _merged(data: dict[str, Any], changes: dict[str, Any], path: Path, at: str = "") -> dict:
    """`data` with `changes` (the `--set` values) in place, section by section."""
    merged = {**data}
    for key, value in changes.items():
        if isinstance(value, dict) and key in merged and merged[key] is not None:
            if not isinstance(merged[key], dict):
                raise ConfigError(f"{path}: --set {at}{key}.*: '{key}' is not a section")
            merged[key] = _merged(merged[key], value, path, f"{at}{key}.")
        else:
            merged[key] = value
    return merged


def parse_config(
    data: dict[str, Any], source: str = "<config>", base: Path = Path(".")
) -> RunSettings:
    """Validate a config mapping whose relative paths are relative to `base`."""
    return _validated(_resolve_paths(data, base), source)


def _validated(data: dict[str, Any], source: str) -> RunSettings:
    try:
        config = RunSettings.build(data)
        _check_paths(config)
        _check_student_export(config)
    except SettingsError as e:
        raise ConfigError(f"{source}: {e}") from None
    return config


def _check_student_export(config: RunSettings) -> None:
    """A transformers student exports to float ONNX only: refused here, not after training."""
    from distil.settings import ModelFormat, student_model_type

    detr = [m for m in config.train.models if student_model_type(m) is not None]
    export = config.export
    if not detr or export is None:
        return
    other = [f.value for f in export.formats if f is not ModelFormat.ONNX]
    flag = "int8" if export.int8 else "half" if export.half else "dynamic" if export.dynamic else ""
    if other or flag:
        what = f"formats {','.join(other)}" if other else flag
        raise SettingsError(
            f"export.{'formats' if other else flag}: train.model {detr[0]} is a transformers "
            f"student, which exports to float ONNX only (not {what})"
        )


# Fields that name a model: a path only when such a file or folder exists there (and a
# tracker's name, such as bytetrack, is always the tracker). tracker_model: tracker's old name.
_MODEL_NAMES = {
    "label": ("detector", "segmenter", "tracker", "tracker_model"),
    "train": ("model",),
}
_TRACKER_NAMES = {t.value for t in Tracker}


def _is_path_field(model: type, name: str) -> bool:
    return "Path" in str(model.model_fields[name].annotation)


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Every path field of the config made absolute against `base` (a URL stays a URL);
    model names stay names unless such a file or folder exists at `base`."""
    base = Path(os.path.abspath(base))

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if not isinstance(value, str) or not value.strip() or as_url(value):
            return value
        path = Path(value).expanduser()
        return os.path.normpath(path if path.is_absolute() else base / path)

    def resolve_if_there(value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in _TRACKER_NAMES:
            return value
        there = isinstance(value, str) and value.strip() and (base / value).exists()
        return resolve(value) if there else value

    data = {**data}
    if isinstance(data.get("inputs"), str):
        data["inputs"] = [v.strip() for v in data["inputs"].split(",")]
    for key, value in list(data.items()):
        if key in RunSettings.model_fields and _is_path_field(RunSettings, key):
            data[key] = resolve(value)
    for section, model in SECTIONS.items():
        values = data.get(section)
        if not isinstance(values, dict):
            continue
        resolved = {}
        for key, value in values.items():
            if value is not None and key in _MODEL_NAMES.get(section, ()):
                value = resolve_if_there(value)
            elif value is not None and key in model.model_fields and _is_path_field(model, key):
                if isinstance(value, str) and "," in value and key == "corrections":
                    value = [v.strip() for v in value.split(",")]
                value = resolve(value)
            resolved[key] = value
        data[section] = resolved
    return data


def _check_paths(config: RunSettings) -> None:
    for path in config.inputs:
        if not as_url(path) and not path.exists():  # URLs are checked when labeling starts
            raise SettingsError(f"inputs: {path} not found")
    if not config.ontology.is_file():
        raise SettingsError(f"ontology: {config.ontology} not found")
    for name, path in (
        ("eval.ground_truth", config.eval.ground_truth),
        ("dataset.ontology", config.dataset.ontology),
        ("train.weights_dir", config.train.weights_dir),
    ):
        if path is not None and not path.exists():
            raise SettingsError(f"{name}: {path} not found")
