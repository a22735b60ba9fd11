"""The Ontology: ordered classes, each prompted by one or more phrases.

Example YAML::

    box_threshold: 0.3          # defaults for every class
    text_threshold: 0.25
    classes:
      forklift: forklift                        # one prompt
      person: [person, worker, pedestrian]      # synonyms -> ONE class id
      vest:                                     # full form
        prompts: [hi-vis vest, safety vest]
        box_threshold: 0.4
        min_area: 100                           # pixels
      car:
        prompts: car
        teacher: yolo11n.pt                     # this class from another detector
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from distil.errors import UsageError
from distil.utils.files import read_user_text
from distil.utils.suggest import did_you_mean
from distil.utils.yaml import YamlError, parse_yaml

if TYPE_CHECKING:
    import numpy as np

DEFAULT_BOX_THRESHOLD = 0.3
DEFAULT_TEXT_THRESHOLD = 0.25

_TOP_KEYS = ("classes", "box_threshold", "text_threshold")
_CLASS_KEYS = ("prompts", "box_threshold", "text_threshold", "min_area", "max_area", "teacher")


class OntologyError(UsageError):
    """An ontology is invalid. The message names the file, the field and what is expected."""


@dataclass(frozen=True)
class OntologyClass:
    """One output class: its name, the prompts that find it and optional per-class settings."""

    name: str
    prompts: tuple[str, ...]
    box_threshold: float | None = None
    text_threshold: float | None = None
    min_area: float | None = None
    max_area: float | None = None
    teacher: str | None = None  # the detector that labels it; None: the run's --detector


class ClassLimits(NamedTuple):
    """Per-class settings as arrays indexed by class id (see `Ontology.limits`)."""

    box_threshold: np.ndarray
    text_threshold: np.ndarray
    min_area: np.ndarray
    max_area: np.ndarray


@dataclass(frozen=True)
class Ontology:
    """Ordered classes; class ids follow the order of `classes` and are stable.

    >>> onto = Ontology.from_dict({"classes": {"car": ["car", "automobile"], "dog": "dog"}})
    >>> onto.prompts, onto.prompt_class_ids
    (('car', 'automobile', 'dog'), (0, 0, 1))
    """

    classes: tuple[OntologyClass, ...]
    box_threshold: float = DEFAULT_BOX_THRESHOLD
    text_threshold: float = DEFAULT_TEXT_THRESHOLD
    source: str = field(default="<ontology>", compare=False)

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def prompts(self) -> tuple[str, ...]:
        """Every prompt, in class order then prompt order."""
        return tuple(p for c in self.classes for p in c.prompts)

    @property
    def prompt_class_ids(self) -> tuple[int, ...]:
        """The class id of each entry of `prompts`."""
        return tuple(i for i, c in enumerate(self.classes) for _ in c.prompts)

    @cached_property
    def limits(self) -> ClassLimits:
        """Each class's thresholds and areas as arrays indexed by class id, so detections
        are filtered without a Python loop over their boxes."""
        import numpy as np

        def column(values: list[float]) -> np.ndarray:
            array = np.array(values, dtype=np.float64)
            array.flags.writeable = False
            return array

        ids = range(len(self.classes))
        return ClassLimits(
            column([self.class_box_threshold(i) for i in ids]),
            column([self.class_text_threshold(i) for i in ids]),
            column([c.min_area or 0.0 for c in self.classes]),
            column([math.inf if c.max_area is None else c.max_area for c in self.classes]),
        )

    def class_box_threshold(self, class_id: int) -> float:
        value = self.classes[class_id].box_threshold
        return self.box_threshold if value is None else value

    def class_text_threshold(self, class_id: int) -> float:
        value = self.classes[class_id].text_threshold
        return self.text_threshold if value is None else value

    def with_defaults(
        self, box_threshold: float | None = None, text_threshold: float | None = None
    ) -> Ontology:
        """A copy whose default thresholds are replaced; per-class values still win."""
        return replace(
            self,
            box_threshold=self.box_threshold if box_threshold is None else box_threshold,
            text_threshold=self.text_threshold if text_threshold is None else text_threshold,
        )

    def with_class_thresholds(
        self, box: Mapping[int, float] | None = None, text: Mapping[int, float] | None = None
    ) -> Ontology:
        """A copy with per-class box / text thresholds set for the given class ids.

        >>> onto = Ontology.from_dict({"classes": {"car": "car", "dog": "dog"}})
        >>> onto.with_class_thresholds(box={1: 0.6}).class_box_threshold(1)
        0.6
        """
        box, text = box or {}, text or {}
        classes = tuple(
            replace(
                c,
                box_threshold=float(box[i]) if i in box else c.box_threshold,
                text_threshold=float(text[i]) if i in text else c.text_threshold,
            )
            for i, c in enumerate(self.classes)
        )
        return replace(self, classes=classes)

    def routes(self, default_teacher: str) -> dict[str, tuple[int, ...]]:
        """Class ids per detector: `default_teacher` (first, if it labels any class) for
        classes that name none.

        >>> onto = Ontology.from_dict({"classes": {"b": {"teacher": "x.pt"}, "a": "a"}})
        >>> onto.routes("gd")
        {'gd': (1,), 'x.pt': (0,)}
        """
        routes: dict[str, list[int]] = {default_teacher: []}
        for i, c in enumerate(self.classes):
            routes.setdefault(c.teacher or default_teacher, []).append(i)
        return {teacher: tuple(ids) for teacher, ids in routes.items() if ids}

    def subset(self, class_ids: tuple[int, ...]) -> Ontology:
        """These classes only, in this order, with the same defaults."""
        return replace(self, classes=tuple(self.classes[i] for i in class_ids))

    def to_dict(self) -> dict[str, Any]:
        classes: dict[str, Any] = {}
        for c in self.classes:
            spec: dict[str, Any] = {"prompts": list(c.prompts)}
            for key in _CLASS_KEYS[1:]:
                if getattr(c, key) is not None:
                    spec[key] = getattr(c, key)
            classes[c.name] = spec
        return {
            "box_threshold": self.box_threshold,
            "text_threshold": self.text_threshold,
            "classes": classes,
        }

    @classmethod
    def from_yaml(cls, path: str | Path) -> Ontology:
        """Load and validate an ontology file; raises `OntologyError` naming the bad field."""
        path = Path(path)
        try:
            text = read_user_text(path)
        except FileNotFoundError:
            raise OntologyError(f"{path}: file not found") from None
        except UsageError as e:
            raise OntologyError(str(e)) from None
        try:
            data = parse_yaml(text)
        except YamlError as e:
            raise OntologyError(f"{path}: {e}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "<ontology>") -> Ontology:
        return _parse(data, source)


def _parse(data: Any, source: str) -> Ontology:
    def fail(where: str, message: str) -> OntologyError:
        return OntologyError(f"{source}: {where}: {message}")

    if not isinstance(data, Mapping):
        raise fail("top level", "expected a mapping with a 'classes' key")
    for key in data:
        if key not in _TOP_KEYS:
            raise fail(
                str(key),
                f"unknown key.{did_you_mean(str(key), _TOP_KEYS)} "
                f"Expected one of: {', '.join(_TOP_KEYS)}",
            )
    box_threshold = _threshold(data, "box_threshold", DEFAULT_BOX_THRESHOLD, fail, "")
    text_threshold = _threshold(data, "text_threshold", DEFAULT_TEXT_THRESHOLD, fail, "")

    raw_classes = data.get("classes")
    if raw_classes is None:
        raise fail("classes", "missing; expected a mapping of class name -> prompt(s)")
    entries = _class_entries(raw_classes, fail)
    if not entries:
        raise fail("classes", "is empty; expected at least one class")

    classes: list[OntologyClass] = []
    prompt_owner: dict[str, str] = {}
    for name, spec in entries:
        where = f"classes.{name}"
        onto_class = _parse_class(name, spec, where, fail)
        for prompt in onto_class.prompts:
            key = prompt.lower()
            if key in prompt_owner:
                owner = prompt_owner[key]
                detail = "twice in this class" if owner == name else f"also in class '{owner}'"
                raise fail(
                    f"{where}.prompts",
                    f"prompt '{prompt}' appears {detail}; a prompt must map to exactly one class",
                )
            prompt_owner[key] = name
        classes.append(onto_class)
    return Ontology(tuple(classes), box_threshold, text_threshold, source)


def _class_entries(raw: Any, fail) -> list[tuple[str, Any]]:
    if isinstance(raw, Mapping):
        entries = list(raw.items())
    elif isinstance(raw, list):
        entries = []
        for i, item in enumerate(raw):
            if isinstance(item, str):
                entries.append((item, item))
            elif isinstance(item, Mapping) and len(item) == 1:
                entries.append(next(iter(item.items())))
            else:
                raise fail(
                    f"classes[{i}]", "expected a class name or a one-key mapping 'name: prompt(s)'"
                )
    else:
        raise fail(
            "classes", f"expected a mapping of class name -> prompt(s), got {type(raw).__name__}"
        )
    names = set()
    for name, _ in entries:
        if not isinstance(name, str) or not name.strip():
            raise fail("classes", f"class name {name!r} must be a non-empty string")
        if name in names:
            raise fail(f"classes.{name}", "duplicate class name")
        names.add(name)
    return entries


def _parse_class(name: str, spec: Any, where: str, fail) -> OntologyClass:
    if spec is None:
        return OntologyClass(name, (_clean_prompt(name, where, fail),))
    if isinstance(spec, (str, list)):
        return OntologyClass(name, _prompts(spec, f"{where}", fail))
    if not isinstance(spec, Mapping):
        raise fail(
            where,
            f"expected a prompt, a list of prompts or a mapping with 'prompts', "
            f"got {type(spec).__name__}",
        )
    for key in spec:
        if key not in _CLASS_KEYS:
            raise fail(
                f"{where}.{key}",
                f"unknown key.{did_you_mean(str(key), _CLASS_KEYS)} "
                f"Expected one of: {', '.join(_CLASS_KEYS)}",
            )
    if "prompts" in spec:
        prompts = _prompts(spec["prompts"], f"{where}.prompts", fail)
    else:
        prompts = (_clean_prompt(name, where, fail),)
    min_area = _area(spec, "min_area", where, fail)
    max_area = _area(spec, "max_area", where, fail)
    if min_area is not None and max_area is not None and min_area > max_area:
        raise fail(f"{where}.min_area", f"{min_area} is larger than max_area {max_area}")
    return OntologyClass(
        name=name,
        prompts=prompts,
        box_threshold=_threshold(spec, "box_threshold", None, fail, f"{where}."),
        text_threshold=_threshold(spec, "text_threshold", None, fail, f"{where}."),
        min_area=min_area,
        max_area=max_area,
        teacher=_teacher(spec, where, fail),
    )


def _prompts(value: Any, where: str, fail) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise fail(where, "expected a prompt or a non-empty list of prompts")
    prompts = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise fail(f"{where}[{i}]", f"expected a text prompt, got {item!r}")
        prompts.append(_clean_prompt(item, f"{where}[{i}]", fail))
    return tuple(prompts)


def _clean_prompt(text: str, where: str, fail) -> str:
    prompt = re.sub(r"\s+", " ", text).strip()
    if not prompt:
        raise fail(where, "prompt is empty")
    return prompt


def _threshold(spec: Mapping, key: str, default: float | None, fail, prefix: str):
    if key not in spec:
        return default
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise fail(f"{prefix}{key}", f"expected a number between 0 and 1, got {value!r}")
    return float(value)


def _area(spec: Mapping, key: str, where: str, fail) -> float | None:
    if key not in spec:
        return None
    value = spec[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < 0
        or math.isnan(value)
    ):
        raise fail(f"{where}.{key}", f"expected a non-negative area in pixels, got {value!r}")
    return float(value)


def _teacher(spec: Mapping, where: str, fail) -> str | None:
    if "teacher" not in spec:
        return None
    value = spec["teacher"]
    if not isinstance(value, str) or not value.strip():
        raise fail(
            f"{where}.teacher",
            f"expected a detector (Hugging Face id, folder or .pt file), got {value!r}",
        )
    return value.strip()
