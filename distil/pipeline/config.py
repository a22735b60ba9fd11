"""The `distil run` config: one YAML for label -> export -> train -> eval -> export.

Every field has a default except `inputs` and `ontology`; unknown keys fail with a
suggestion, and any field can be overridden from the command line as `section.key=value`.
Relative paths are relative to the config file.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from distil.base_models import DEFAULT_DETECTOR, DEFAULT_SEGMENTER
from distil.datasets import DEFAULT_NMS_IOU
from distil.evaluation.gates import check_bars
from distil.target_models import DEFAULT_STUDENT
from distil.utils.suggest import did_you_mean


class ConfigError(ValueError):
    """A run config that cannot be used; the message names the field."""


@dataclass
class LabelConfig:
    detector: str = DEFAULT_DETECTOR
    segmenter: str = DEFAULT_SEGMENTER
    device: str = "auto"
    batch_size: int = 8
    store_threshold: float = 0.1
    half: bool = True
    # videos: which frames (as `distil label --every/--fps/...`)
    every: int = 1
    fps: float | None = None
    start: float = 0.0
    end: float | None = None
    max_frames: int | None = None
    dedup: int | None = None
    # videos: track objects with SAM 2 video memory between keyframes
    track: bool = False
    detect_every: int = 15
    tracker_model: str = DEFAULT_SEGMENTER
    match_iou: float = 0.3
    max_lost: int = 1

    def sampling(self):
        from distil.sources import FrameSampling

        return FrameSampling(
            self.every, self.fps, self.start, self.end, self.max_frames, self.dedup
        )


@dataclass
class DatasetConfig:
    task: str = "detect"
    box_threshold: float | None = None
    text_threshold: float | None = None
    nms_iou: float = DEFAULT_NMS_IOU
    split: str = "0.8,0.2"
    seed: int = 0
    images: str = "link"


@dataclass
class TrainConfig:
    model: str = DEFAULT_STUDENT
    epochs: int = 100
    imgsz: int = 640
    batch: int = 16
    patience: int = 100
    workers: int = 8
    seed: int = 0
    device: str = "auto"
    weights_dir: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # any Ultralytics train setting


@dataclass
class EvalConfig:
    ground_truth: str | None = None  # hand-labeled YOLO/COCO dataset; else the val split
    split: str | None = None
    sweep: bool = False
    conf: float = 0.25


@dataclass
class ExportConfig:
    formats: list[str] = field(default_factory=lambda: ["onnx"])
    imgsz: int | None = None  # default: train.imgsz
    benchmark: bool = True
    benchmark_runs: int = 50


@dataclass
class RunConfig:
    inputs: list[str]
    ontology: str
    name: str = "exp"
    project: str = "runs/run"
    label: LabelConfig = field(default_factory=LabelConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    fail_under: dict[str, float] = field(default_factory=dict)
    source: str = "<config>"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("source")
        return data

    def section_dict(self, name: str) -> dict[str, Any]:
        return dataclasses.asdict(getattr(self, name))


SECTIONS = {
    "label": LabelConfig,
    "dataset": DatasetConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
    "export": ExportConfig,
}


def load_config(path: Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read, override (`train.epochs=5`), validate; raises ConfigError naming the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
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
) -> RunConfig:
    top = {f.name for f in fields(RunConfig)} - {"source"}
    _check_keys(data, top, source, "")
    for required in ("inputs", "ontology"):
        if data.get(required) in (None, "", []):
            raise ConfigError(f"{source}: '{required}' is required")
    values: dict[str, Any] = {}
    hints = get_type_hints(RunConfig)
    for key, value in data.items():
        if key in SECTIONS:
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{key}' must be a mapping")
            section = SECTIONS[key]
            _check_keys(value, {f.name for f in fields(section)}, source, f"{key}.")
            section_hints = get_type_hints(section)
            values[key] = section(
                **{k: _typed(v, section_hints[k], source, f"{key}.{k}") for k, v in value.items()}
            )
        else:
            values[key] = _typed(value, hints[key], source, key)
    if isinstance(values["inputs"], str):
        values["inputs"] = [values["inputs"]]
    config = RunConfig(**values, source=source)
    _resolve_paths(config, base)
    _check_values(config)
    return config


def _check_keys(data: dict, known: set[str], source: str, prefix: str) -> None:
    for key in data:
        if key not in known:
            raise ConfigError(
                f"{source}: unknown field '{prefix}{key}'.{did_you_mean(str(key), known)}"
            )


def _typed(value: Any, hint: Any, source: str, name: str) -> Any:
    """Check a value against its annotation (int/float/str/bool, optional, list, dict)."""
    text = str(hint)
    optional = "None" in text
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{source}: '{name}' cannot be empty")
    expected = [
        t
        for t in (bool, int, float, str)
        if t.__name__ in text.split("|")[0] or f"| {t.__name__}" in text
    ]
    if text.startswith("list"):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{source}: '{name}' must be a list")
        return [str(v) for v in value]
    if text.startswith("dict"):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{name}' must be a mapping")
        return value
    if float in expected and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if bool in expected and not isinstance(value, bool):
        raise ConfigError(f"{source}: '{name}' must be true or false, got {value!r}")
    if (
        expected
        and not isinstance(value, tuple(expected))
        or (isinstance(value, bool) and bool not in expected)
    ):
        kinds = " or ".join(t.__name__ for t in expected)
        raise ConfigError(f"{source}: '{name}' must be {kinds}, got {value!r}")
    return value


def _resolve_paths(config: RunConfig, base: Path) -> None:
    def resolve(value: str) -> str:
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else (base / path))

    config.inputs = [resolve(p) for p in config.inputs]
    config.ontology = resolve(config.ontology)
    if config.eval.ground_truth:
        config.eval.ground_truth = resolve(config.eval.ground_truth)
    if config.train.weights_dir:
        config.train.weights_dir = resolve(config.train.weights_dir)
    for role in ("detector", "segmenter", "tracker_model"):
        value = getattr(config.label, role)
        if (base / value).exists():
            setattr(config.label, role, resolve(value))
    if config.train.model.endswith((".pt", ".yaml")) and (base / config.train.model).exists():
        config.train.model = resolve(config.train.model)


def _check_values(config: RunConfig) -> None:
    source = config.source
    for path in config.inputs:
        if not Path(path).exists():
            raise ConfigError(f"{source}: inputs: {path} not found")
    if config.eval.ground_truth and not Path(config.eval.ground_truth).exists():
        raise ConfigError(f"{source}: eval.ground_truth: {config.eval.ground_truth} not found")
    try:
        config.label.sampling()
    except ValueError as e:
        named = re.sub(r"--([a-z-]+)", lambda m: "label." + m[1].replace("-", "_"), str(e))
        raise ConfigError(f"{source}: {named}") from None
    if config.dataset.task not in ("detect", "segment"):
        raise ConfigError(f"{source}: dataset.task must be detect or segment")
    try:
        config.fail_under = check_bars(config.fail_under)
    except ValueError as e:
        raise ConfigError(f"{source}: fail_under: {e}") from None
    from distil.target_models.export import ModelFormat

    allowed = [f.value for f in ModelFormat]
    for fmt in config.export.formats:
        if fmt not in allowed:
            raise ConfigError(
                f"{source}: export.formats: unknown format '{fmt}'.{did_you_mean(fmt, allowed)}"
            )
