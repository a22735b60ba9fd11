"""Import Ultralytics the way distil needs it: offline, quiet, never installing anything."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from types import ModuleType

logger = logging.getLogger(__name__)

# Ultralytics otherwise pip-installs missing export packages and checks hubs; distil says
# what to install instead and works without a network.
_OFFLINE_ENV = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "false", "YOLO_VERBOSE": "false"}


def import_ultralytics() -> ModuleType:
    """`ultralytics`, imported with auto-install, online checks and font downloads off."""
    for key, value in _OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    import ultralytics

    _use_local_fonts()
    return ultralytics


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
