"""The `distil run` config file: YAML -> `RunSettings`, every value checked up front.

Relative paths are relative to the config file; any field can be overridden from the
command line as `section.key=value`. Unknown keys fail with a suggestion and every error
names the field as written in the file (`label.batch`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distil.settings import RunSettings, SettingsError
from distil.sources.remote import as_url
from distil.utils.yaml import YamlError, load_yaml

ConfigError = SettingsError


def load_config(path: Path, overrides: dict[str, Any] | None = None) -> RunSettings:
    """Read, override (`train.epochs=5`), validate; raises ConfigError naming the field."""
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
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value, path)
    return parse_config(data, str(path), base=path.parent)


def _set_dotted(data: dict, key: str, value: Any, path: Path) -> None:
    parts = key.split(".")
    target = data
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{path}: --set {key}: '{part}' is not a section")
    target[parts[-1]] = value


def parse_config(
    data: dict[str, Any], source: str = "<config>", base: Path = Path(".")
) -> RunSettings:
    """Validate a config mapping whose relative paths are relative to `base`."""
    try:
        config = RunSettings.build(_resolve_paths(data, base))
        _check_paths(config)
    except SettingsError as e:
        raise ConfigError(f"{source}: {e}") from None
    return config


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Paths relative to the config file; model names stay names unless such a file or
    folder exists beside the config."""

    def resolve(value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            return value
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else base / path)

    def resolve_if_there(value: Any) -> Any:
        return resolve(value) if isinstance(value, str) and (base / value).exists() else value

    data = {**data}
    inputs = data.get("inputs")
    if isinstance(inputs, str):
        inputs = [v.strip() for v in inputs.split(",")]
    if isinstance(inputs, list):  # a URL (s3://...) is not relative to anything
        data["inputs"] = [v if as_url(str(v)) else resolve(v) for v in inputs]
    data["ontology"] = resolve(data.get("ontology"))
    rules = {
        "label": {"detector": resolve_if_there, "segmenter": resolve_if_there,
                  "tracker_model": resolve_if_there},
        "dataset": {"ontology": resolve},
        "train": {"weights_dir": resolve, "model": resolve_if_there},
        "eval": {"ground_truth": resolve},
    }  # fmt: skip
    for section, fields in rules.items():
        values = data.get(section)
        if isinstance(values, dict):
            data[section] = {
                k: fields[k](v) if k in fields and v is not None else v for k, v in values.items()
            }
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
