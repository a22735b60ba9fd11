"""Ultralytics YOLO students (detect and segment): train, predict, export.

A student starts from pretrained weights: a `.pt` given, or `<name>.pt` found on disk or
downloaded into distil's cache (`distil.utils.weights`); from the model YAML with
random weights only when no weights can be had, which is said once.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distil.errors import MissingInputError, OutputExistsError, UsageError
from distil.settings import (
    DEFAULT_STUDENT,
    TrainSettings,
)
from distil.target_models.core import (
    TRAIN_DONE_FILE,
    StudentTask,
    TargetModel,
    TrainResult,
    TrainStatus,
    check_run_folder,
    log_epochs,
)
from distil.target_models.data import dataset_task, find_data_yaml, resolved_data_yaml
from distil.utils.cpu import use_threads
from distil.utils.device import ultralytics_device
from distil.utils.files import atomic_write_json, increment_path, mark_output
from distil.utils.suggest import did_you_mean
from distil.utils.ultralytics import import_ultralytics, load_yolo
from distil.utils.weights import download_weights, find_weights, weights_dirs

logger = logging.getLogger(__name__)

# Keys distil sets itself; the rest of Ultralytics' settings pass through.
MANAGED_KEYS = {
    "model",
    "data",
    "project",
    "name",
    "exist_ok",
    "device",
    "mode",
    "task",
    "resume",
    "source",
    "format",
}


@dataclass
class StudentSource:
    """Where a student's weights come from."""

    model: str  # a .pt path or a model YAML name
    pretrained: bool
    task: StudentTask


def watch_training(yolo: Any, progress: Callable[[TrainStatus], None]) -> None:
    """Send `progress` a `TrainStatus` after every batch and epoch of `yolo`'s training."""
    batches = 0
    started = time.perf_counter()

    def status(trainer: Any, **changes: Any) -> TrainStatus:
        losses = {k: round(float(v), 5) for k, v in (trainer.tloss or {}).items()}
        return TrainStatus(
            epoch=trainer.epoch + 1, epochs=trainer.epochs, batch=batches,
            batches=len(trainer.train_loader), losses=losses, **changes,
        )  # fmt: skip

    def epoch_start(trainer: Any) -> None:
        nonlocal batches, started
        batches, started = 0, time.perf_counter()

    def batch_end(trainer: Any) -> None:
        nonlocal batches
        batches += 1
        progress(status(trainer))

    def epoch_end(trainer: Any) -> None:
        if trainer.epoch >= trainer.epochs:  # the final check of best.pt, not an epoch
            return
        # Ultralytics validates every epoch, or only the last with val=False; the metrics
        # of an epoch it did not validate are stale zeros, not a score.
        validated = bool(trainer.args.val) or trainer.epoch + 1 >= trainer.epochs
        metrics = {k: round(float(v), 5) for k, v in (trainer.metrics or {}).items()}
        if not validated:
            metrics = {}
        elapsed = time.perf_counter() - started
        progress(
            status(trainer, metrics=metrics, epoch_done=True, epoch_s=elapsed, validated=validated)
        )

    yolo.add_callback("on_train_epoch_start", epoch_start)
    yolo.add_callback("on_train_batch_end", batch_end)
    yolo.add_callback("on_fit_epoch_end", epoch_end)


def ultralytics_keys() -> set[str]:
    from ultralytics.cfg import DEFAULT_CFG_DICT

    return set(DEFAULT_CFG_DICT)


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Unknown or distil-managed keys fail with a suggestion; values are type-checked."""
    import_ultralytics()
    from ultralytics.cfg import check_cfg

    known = ultralytics_keys() - MANAGED_KEYS
    for key in options:
        if key in MANAGED_KEYS:
            raise UsageError(f"option '{key}' is set by distil; use its own flag instead")
        if key not in known:
            raise UsageError(f"unknown Ultralytics option '{key}'.{did_you_mean(key, known)}")
    checked = dict(options)
    try:
        check_cfg(checked)
    except (TypeError, ValueError) as e:
        raise UsageError(f"invalid Ultralytics option: {e}") from None
    return checked


def resolve_student(
    model: str, task: StudentTask, weights_dir: Path | None = None, download: bool = False
) -> StudentSource:
    """A `.pt`/`.yaml` path as given; a name like `yolo11n` -> `<name>.pt` on disk, or
    downloaded (with `download`), or else the YAML (random weights, with one warning).

    >>> resolve_student("yolo11n", StudentTask.SEGMENT).model  # no weights anywhere
    'yolo11n-seg.yaml'
    """
    path = Path(model)
    if path.suffix in (".pt", ".yaml", ".yml"):
        if path.is_file():
            if path.suffix != ".pt":
                check_model_yaml(path)
            return StudentSource(str(path), path.suffix == ".pt", task)
        if path.suffix == ".pt" and (path.parent != Path(".") or not _is_model_name(path.stem)):
            raise MissingInputError(f"student weights not found: {model}")
        model = path.stem  # a bare name such as yolo11n.pt or yolo11n.yaml, as in `yolo`
    name = model.lower()
    if task is StudentTask.SEGMENT and not name.endswith("-seg"):
        name += "-seg"
    elif task is StudentTask.DETECT and name.endswith("-seg"):
        raise UsageError(
            f"--model {model} is a segmentation model but the dataset has boxes "
            "only: use a detect model or export with --task segment"
        )
    _check_yaml_exists(f"{name}.yaml")
    found = find_weights(name, weights_dir)
    if found is None and download:
        try:
            found = download_weights(name)
        except (ConnectionError, OSError) as e:
            reason = str(e).strip(" ❌\n").split("\n")[0] or type(e).__name__
            logger.warning(
                "no pretrained %s.pt (looked in %s; download: %s): training %s.yaml from "
                "random weights, which needs far more epochs",
                name, ", ".join(map(str, weights_dirs(weights_dir))), reason, name,
            )  # fmt: skip
    if found is not None:
        return StudentSource(str(found), True, task)
    return StudentSource(f"{name}.yaml", False, task)


# What an Ultralytics model YAML's `activation` may be: a torch.nn module made with no
# arguments. Ultralytics evaluates the text; anything else would be code run.
_ACTIVATION = re.compile(r"^(torch\.)?nn\.[A-Za-z][A-Za-z0-9]*\(\)$")


def check_model_yaml(path: Path) -> None:
    """Refuse a model YAML that is not data: read safely (bounded, no tags), and an
    `activation` that is not a plain `nn.Module()` name (Ultralytics evaluates it)."""
    from distil.utils.yaml import load_yaml

    data = load_yaml(path)
    if not isinstance(data, dict) or "backbone" not in data:
        raise UsageError(f"{path}: not an Ultralytics model YAML (no `backbone`)")
    activation = data.get("activation")
    if activation is not None and not _ACTIVATION.match(str(activation).replace(" ", "")):
        raise UsageError(
            f"{path}: activation: {str(activation)[:60]!r} is not an activation such as "
            "nn.SiLU(); a model file holds data, and distil runs no code from it"
        )


def _is_model_name(name: str) -> bool:
    try:
        _check_yaml_exists(f"{name}.yaml")
    except ValueError:
        return False
    return True


def _check_yaml_exists(name: str) -> None:
    import_ultralytics()
    from ultralytics.nn.tasks import yaml_model_load

    try:
        yaml_model_load(name)
    except FileNotFoundError:
        raise UsageError(
            f"unknown student model '{name[:-5]}': expected a .pt file or an "
            "Ultralytics model name such as yolo11n, yolo11s, yolov8n, "
            "yolo11n-seg"
        ) from None


class YoloStudent(TargetModel):
    """An Ultralytics YOLO student.

    >>> YoloStudent().train(Path("runs/label/exp/dataset"), epochs=1, imgsz=64)  # doctest: +SKIP
    """

    def __init__(self, weights: str | Path | None = None) -> None:
        self.weights = Path(weights) if weights else None

    @classmethod
    def accepts(cls, model: str) -> bool:
        return True  # asked last: any name the other students do not take

    @classmethod
    def accepts_weights(cls, weights: Path) -> bool:
        return True

    @classmethod
    def accepts_run(cls, run_dir: Path) -> bool:
        return True

    def train(
        self,
        data: Path,
        model: str = DEFAULT_STUDENT,
        project: Path = Path("runs/train"),
        name: str | None = None,
        device: str = "auto",
        weights_dir: Path | None = None,
        progress: Callable[[TrainStatus], None] = log_epochs,
        threads: int | None = None,
        **options: Any,
    ) -> TrainResult:
        """Train a student on a YOLO dataset in `project/name` (next free expN by default);
        `progress` gets a `TrainStatus` after every batch and epoch; `threads`: torch's CPU
        threads (default: the cores this process may use, less one)."""
        check_run_folder(project, name)
        data_yaml = find_data_yaml(data)
        options = check_options(options)
        device_arg = ultralytics_device(device)  # before a download or a model loads
        use_threads(threads)
        source = resolve_student(model, dataset_task(data_yaml), weights_dir, download=True)
        run_dir = Path(project) / name if name else increment_path(Path(project) / "exp")
        if (run_dir / "weights" / "last.pt").exists():
            raise OutputExistsError(
                f"{run_dir} already holds a training run: resume it with "
                f"--resume {run_dir} or choose another --name"
            )
        yolo = load_yolo(source.model, task=source.task.value)
        mark_output(run_dir)  # after the checkpoint loaded: a refused one leaves no run
        trained_on = resolved_data_yaml(data_yaml, run_dir)
        watch_training(yolo, progress)
        start = time.perf_counter()
        yolo.train(
            data=str(trained_on.resolve()),
            project=str(run_dir.parent.resolve()),
            name=run_dir.name,
            exist_ok=True,
            device=device_arg,
            **options,
        )
        return self._finish(yolo, run_dir, source, device_arg, start, resumed=False)

    def train_with(
        self,
        data: Path,
        settings: TrainSettings,
        project: Path,
        name: str | None = None,
        progress: Callable[[TrainStatus], None] = log_epochs,
        validator: Any = None,
    ) -> TrainResult:
        """`train` with the options of a `TrainSettings` (`distil train`, `distil run`);
        Ultralytics validates every epoch itself, so `validator` is not used."""
        if len(settings.models) > 1:
            raise UsageError(
                f"--model {settings.model}: several candidates are compared by "
                "`distil train` (distil.evaluation.candidates), one model trains here"
            )
        return self.train(
            data,
            model=settings.model,
            project=project,
            name=name,
            device=settings.device,
            weights_dir=settings.weights_dir,
            progress=progress,
            threads=settings.threads,
            **settings.ultralytics_options(),
        )

    def resume(
        self,
        run_dir: Path,
        progress: Callable[[TrainStatus], None] = log_epochs,
        validator: Any = None,
    ) -> TrainResult:
        """Continue an interrupted run from its last.pt; a finished run is returned as is."""
        run_dir = Path(run_dir)
        done = run_dir / TRAIN_DONE_FILE
        if done.is_file():
            return TrainResult(**json.loads(done.read_text()))
        last = run_dir / "weights" / "last.pt"
        if not last.is_file():
            raise MissingInputError(f"{run_dir} has no weights/last.pt to resume from")
        yolo = load_yolo(last)
        args = yolo.ckpt.get("train_args", {}) if yolo.ckpt else {}
        source = StudentSource(
            str(args.get("model", last)), bool(args.get("pretrained")), StudentTask(yolo.task)
        )
        watch_training(yolo, progress)
        start = time.perf_counter()
        yolo.train(resume=True)
        return self._finish(yolo, run_dir, source, str(args.get("device")), start, resumed=True)

    def _finish(
        self,
        yolo: Any,
        run_dir: Path,
        source: StudentSource,
        device: str,
        start: float,
        resumed: bool,
    ) -> TrainResult:
        trainer = yolo.trainer
        save_dir = Path(trainer.save_dir)
        metrics = {k: round(float(v), 5) for k, v in (trainer.metrics or {}).items()}
        result = TrainResult(
            run_dir=str(save_dir),
            best=str(save_dir / "weights" / "best.pt"),
            last=str(save_dir / "weights" / "last.pt"),
            model=source.model,
            pretrained=source.pretrained,
            task=source.task.value,
            device=device,
            epochs=int(trainer.epochs),
            metrics=metrics,
            elapsed_s=round(time.perf_counter() - start, 1),
            resumed=resumed,
        )
        atomic_write_json(save_dir / TRAIN_DONE_FILE, result.to_dict())
        self.weights = Path(result.best)
        return result

    def _loaded(self):
        if self.weights is None or not self.weights.is_file():
            raise MissingInputError(f"student weights not found: {self.weights}")
        if self.weights.suffix == ".onnx":
            from distil.target_models.latency import load_onnx

            load_onnx(self.weights)  # a damaged file is one line, not Ultralytics' error
        return load_yolo(self.weights)

    def predict(self, sources: list[Path], out_dir: Path, **options: Any) -> Any:
        from distil.target_models.predict import predict_student

        return predict_student(self._loaded(), sources, out_dir, **options)

    def export(self, format: str, **options: Any) -> Any:
        from distil.target_models.export import export_student

        if self.weights is None:
            raise UsageError("no student weights to export")
        return export_student(self.weights, format, **options)
