"""Import Ultralytics the way distil needs it: offline, quiet, never installing anything,
and loading checkpoints as data (no code in a `.pt` ever runs)."""

from __future__ import annotations

import functools
import logging
import os
import re
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from distil.errors import CheckpointError, UsageError
from distil.utils.files import OUTPUT_MARKER

logger = logging.getLogger(__name__)

# Ultralytics otherwise pip-installs missing export packages and checks hubs; distil says
# what to install instead and works without a network.
_OFFLINE_ENV = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "false", "YOLO_VERBOSE": "false"}


def import_ultralytics() -> ModuleType:
    """`ultralytics`, imported with auto-install, online checks and font downloads off, and
    its safe load on: `torch.load(weights_only=True)` with an allow-list of model classes,
    so a pickled payload in a checkpoint is refused instead of run."""
    for key, value in _OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    # Ultralytics reads this flag once at import; it is also set on the module below in
    # case the library was imported before distil.
    os.environ["ULTRALYTICS_SAFE_LOAD"] = "1"
    import ultralytics
    import ultralytics.nn.tasks as tasks

    if not tasks._SafeLoad.SUPPORTED:
        raise UsageError("loading checkpoints safely needs torch>=2.6; upgrade torch")
    tasks.SAFE_LOAD = True
    # With Ray installed, Ultralytics' Ray Tune callback asks Ray for a trial every epoch,
    # and outside a Tune session Ray answers each time with this warning.
    warnings.filterwarnings("ignore", message="`get_trial_id` is meant", category=UserWarning)
    _use_local_fonts()
    _cache_only_in_distil_folders()
    return ultralytics


def _cache_only_in_distil_folders() -> None:
    """Ultralytics writes a `labels.cache` beside a dataset's labels when it can; distil
    writes only in its own folders, so the cache is kept only in a dataset distil wrote
    (marked `.distil-output`). Training on a user's dataset reads its labels each time."""
    import ultralytics.data.dataset as dataset

    saving = dataset.save_dataset_cache_file
    if getattr(saving, "distil", False):
        return

    def save(prefix: str, path: Path, x: dict, version: str) -> None:
        x["version"] = version  # as Ultralytics' own function sets it, saved or not
        folder = Path(path).resolve().parent
        if any((f / OUTPUT_MARKER).is_file() for f in (folder, *folder.parents)):
            saving(prefix, path, x, version)

    save.distil = True  # type: ignore[attr-defined]
    dataset.save_dataset_cache_file = save


def load_yolo(weights: Path | str, **options: Any) -> Any:
    """`ultralytics.YOLO(weights)` loaded as data; a checkpoint that holds anything but an
    Ultralytics model, or is not a checkpoint, is a `CheckpointError` with a one-line reason.

    >>> model = load_yolo("runs/train/exp/weights/best.pt")  # doctest: +SKIP
    """
    ultralytics = import_ultralytics()
    return _loading(weights, lambda: ultralytics.YOLO(str(weights), **options))


def load_rtdetr(weights: Path | str) -> Any:
    """`ultralytics.RTDETR(weights)`, loaded like `load_yolo`."""
    ultralytics = import_ultralytics()
    return _loading(weights, lambda: ultralytics.RTDETR(str(weights)))


def _loading(weights: Path | str, load: Any) -> Any:
    try:
        return load()
    except TypeError as e:
        cause = e.__cause__
        if cause is None or Path(str(weights)).suffix != ".pt":
            raise
        # torch names the first global it refused: "Unsupported global: GLOBAL posix.system"
        refused = re.search(r"GLOBAL ([\w.]+)", str(cause))
        if refused:
            raise CheckpointError(
                f"{weights}: refused: the checkpoint holds Python objects that are not part "
                f"of an Ultralytics model ({refused.group(1)}); distil loads checkpoints as "
                "data only and never runs code from them"
            ) from None
        raise CheckpointError(
            f"{weights}: not a loadable checkpoint ({type(cause).__name__}: "
            f"{str(cause).splitlines()[0][:200]})"
        ) from None


@functools.cache
def _use_local_fonts() -> None:
    """Plots and dataset checks ask for Arial and download it when missing; use a local font.

    Ultralytics imports `check_font` by name into two modules, so all three are replaced.
    A font found locally (Ultralytics' config dir or the system) is still used as is.
    """
    import ultralytics.data.utils as data_utils
    import ultralytics.utils.checks as checks
    import ultralytics.utils.plotting as plotting
    from matplotlib import font_manager

    original = checks.check_font

    def check_font(font: str = "Arial.ttf") -> Path | str | None:
        name = Path(font).name
        if (checks.USER_CONFIG_DIR / name).exists() or any(
            name in f.fname for f in font_manager.fontManager.ttflist
        ):
            return original(font)
        fallback = font_manager.findfont("DejaVu Sans")
        logger.debug(
            "font %s is not installed; plots use %s instead of downloading it", font, fallback
        )
        return fallback

    for module in (checks, data_utils, plotting):
        module.check_font = check_font
