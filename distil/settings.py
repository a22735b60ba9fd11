"""Every option of every stage, defined once: name, type, default, allowed range, help.

The CLI flags (`distil.cli.params`), the `distil run` YAML sections (`RunSettings`) and the
library functions all read these models, so a new option appears everywhere at once and
defaults cannot drift. Validation happens here, before any model loads or file is written;
`SettingsError` names the field in the user's own terms: `label.batch` in a run
config, `--batch` on the command line.

>>> LabelSettings(batch=4).batch
4
>>> RunSettings.build({"inputs": ["x"], "ontology": "o.yaml", "label": {"batch": 0}})
Traceback (most recent call last):
distil.settings.SettingsError: label.batch: must be at least 1, got 0

Field extras understood by the CLI: `panel` (help section), `flags` (option names),
`cli: False` (not a flag of the command that takes the section).
"""

from __future__ import annotations

import re
import typing
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from distil.errors import UsageError
from distil.utils.suggest import did_you_mean, excerpt

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails
    from typing_extensions import Self

DEFAULT_DETECTOR = "IDEA-Research/grounding-dino-tiny"
DEFAULT_SEGMENTER = "facebook/sam2.1-hiera-tiny"
DEFAULT_STUDENT = "yolo26n"  # Ultralytics' default since 8.4: NMS-free, 40.9 COCO AP
NO_SEGMENTER = "none"
SPLIT_NAMES = ("train", "val", "test")
METRICS = ("map50_95", "map50", "map75", "precision", "recall", "f1")
VIDEO = "Video"
REVIEWED = "reviewed"  # --ground-truth reviewed: the store's human labels
# Upper bounds: a value past them is a typo (or 1e20), caught before any work starts.
MAX_IMGSZ = 8192
MIN_TILE = 64
MAX_BATCH = 4096
MAX_COUNT = 1_000_000  # frames, epochs, runs, reviews ...
MAX_SECONDS = 10_000_000.0  # about four months of video
MAX_RUN_NAME = 100


class SettingsError(UsageError):
    """Invalid settings; the message names each bad field and what it expects."""


# -- string options as enums ---------------------------------------------------------------


class LabelFormat(str, Enum):
    """A format labels are written in and read from: a dataset's (YOLO, COCO, Pascal VOC)
    or a labeling tool's (Label Studio, CVAT). Each holds a whole dataset (`distil
    export`) and a review round (`distil review`); `datasets/formats/registry.py` says
    which module does it."""

    YOLO = "yolo"
    COCO = "coco"
    VOC = "voc"
    LABEL_STUDIO = "label-studio"
    CVAT = "cvat"


class Tracker(str, Enum):
    """What carries objects through a video with --track. Box trackers (Ultralytics'
    ByteTrack and BoT-SORT) follow the teacher's boxes, detected on every kept frame;
    the others carry masks with a video model's memory (named by its default checkpoint;
    `--tracker` also takes such a checkpoint's id or folder)."""

    BYTETRACK = "bytetrack"
    BOTSORT = "botsort"
    SAM2 = "sam2.1"  # SAM 2.1 memory, facebook/sam2.1-hiera-tiny
    EDGETAM = "edgetam"  # EdgeTAM memory (lighter), yonigozlan/EdgeTAM-hf
    SAM3 = "sam3"  # SAM 3's video model detects and tracks on its own, facebook/sam3


BOX_TRACKERS = (Tracker.BYTETRACK, Tracker.BOTSORT)
TRACKER_CHECKPOINTS = {
    Tracker.SAM2: DEFAULT_SEGMENTER,
    Tracker.EDGETAM: "yonigozlan/EdgeTAM-hf",
    Tracker.SAM3: "facebook/sam3",
}


def tracker_checkpoint(tracker: str) -> str | None:
    """The video model a `--tracker` value loads; None for a box tracker.

    >>> tracker_checkpoint("sam2.1"), tracker_checkpoint("bytetrack")
    ('facebook/sam2.1-hiera-tiny', None)
    >>> tracker_checkpoint("models/sam2.1-hiera-tiny")
    'models/sam2.1-hiera-tiny'
    """
    names = {t.value: t for t in Tracker}
    if tracker in names:
        return TRACKER_CHECKPOINTS.get(names[tracker])
    return tracker


def check_tracker(value: str) -> str:
    """A `--tracker` value: a `Tracker` name, or a video model's checkpoint id or folder. A
    bare word that names no tracker is an error (with "did you mean"), never a hub id."""
    value = value.strip()
    if value.lower() in {t.value for t in Tracker}:
        return value.lower()
    if "/" not in value and "\\" not in value and not Path(value).expanduser().exists():
        names = [t.value for t in Tracker]
        raise ValueError(
            f"{value!r} is not a tracker.{did_you_mean(value.lower(), names)} Trackers: "
            f"{', '.join(names)}, or a SAM 2.1 / EdgeTAM / SAM 3 checkpoint id or folder"
        )
    return check_model_spec(value)


class ExportTask(str, Enum):
    DETECT = "detect"
    SEGMENT = "segment"


class ImageMode(str, Enum):
    """How image files reach a dataset; never re-encoded (video frames become JPEG)."""

    LINK = "link"  # hard link; a copy where the filesystem cannot link
    COPY = "copy"
    SYMLINK = "symlink"


class ModelFormat(str, Enum):
    ONNX = "onnx"
    TORCHSCRIPT = "torchscript"
    OPENVINO = "openvino"
    TFLITE = "tflite"
    COREML = "coreml"
    ENGINE = "engine"


class Engine(str, Enum):
    """Where labeling runs."""

    LOCAL = "local"  # this process (and --devices worker processes)
    RAY = "ray"  # Ray Data: a local Ray instance or a cluster


class Ranking(str, Enum):
    """What review ranks frames by."""

    AUTO = "auto"  # every signal the store and options give
    UNCERTAINTY = "uncertainty"  # scores near thresholds, competing classes, masks
    DISAGREEMENT = "disagreement"  # only disagreement with --student / --against
    BOXES = "boxes"  # exported box count (a baseline)
    RANDOM = "random"  # a baseline


class MaskShape(str, Enum):
    """How masks reach a labeling tool."""

    POLYGON = "polygon"  # outlines, easy to edit; a hole is filled
    BRUSH = "brush"  # exact pixels: Label Studio brush labels, CVAT masks


class QueueOrder(str, Enum):
    """Which frames the review app offers, in which order."""

    RANKED = "ranked"  # distil's ranking, most likely wrong first; reviewed / held left out
    ALL = "all"  # every frame, in stored order


class StudentEval(str, Enum):
    """How `distil eval` predicts with a student."""

    VAL = "val"  # as `yolo val`: rect batches, multi-label NMS (scores agree with it)
    PREDICT = "predict"  # as `distil label` / `yolo predict`: square letterbox, one label a box


class SplitName(str, Enum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


# -- value parsers shared by the CLI (strings) and YAML (lists) ----------------------------


def _comma_list(value: Any) -> Any:
    """'a, b' -> ['a', 'b']; lists pass through."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    return value


def parse_split(value: Any) -> tuple[float, float, float]:
    """'0.8,0.1,0.1', '0.8,0.2' or a list -> (train, val, test) fractions summing to 1."""
    items = _comma_list(value)
    try:
        values = [float(v) for v in items]
    except (TypeError, ValueError):
        raise ValueError(f"expected fractions like 0.8,0.1,0.1, got {value!r}") from None
    if not 1 <= len(values) <= 3 or any(v < 0 for v in values):
        raise ValueError(f"expected 1 to 3 non-negative fractions, got {value!r}")
    total = sum(values)
    if abs(total - 1) > 1e-6:
        raise ValueError(f"fractions must sum to 1, they sum to {total:g}")
    return tuple(values + [0.0] * (3 - len(values)))  # type: ignore[return-value]


_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """'i/N' -> (i, N), with 1 <= i <= N (1-based, as CI matrices count).

    >>> parse_shard("2/4")
    (2, 4)
    """
    match = _SHARD.match(str(text))
    if not match:
        raise ValueError(f"expected i/N such as 1/4, got {text!r}")
    index, count = int(match[1]), int(match[2])
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: i must be between 1 and N")
    return index, count


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?|\d+(,\d+)*)$")
# A Hugging Face repo id: `name` or `owner/name`, letters, digits, '-', '_', '.'.
_HUB_ID = re.compile(r"^[\w][\w.-]*(/[\w][\w.-]*)?$")


def _check_device(value: str) -> str:
    value = value.strip().lower()
    if not _DEVICE.match(value):
        raise ValueError(
            f"unknown device {value!r}: use auto, cpu, mps, cuda, cuda:N or a GPU number (0)"
        )
    return value


def check_model_spec(value: str, allow_none: bool = False) -> str:
    """A model named by Hugging Face id, local folder or checkpoint file: its form only,
    the hub is never asked."""
    value = value.strip()
    if allow_none and value.lower() == NO_SEGMENTER:
        return NO_SEGMENTER
    path = Path(value).expanduser()
    if path.exists():
        return value
    if value.lower().endswith((".pt", ".pth", ".yaml", ".yml")):
        if path.parent == Path(".") and path.suffix.lower() == ".pt":
            return value  # a bare yolo11n.pt: looked up in the weights cache when checked
        raise ValueError(f"checkpoint file not found: {value}")
    if value.startswith((".", "/", "~")) or value.count("/") > 1 or "\\" in value:
        raise ValueError(f"model folder not found: {value}")
    if not _HUB_ID.match(value):
        raise ValueError(f"{value!r} is neither a Hugging Face id (owner/name) nor a local path")
    return value


def option(
    default: Any = ...,
    description: str = "",
    *,
    panel: str | None = None,
    flags: list[str] | None = None,
    cli: bool = True,
    **constraints: Any,
) -> Any:
    """A field with its help line; `panel`, `flags` and `cli` say how the CLI shows it."""
    extra: dict[str, Any] = {"cli": cli}
    if panel:
        extra["panel"] = panel
    if flags:
        extra["flags"] = flags
    return Field(default, description=description, json_schema_extra=extra, **constraints)


Device = Annotated[
    str,
    BeforeValidator(lambda v: _check_device(str(v))),
    Field(description="auto (GPU when present), cpu, mps, cuda, cuda:N, or a GPU number (0)."),
]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
CommaList = BeforeValidator(_comma_list)


class Section(BaseModel):
    """One stage's settings: unknown keys are errors, values are checked when set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, coerce_numbers_to_str=True)
    # What a user calls this section in a run config (`label`), for messages.
    section: ClassVar[str] = ""

    @classmethod
    def build(
        cls, values: dict[str, Any] | None = None, *, flags: bool = False, **kwargs: Any
    ) -> Self:
        """Validate `values` (and `kwargs`); errors name fields as flags or config keys."""
        try:
            return cls.model_validate({**(values or {}), **kwargs})
        except ValidationError as e:
            raise SettingsError(describe_errors(e, cls, flags=flags)) from None

    @classmethod
    def merge(cls, settings: Section | None = None, **options: Any) -> Self:
        """`settings` (default: the defaults) with `options` (fields as keywords), validated:
        how library functions take either form.

        >>> LabelSettings.merge(LabelSettings(batch=4), every=2).batch
        4
        """
        return cls.build(settings.model_dump() if settings else {}, **options)

    def replace(self, *, flags: bool = False, **changes: Any) -> Self:
        """A copy with `changes`, validated."""
        return type(self).build({**self.model_dump(), **changes}, flags=flags)


# -- labeling ------------------------------------------------------------------------------


class FrameSampling(Section):
    """Which frames of a video are used.

    >>> FrameSampling(fps=2, max_frames=100).every
    1
    """

    every: int = option(
        1, ge=1, le=MAX_COUNT, description="Video: keep every N-th frame.", panel=VIDEO
    )
    fps: float | None = option(
        None,
        gt=0,
        le=1000,
        description="Video: keep frames at this rate (by timestamp).",
        panel=VIDEO,
    )
    start: float = option(
        0.0, ge=0, le=MAX_SECONDS, description="Video: start at this second.", panel=VIDEO
    )
    end: float | None = option(
        None, gt=0, le=MAX_SECONDS, description="Video: stop after this second.", panel=VIDEO
    )
    max_frames: int | None = option(
        None,
        ge=1,
        le=MAX_COUNT * 1000,
        description="Video: at most this many frames each.",
        panel=VIDEO,
    )
    dedup: int | None = option(
        None,
        ge=0,
        le=64,
        description="Video: drop a frame within this many bits (64-bit difference hash) of the "
        "last kept one; 0 drops only identical-looking frames.",
        panel=VIDEO,
    )

    @model_validator(mode="after")
    def _one_way_to_sample(self) -> FrameSampling:
        if self.fps is not None and self.every != 1:
            raise ValueError("`every` and `fps` both choose frames; give one of them")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"`end` ({self.end:g}) must be after `start` ({self.start:g})")
        return self

    def sampling(self) -> FrameSampling:
        """Just the sampling fields (a `LabelSettings` is one too)."""
        return FrameSampling.model_validate(
            self.model_dump(include=set(FrameSampling.model_fields))
        )


class TrackingSettings(Section):
    """Video labeling by keyframe detection plus SAM 2 video memory, or by SAM 3's video
    model alone."""

    track: StrictBool = option(
        False,
        description="Video: detect on keyframes and carry masks and track ids between them "
        "with SAM 2 video memory (or let SAM 3's video model detect and track).",
        panel=VIDEO,
    )
    detect_every: int = option(
        15,
        ge=1,
        le=MAX_COUNT,
        description="With --track: detect on every K-th kept frame (SAM 3 video: store every "
        "K frames).",
        panel=VIDEO,
    )
    tracker: str = option(
        Tracker.SAM2.value,
        description="With --track: bytetrack or botsort follow the teacher's boxes, detected "
        "on every kept frame (any detector; masks from --segmenter); sam2.1 or edgetam carry "
        "masks with video memory between keyframes; sam3 detects and tracks on its own. Or a "
        "SAM 2.1 / EdgeTAM / SAM 3 checkpoint id or folder.",
        panel=VIDEO,
        flags=["--tracker", "--tracker-model"],
        validation_alias=AliasChoices("tracker", "tracker_model"),  # tracker_model: its old name
    )
    match_iou: float = option(
        0.3,
        gt=0.0,
        le=1.0,
        description="With --track: mask IoU for a detection to continue a track.",
        panel=VIDEO,
    )
    max_lost: int = option(
        1, ge=0, le=MAX_COUNT,
        description="With --track: keyframes a track may go unmatched before it ends.",
        panel=VIDEO,
    )  # fmt: skip
    offload_state: StrictBool = option(
        False, description="With --track: keep the tracker's memory in CPU RAM.", panel=VIDEO
    )
    max_objects_per_pass: int = option(
        64,
        ge=1,
        le=MAX_COUNT,
        description="With --track (SAM 2.1, EdgeTAM, SAM 3): encode the memories of at most "
        "this many objects per pass, so that dense scenes fit in memory (same tracks).",
        panel=VIDEO,
    )

    @field_validator("tracker")
    @classmethod
    def _tracker(cls, value: str) -> str:
        return check_tracker(value)

    @property
    def box_tracker(self) -> bool:
        """Whether tracking follows boxes (ByteTrack, BoT-SORT) rather than masks."""
        return self.tracker in {t.value for t in BOX_TRACKERS}


URL_TIMEOUT_MAX = 3600.0


class RemoteSettings(Section):
    """How long a URL's server may take: stages that read images behind URLs."""

    url_timeout: float = option(
        30.0,
        gt=0,
        le=URL_TIMEOUT_MAX,
        description="Seconds a URL's server may take to connect, or to send the next bytes, "
        "before its file is given up (a listing or check: the command stops).",
    )


class CpuSettings(Section):
    """CPU threads of the stages that run a model."""

    threads: int | None = option(
        None,
        ge=1,
        le=1024,
        description="CPU threads that run the model (default: the cores this process may "
        "use; affinity and container quotas count).",
    )


class LabelSettings(TrackingSettings, FrameSampling, RemoteSettings, CpuSettings):
    """`distil label` and the `label:` section of a run config."""

    section: ClassVar[str] = "label"

    detector: str = option(
        DEFAULT_DETECTOR,
        description="Hugging Face id, local folder or Ultralytics .pt (YOLO, RT-DETR, YOLO-World, "
        "YOLOE). The family is read "
        "from the checkpoint: grounding-dino (IDEA-Research/grounding-dino-tiny), "
        "mm-grounding-dino (MM Grounding DINO and LLMDet: iSEE-Laboratory/llmdet_tiny), "
        "owlv2 (google/owlv2-base-patch16-ensemble), omdet-turbo "
        "(omlab/omdet-turbo-swin-tiny-hf), florence2 (florence-community/Florence-2-base), "
        "sam3 (facebook/sam3: boxes and masks, no segmenter needed).",
    )
    segmenter: str = option(
        DEFAULT_SEGMENTER,
        description="Hugging Face id or local folder of SAM (facebook/sam-vit-base), SAM 2 "
        "(facebook/sam2.1-hiera-tiny), EdgeTAM (yonigozlan/EdgeTAM-hf) or SAM 3's tracker "
        "(facebook/sam3); 'none' for boxes only (with a SAM 3 teacher: keep its boxes, drop "
        "its masks).",
    )
    device: Device = "auto"
    batch: int = option(
        8,
        ge=1,
        le=MAX_BATCH,
        description="Images per detector forward.",
        flags=["--batch", "--batch-size"],
        validation_alias=AliasChoices("batch", "batch_size"),  # batch_size: its old name
    )
    store_threshold: Fraction = option(
        0.1, description="Keep raw boxes down to this score (export filters later)."
    )
    half: StrictBool = option(True, description="Half precision on GPUs.")
    compile: StrictBool = option(
        False,
        description="torch.compile the teacher's heavy modules: the first batches are slow "
        "while it compiles, the rest faster (worth it on GPUs for long jobs).",
    )
    overwrite: StrictBool = option(
        False, description="Delete labels already in the output made with other models or prompts."
    )
    tile: str | None = option(
        None,
        description="Large images: label the whole image plus overlapping SIZE-pixel tiles "
        "of it, merged (small objects found at full resolution); 'auto' tiles images at "
        "least twice the detector's input size, at that size.",
    )
    tile_overlap: float = option(
        0.2, ge=0.0, le=0.9, description="With --tile: how much neighbouring tiles overlap."
    )

    @field_validator("tile", mode="before")
    @classmethod
    def _tile(cls, value: str | int | None) -> str | None:
        if value is None or str(value).strip().lower() == "auto":
            return None if value is None else "auto"
        try:
            size = int(str(value).strip())
        except ValueError:
            raise ValueError(f"expected a tile size in pixels or 'auto', got {value!r}") from None
        if not MIN_TILE <= size <= MAX_IMGSZ:
            raise ValueError(f"a tile is {MIN_TILE} to {MAX_IMGSZ} pixels, got {size}")
        return str(size)

    @property
    def tile_size(self) -> int | None:
        """--tile in pixels; None for 'auto' (the detector's input size) or no tiling."""
        return int(self.tile) if self.tile not in (None, "auto") else None

    shard: str | None = option(
        None,
        description="i/N: label only shard i of N (1-based), split by content hash; a "
        "video stays in one shard. Shards may share one --out, or each write its own "
        "(combine those with `distil merge`).",
    )

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str | None) -> str | None:
        return None if value is None else "{}/{}".format(*parse_shard(value))

    devices: Annotated[list[Device], CommaList] | None = option(
        None,
        description="Label on several devices at once, one worker process each: 0,1 "
        "(GPU numbers) or cpu,cpu.",
    )
    engine: Engine = option(
        Engine.LOCAL,
        description="local: this machine; ray: Ray Data on a local Ray instance or the "
        'cluster at --ray-address (needs `pip install "distil[ray]"`).',
    )
    ray_address: str | None = option(
        None, description="With --engine ray: the cluster's address (default: $RAY_ADDRESS)."
    )
    actors: int | None = option(
        None,
        ge=1,
        le=10_000,
        description="With --engine ray: teacher actors (default: one per GPU; without "
        "GPUs, one per 4 CPUs).",
    )

    @model_validator(mode="after")
    def _one_engine(self) -> LabelSettings:
        if self.devices and self.device != "auto":
            raise ValueError("`device` and `devices` both choose devices; give one of them")
        several = "`devices`" if self.devices else "`engine` ray" if self.engine == "ray" else ""
        if several and self.track:
            raise ValueError(f"`track` runs on one device: leave out {several}")
        if (self.devices or self.device != "auto") and self.engine == Engine.RAY:
            chosen = "`devices`" if self.devices else "`device`"
            raise ValueError(f"with `engine` ray, Ray places the teachers: leave out {chosen}")
        return self

    @model_validator(mode="after")
    def _shards_keep_the_store(self) -> LabelSettings:
        if self.overwrite and self.shard:
            raise ValueError(
                "`overwrite` with `shard`: a shard would delete the labels of the other "
                "shards; delete the store yourself or use another output folder"
            )
        return self

    @field_validator("detector")
    @classmethod
    def _detector(cls, value: str) -> str:
        return check_model_spec(value)

    @field_validator("segmenter")
    @classmethod
    def _segmenter(cls, value: str) -> str:
        return check_model_spec(value, allow_none=True)


# -- dataset export ------------------------------------------------------------------------


class DatasetSettings(RemoteSettings):
    """`distil export LABEL_DIR` and the `dataset:` section of a run config."""

    section: ClassVar[str] = "dataset"

    format: LabelFormat = option(
        LabelFormat.YOLO,
        description="yolo, coco or voc; label-studio or cvat: the whole dataset as that "
        "tool's import files, to check it there.",
        flags=["--format", "-f"],
    )
    task: ExportTask = option(
        ExportTask.DETECT, description="detect (boxes) or segment (polygons / masks)."
    )
    box_threshold: Fraction | None = option(
        None, description="Default box threshold; per-class values in the ontology win."
    )
    text_threshold: Fraction | None = option(
        None, description="Default text threshold; per-class values win."
    )
    nms_iou: Fraction = option(0.7, description="Class-aware NMS IoU.")
    classes: Annotated[list[str] | None, CommaList] = option(
        None, description="Only these classes, comma-separated."
    )
    split: Annotated[tuple[float, float, float], BeforeValidator(parse_split)] = option(
        (0.8, 0.2, 0.0), description="train,val[,test] fractions."
    )
    seed: int = option(0, description="Split seed.")
    images: ImageMode = option(ImageMode.LINK, description="link (hard link), copy or symlink.")
    min_fragment_area: float = option(
        16.0, ge=0, le=1e9, description="Mask parts smaller than this many pixels are dropped."
    )
    polygon_tolerance: float = option(
        1.0, ge=0, le=1000, description="Polygon simplification, in pixels (0 = exact outline)."
    )
    coco_rle: StrictBool = option(
        False, description="COCO segment export: exact RLE masks (holes kept) instead of polygons."
    )
    ontology: Path | None = option(
        None, description="Ontology YAML with changed thresholds / areas (same classes, prompts)."
    )


# -- students ------------------------------------------------------------------------------


# The licence of each student family's code and weights, as a user shipping it must honour.
STUDENT_LICENCES = {
    "ultralytics": "agpl-3.0",  # YOLOv8, YOLO11, YOLO26, RT-DETR through Ultralytics
    "rf-detr": "apache-2.0",  # Nano to Large; XL and 2XL are PML-1.0
    "rf-detr-xl": "pml-1.0",
    "d-fine": "apache-2.0",
    "rt-detr-v2": "apache-2.0",
}


SELECT_METRICS = ("map50-95", "map50")


def parse_select(value: str) -> tuple[str, float | None]:
    """A `--select` rule: (metric to maximize, latency bound in ms or None).

    >>> parse_select("map50"), parse_select("latency<=5ms")
    (('map50', None), ('map50-95', 5.0))
    """
    text = value.strip().lower().replace(" ", "")
    if text in SELECT_METRICS:
        return text, None
    bound = re.fullmatch(r"latency<=(\d+(?:\.\d+)?)(ms)?", text)
    if bound:
        return "map50-95", float(bound.group(1))
    raise ValueError(
        f"{value!r}: choose by {' or '.join(SELECT_METRICS)}, or bound the latency: "
        '"latency<=5ms"' + did_you_mean(text, SELECT_METRICS)
    )


# Short names for the hub checkpoints of the transformers students (`train.model`); any
# other hub id or a local checkpoint folder of these families works too.
TRANSFORMERS_STUDENTS = {
    "rf-detr-nano": "Roboflow/rf-detr-nano",
    "rf-detr-small": "Roboflow/rf-detr-small",
    "rf-detr-medium": "Roboflow/rf-detr-medium",
    "rf-detr-base": "Roboflow/rf-detr-base",
    "rf-detr-large": "Roboflow/rf-detr-large",
    "d-fine-n": "ustc-community/dfine-nano-coco",
    "d-fine-s": "ustc-community/dfine-small-coco",
    "d-fine-m": "ustc-community/dfine-medium-coco",
    "d-fine-l": "ustc-community/dfine-large-coco",
    "rt-detrv2-r18": "PekingU/rtdetr_v2_r18vd",
    "rt-detrv2-r50": "PekingU/rtdetr_v2_r50vd",
}
# The training settings of a transformers student (`--set KEY=VALUE`, `train.options`)
# and their defaults; Ultralytics students take Ultralytics' own.
DETR_OPTIONS: dict[str, float | bool] = {
    "weight_decay": 1e-4,
    "backbone_lr_factor": 0.1,  # the backbone learns at lr0 x this
    "warmup_epochs": 1.0,
    "ema_decay": 0.999,
    "grad_clip": 0.1,
    "amp": True,  # on a GPU only: bf16 where supported, else fp16 with a scaler
    "fliplr": 0.5,
    "scale": 0.3,  # scale jitter: the image zooms by 1 -/+ this
    "translate": 0.1,
    "colour": 0.3,  # brightness, contrast and saturation jitter
}

# A transformers checkpoint's `model_type` -> its entry in STUDENT_LICENCES.
TRANSFORMERS_STUDENT_FAMILIES = {
    "rf_detr": "rf-detr",
    "d_fine": "d-fine",
    "rt_detr_v2": "rt-detr-v2",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def student_model_type(model: str) -> str | None:
    """The transformers `model_type` of student `model`, None for an Ultralytics one: read
    from a local folder's config.json, else from the name (a short name or a hub id).

    >>> student_model_type("yolo26n"), student_model_type("rf-detr-nano")
    (None, 'rf_detr')
    """
    import json

    folder = Path(model).expanduser()
    if (folder / "config.json").is_file():
        try:
            found = json.loads((folder / "config.json").read_text()).get("model_type")
        except (OSError, ValueError, AttributeError):
            return None
        return str(found) if found else None
    name = TRANSFORMERS_STUDENTS.get(model.lower(), model).lower()
    if not _HUB_ID.match(name) or folder.exists():
        return None
    for model_type, family in TRANSFORMERS_STUDENT_FAMILIES.items():
        if family.replace("-", "") in name.replace("-", "").replace("_", ""):
            return model_type
    return "unknown"  # a hub id of another family: refused when its config is read


def student_licence(model: str) -> str:
    """The licence of student `model`'s code and weights.

    >>> student_licence("yolo26n"), student_licence("rf-detr-nano"), student_licence("d-fine-s")
    ('agpl-3.0', 'apache-2.0', 'apache-2.0')
    """
    model_type = student_model_type(model)
    if model_type is None:
        return STUDENT_LICENCES["ultralytics"]
    family = TRANSFORMERS_STUDENT_FAMILIES.get(model_type, "")
    if family == "rf-detr" and re.search(r"(^|[-_/])2?x-?l(arge)?\b", model.lower()):
        family = "rf-detr-xl"  # RF-DETR XL and 2XL weights are PML-1.0
    return STUDENT_LICENCES.get(family, "unknown")


def _checked_models(value: str) -> str:
    """One student or several, comma-separated: named, each .pt there, none twice."""
    value = value.strip()
    models = [m.strip() for m in value.split(",")]
    if not value or not all(models):
        raise ValueError("must name a model (or several, comma-separated)")
    for model in models:
        if model.lower().endswith((".pt", ".pth")) and not Path(model).expanduser().is_file():
            raise ValueError(f"weights file not found: {model}")
    if len(set(models)) != len(models):
        raise ValueError(f"a candidate is named twice: {value}")
    return ",".join(models)


class TrainSettings(CpuSettings):
    """`distil train` and the `train:` section of a run config."""

    section: ClassVar[str] = "train"
    unknown_hint: ClassVar[str] = (
        " Other Ultralytics train settings go in train.options: train.options.{name}=..."
    )

    model: str = option(
        DEFAULT_STUDENT,
        description="yolo26n/s/m, yolo11n/s/m, yolov8n/s, *-seg (pretrained <name>.pt from "
        "--weights-dir, $DISTIL_WEIGHTS_DIR or ~/.cache/distil/weights, downloaded there "
        "when missing), or a .pt path; or a transformers detector (Apache-2.0): "
        "rf-detr-nano/small/medium/base/large, d-fine-n/s/m/l, rt-detrv2-r18/r50, another "
        "hub id or a local checkpoint folder of those families. Several, comma-separated: "
        "candidates to compare.",
    )
    epochs: int = option(100, ge=1, le=MAX_COUNT, description="Training epochs.")
    imgsz: int = option(640, ge=32, le=MAX_IMGSZ, description="Training image size.")
    batch: int = option(
        16, ge=-1, le=MAX_BATCH, description="Images per batch (-1: fit GPU memory)."
    )
    patience: int = option(100, ge=0, le=MAX_COUNT, description="Stop after N epochs without gain.")
    lr0: float | None = option(None, gt=0, le=10, description="Initial learning rate.")
    workers: int = option(8, ge=0, le=256, description="Data loader workers.")
    seed: int = option(0, description="Training seed.")
    device: Annotated[
        Device,
        Field(
            description="auto (GPU when present), cpu, mps, cuda:N, a GPU number (0), or "
            "several GPUs (0,1: DDP)."
        ),
    ] = "auto"
    weights_dir: Path | None = option(None, description="A folder searched first for <model>.pt.")
    candidates: Annotated[list[str] | None, CommaList] = option(
        None,
        description="Students to compare, comma-separated (yolo11n,rf-detr-nano): each "
        "trains on the same split, is scored on the same validation frames, exported and "
        "timed; the one `select` picks is the student (`distil run` exports it).",
    )
    select: str = option(
        "map50-95",
        description="With several --model candidates: the one to keep, by map50-95 "
        "(default) or map50, or the best map50-95 within a latency bound "
        '("latency<=5ms", ONNX Runtime here at --imgsz, median).',
    )
    licence: Annotated[list[str] | None, CommaList] = option(
        None,
        description="Only students under these licences, comma-separated (apache-2.0,mit); "
        "a student under another is refused before anything trains. Ultralytics YOLO is "
        "agpl-3.0.",
    )
    options: dict[str, Any] = option(
        default_factory=dict,
        description="Any other Ultralytics train setting (mosaic: 0.5).",
        cli=False,
    )

    @field_validator("licence")
    @classmethod
    def _licence(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [v.strip().lower() for v in value if v.strip()]

    @model_validator(mode="after")
    def _licensed(self) -> TrainSettings:
        for model in self.models:
            found = student_licence(model)
            if self.licence is not None and found not in self.licence:
                whose = "Ultralytics code and weights" if found == "agpl-3.0" else "its weights"
                raise ValueError(
                    f"`licence` {','.join(self.licence)} refuses `model` {model}: it is "
                    f"{found.upper()} ({whose}); choose a student under one of those "
                    "licences"
                )
        return self

    @field_validator("select")
    @classmethod
    def _select(cls, value: str) -> str:
        parse_select(value)
        return value.strip().lower().replace(" ", "")

    @property
    def models(self) -> list[str]:
        """The students to train: `candidates` when given, else those `model` names (one,
        or several to compare: yolo11n,yolo26n)."""
        return self.candidates or [m.strip() for m in self.model.split(",") if m.strip()]

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return _checked_models(",".join(value)).split(",") if value else None

    @field_validator("batch")
    @classmethod
    def _batch(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must be -1 (fit GPU memory) or at least 1")
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return _checked_models(value)

    def ultralytics_options(self) -> dict[str, Any]:
        """The Ultralytics train settings these stand for."""
        fixed = self.model_dump(include={"epochs", "imgsz", "batch", "patience", "workers", "seed"})
        if self.lr0 is not None:
            fixed["lr0"] = self.lr0
        return {**fixed, **self.options}


class EvalSettings(Section):
    """`distil eval` and the `eval:` section of a run config."""

    section: ClassVar[str] = "eval"

    ground_truth: Path | None = option(
        None,
        description="Hand-labeled YOLO or COCO dataset, or `reviewed`: a label folder's "
        "reviewed frames (run config: else the val split).",
        flags=["--ground-truth", "-g"],
    )
    split: SplitName | None = option(None, description="Only this split of the ground truth.")
    sweep: StrictBool = option(
        False, description="Find each class's box threshold with the best F1."
    )
    conf: Fraction = option(0.25, description="Student: score for precision / recall.")
    imgsz: int | None = option(
        None, ge=32, le=MAX_IMGSZ, description="Student: inference size (default: trained)."
    )
    student_mode: StudentEval = option(
        StudentEval.VAL,
        description="Student: val predicts as `yolo val` does (rect batches, multi-label "
        "NMS: the same mAP); predict as `yolo predict` and `distil label` (square, one label "
        "a box).",
    )
    device: Device = "auto"


class RankingSettings(RemoteSettings):
    """How review ranks a store's frames: `distil review` and `distil review serve`."""

    section: ClassVar[str] = "review"

    top: int = option(50, ge=1, le=MAX_COUNT, description="Frames to hand to reviewers.")
    ranking: Ranking = option(
        Ranking.AUTO,
        description="auto (all signals), uncertainty, disagreement (with --student / "
        "--against), boxes or random.",
    )
    student: Path | None = option(
        None, description="A student (.pt) whose disagreement with the teacher ranks frames."
    )
    against: Path | None = option(
        None, description="Another teacher's label folder of the same images, to compare with."
    )
    student_conf: Fraction = option(0.25, description="Student: keep boxes from this score.")
    device: Device = "auto"
    ontology: Path | None = option(
        None, description="Ontology YAML with changed thresholds (default: the stored one)."
    )
    classes: Annotated[list[str] | None, CommaList] = option(
        None,
        description="Rank by these classes' labels only, comma-separated (task files keep "
        "every class).",
    )
    video_gap: float = option(
        2.0,
        ge=0.0,
        le=MAX_SECONDS,
        description="Seconds between the frames picked from one video (0: neighbours too).",
    )
    include_pending: StrictBool = option(
        False,
        description="Rank frames handed out in an earlier round whose corrections are not "
        "imported yet (left out by default, so two rounds never share frames).",
    )

    @model_validator(mode="after")
    def _disagreement_needs_labels(self) -> RankingSettings:
        if self.ranking is Ranking.DISAGREEMENT and not (self.student or self.against):
            raise ValueError(
                "`ranking` disagreement needs a student (`student`) or another label folder "
                "(`against`)"
            )
        return self


class ReviewSettings(RankingSettings):
    """`distil review LABEL_DIR` and the `review:` section of a run config."""

    format: LabelFormat = option(
        LabelFormat.LABEL_STUDIO,
        description="Task file format: label-studio, cvat, voc, yolo or coco.",
        flags=["--format", "-f"],
    )
    masks: MaskShape = option(
        MaskShape.POLYGON,
        description="label-studio / cvat masks: polygon (outlines to edit) or brush (exact "
        "pixels).",
    )
    copy_images: StrictBool = option(
        False, description="Copy the images into the task folder instead of referencing them."
    )
    document_root: Path | None = option(
        None,
        description="Label Studio: its LOCAL_FILES_DOCUMENT_ROOT (image URLs are relative "
        "to it; default /).",
    )
    corrections: Annotated[list[Path], CommaList] = option(
        default_factory=list,
        description="Run config: corrected task files imported before export.",
        cli=False,
    )

    @model_validator(mode="after")
    def _brush_needs_a_labeling_tool(self) -> ReviewSettings:
        if self.masks is MaskShape.BRUSH and self.format not in (
            LabelFormat.LABEL_STUDIO,
            LabelFormat.CVAT,
        ):
            raise ValueError(
                f"`masks` brush is for `format` label-studio and cvat, not {self.format.value}"
            )
        return self


class ReviewServeSettings(RankingSettings):
    """`distil review serve LABEL_DIR`: the review app in a browser."""

    # The queue holds every frame unless told otherwise (`distil review` hands out 50).
    top: int | None = option(  # type: ignore[assignment]
        None, ge=1, le=MAX_COUNT, description="Frames in the queue (default: all of them)."
    )
    frames: QueueOrder = option(
        QueueOrder.RANKED,
        description="ranked (most likely wrong first, reviewed frames left out) or all "
        "(every frame in stored order).",
    )
    host: str = option(
        "127.0.0.1",
        min_length=1,
        max_length=253,
        description="Address to listen on (0.0.0.0: the network; the token is still needed).",
    )
    port: int = option(8765, ge=0, le=65535, description="Port to listen on (0: any free one).")
    segmenter: str | None = option(
        None,
        description="Segmenter that answers clicks and boxes: SAM, SAM 2.1, EdgeTAM or SAM 3 "
        "(default: the store's own, or SAM 3's tracker with a SAM 3 text model; none: no "
        "masks).",
    )
    text_model: str | None = option(
        None,
        description="SAM 3 checkpoint that finds every instance of a typed phrase (default: "
        "the store's teacher when it is SAM 3; none: no text search).",
    )
    reviewer: str | None = option(
        None,
        min_length=1,
        max_length=100,
        description="Name recorded with the labels saved (default: the login name).",
    )
    prefetch: StrictBool = option(
        True,
        description="Prepare the next frame's image and embedding while one is edited.",
    )


class StudentExportSettings(Section):
    """`distil export-model MODEL.pt` and the `export:` section of a run config."""

    section: ClassVar[str] = "export"

    formats: Annotated[list[ModelFormat], CommaList] = option(
        default_factory=lambda: [ModelFormat.ONNX],
        min_length=1,
        description="Model formats, comma-separated: onnx, torchscript, openvino, tflite, "
        "coreml, engine.",
        flags=["--format", "-f"],
    )
    imgsz: int | None = option(
        None, ge=32, le=MAX_IMGSZ, description="Model input size (default: the training size)."
    )
    half: StrictBool = option(False, description="FP16 weights.")
    dynamic: StrictBool = option(False, description="Dynamic input shape.")
    check: StrictBool = option(True, description="Check ONNX against PyTorch in onnxruntime.")
    int8: StrictBool = option(
        False,
        description="INT8 weights and activations, calibrated on the student's training "
        "images (ONNX: ONNX Runtime static quantization; openvino, tflite, engine: "
        "Ultralytics' int8); reports the mAP change on the validation frames.",
    )
    data: Path | None = option(
        None,
        description="With --int8: the dataset (folder or data.yaml) to calibrate on and "
        "score (default: the one the student was trained on).",
    )
    calibration: int = option(
        64, ge=1, le=MAX_COUNT, description="With --int8: training images to calibrate on."
    )
    benchmark: StrictBool = option(True, description="Time the ONNX model after export.", cli=False)
    benchmark_runs: int = option(
        50, ge=1, le=MAX_COUNT, description="Timed runs of the benchmark.", cli=False
    )


class PredictSettings(CpuSettings):
    """`distil predict`."""

    conf: Fraction = option(0.25, description="Keep boxes from this score.")
    imgsz: int | None = option(
        None, ge=32, le=MAX_IMGSZ, description="Inference size (default: trained)."
    )
    device: Device = "auto"
    track: StrictBool = option(
        False, description="Videos: give each object a track id (label files gain an id column)."
    )
    tracker: str = option(
        Tracker.BYTETRACK.value, description="With --track: bytetrack or botsort."
    )

    @field_validator("tracker")
    @classmethod
    def _tracker(cls, value: str) -> str:
        value = check_tracker(value)
        if value not in {t.value for t in BOX_TRACKERS}:
            raise ValueError(f"{value!r}: the student tracks boxes, with bytetrack or botsort")
        return value


class BenchmarkSettings(Section):
    """`distil benchmark-student`."""

    imgsz: Annotated[list[Annotated[int, Field(ge=32, le=MAX_IMGSZ)]], CommaList] = option(
        default_factory=lambda: [640],
        min_length=1,
        description="Comma-separated sizes; a .pt is exported once per size (in a "
        "temporary folder), a static .onnx runs at its own size only.",
    )
    runs: int = option(100, ge=1, le=MAX_COUNT, description="Timed runs per size.")
    threads: int | None = option(None, ge=1, le=1024, description="CPU threads (default: all).")


class PreviewSettings(Section):
    """`distil preview`."""

    num: int = option(16, ge=1, le=10_000, description="Images in the grid.", flags=["--num", "-n"])
    columns: int = option(4, ge=1, le=100, description="Columns of the grid.")
    seed: int = option(0, description="Which images are sampled.")
    box_threshold: Fraction | None = option(None, description="Default box threshold.")
    nms_iou: Fraction = option(0.7, description="Class-aware NMS IoU.")


# -- the whole run -------------------------------------------------------------------------

_RUN_NAME = re.compile(r"^[\w][\w.+-]*$")


def check_bars(bars: dict[str, Any]) -> dict[str, float]:
    """Quality bars `metric -> minimum in [0, 1]`; raises ValueError naming the bad one."""
    for metric, value in bars.items():
        if metric not in METRICS:
            raise ValueError(
                f"unknown metric '{metric}'.{did_you_mean(str(metric), METRICS)} "
                f"Metrics: {', '.join(METRICS)}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"{metric}: expected a number in [0, 1], got {value!r}")
    return {k: float(v) for k, v in bars.items()}


class RunSettings(Section):
    """A `distil run` config: label -> dataset -> train -> eval -> export."""

    inputs: Annotated[list[Path], CommaList] = option(
        ...,
        min_length=1,
        description="Image / video files or folders, or URLs (s3://bucket/prefix).",
    )
    ontology: Path = option(..., description="Ontology YAML.")
    name: str = option("exp", description="Run name: the run lives in PROJECT/NAME.")
    project: Path = option(Path("runs/run"), description="Folder of runs.")
    label: LabelSettings = option(default_factory=LabelSettings)
    dataset: DatasetSettings = option(default_factory=DatasetSettings)
    train: TrainSettings = option(default_factory=TrainSettings)
    eval: EvalSettings = option(default_factory=EvalSettings)
    export: StudentExportSettings = option(default_factory=StudentExportSettings)
    review: ReviewSettings | None = option(
        None, description="Write the next review round after training (see `distil review`)."
    )
    fail_under: dict[str, float] = option(
        default_factory=dict, description="Exit 3 below these bars (map50: 0.5)."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_run_name(value)

    @field_validator("project")
    @classmethod
    def _project(cls, value: Path) -> Path:
        return check_project(value)

    @field_validator("fail_under", mode="before")
    @classmethod
    def _bars(cls, value: Any) -> Any:
        return check_bars(value) if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _students_train_on_yolo(self) -> RunSettings:
        if self.dataset.format is not LabelFormat.YOLO:
            raise ValueError(
                "`dataset.format` must be yolo in a run: the student trains on a YOLO dataset "
                "(export COCO separately with `distil export`)"
            )
        return self

    @property
    def run_dir(self) -> Path:
        return self.project / self.name


def default(model: type[BaseModel], name: str) -> Any:
    """The default of one field, for library signatures.

    >>> default(LabelSettings, "batch")
    8
    """
    return model.model_fields[name].get_default(call_default_factory=True)


SECTIONS: dict[str, type[Section]] = {
    name: section
    for name, field in RunSettings.model_fields.items()
    for section in (field.annotation, *typing.get_args(field.annotation))
    if isinstance(section, type) and issubclass(section, Section)
}


# -- messages ------------------------------------------------------------------------------


def check_run_name(value: str) -> str:
    """A run name is one plain folder name: it cannot lead out of its project folder."""
    if value in (".", "..") or not _RUN_NAME.match(value):
        raise ValueError(
            "must be a plain folder name (letters, digits, '_', '-', '.', '+'; "
            "no path separators, not '..' and not empty)"
        )
    if len(value) > MAX_RUN_NAME:
        raise ValueError(f"is {len(value)} characters long; at most {MAX_RUN_NAME}")
    return value


def check_project(value: Path) -> Path:
    if not str(value).strip() or ".." in Path(value).parts:
        raise ValueError("must be a folder path without '..'")
    return value


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _flag_of(model: type[BaseModel], field: str) -> str:
    """The command-line name of a field: its first declared flag, else `--field-name`."""
    info = model.model_fields.get(field)
    extra = info.json_schema_extra if info and isinstance(info.json_schema_extra, dict) else {}
    declared = extra.get("flags")
    return str(declared[0]) if isinstance(declared, list) and declared else flag_name(field)


def _owner(model: type[BaseModel], path: list[str]) -> type[BaseModel]:
    """The (sub)model that holds the field at `path`."""
    for part in path[:-1]:
        annotation = getattr(model.model_fields.get(part), "annotation", None)
        # An optional section (`review: ReviewSettings | None`) is still that section.
        annotation = next(
            (a for a in typing.get_args(annotation) if a is not type(None)), annotation
        )
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        model = annotation
    return model


def describe_errors(error: ValidationError, model: type[BaseModel], flags: bool = False) -> str:
    """One line per problem, naming the field as the user wrote it: `--batch` on the
    command line, `label.batch` in a run config."""
    section = getattr(model, "section", "")
    lines = []
    for item in error.errors(include_url=False):
        path = [str(p) for p in item["loc"] if not isinstance(p, int)]
        if flags:
            where = _flag_of(_owner(model, path), path[-1]) if path else ""
        else:
            where = ".".join(([section] if section else []) + path)
        message = _explain(item, _owner(model, path) if path else model)
        if "`" in message:
            # A rule across fields (from a model validator at `where`) names them itself.
            def named(match: re.Match[str], where: str = where) -> str:
                if flags:
                    return flag_name(match[1])
                return f"{where}.{match[1]}" if where else match[1]

            lines.append(re.sub(r"`([\w.]+)`", named, message))
        else:
            lines.append(f"{where or 'settings'}: {message}")
    return "; ".join(lines)


def _explain(item: ErrorDetails, owner: type[BaseModel]) -> str:
    kind, ctx, value = item["type"], item.get("ctx") or {}, item.get("input")
    got = f", got {excerpt(value)}"
    if kind == "extra_forbidden":
        name = str(item["loc"][-1])
        hint = did_you_mean(name, list(owner.model_fields))
        return f"unknown field.{hint or getattr(owner, 'unknown_hint', '').format(name=name)}"
    if kind == "missing":
        return "is required"
    if kind in ("greater_than_equal", "too_short") and "ge" in ctx:
        return f"must be at least {ctx['ge']}{got}"
    if kind == "greater_than":
        return f"must be more than {ctx['gt']}{got}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}{got}"
    if kind == "less_than":
        return f"must be less than {ctx['lt']}{got}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length', 1)} item{got}"
    if kind == "enum":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"must be one of {', '.join(choices)}{got}.{did_you_mean(str(value), choices)}"
    if kind.startswith("int_"):
        return f"must be a whole number{got}"
    if kind.startswith("float_"):
        return f"must be a number{got}"
    if kind.startswith("bool_"):
        return f"must be true or false{got}"
    if kind.startswith("string_"):
        return f"must be text{got}"
    if kind in ("list_type", "tuple_type"):
        return f"must be a list{got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of settings{got}"
    if kind == "path_type":
        return f"must be a path{got}"
    return str(item["msg"]).removeprefix("Value error, ")
