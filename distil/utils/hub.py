"""Reaching the Hugging Face hub: once, quickly, and with a fix in the error.

Left alone, `huggingface_hub` retries an unreachable hub for half a minute and then says
only that it could not connect. distil asks the hub once per process (a few seconds at
most); when it cannot be reached, a cached model is used offline and a model that is not
cached fails with one line naming the fixes.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from distil.errors import UsageError

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 4.0
CONFIG_FILE = "config.json"


class HubUnreachableError(UsageError):
    """A model named by hub id that is neither cached nor downloadable from here."""


def offline() -> bool:
    """Whether the hub is off (`HF_HUB_OFFLINE=1`, or switched off by `prepare`)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _go_offline() -> None:
    """Serve every later hub id from the cache, without asking the hub again."""
    from huggingface_hub import constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True


@functools.cache
def hub_error() -> str | None:
    """Why the hub cannot be reached (None when it can): one request, no retries."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().request(
            "HEAD", constants.ENDPOINT, timeout=PROBE_TIMEOUT_S, follow_redirects=False
        )
    except Exception as e:  # noqa: BLE001 - any failure to get an answer means unreachable
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return None


def cached(model_id: str) -> bool:
    """Whether the HF cache holds `model_id`'s config (its weights come with it)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(model_id, CONFIG_FILE), str)
    except ValueError:  # not a valid repo id
        return False


def unreachable_message(model_id: str, reason: str) -> str:
    """One line: the model, why it cannot be had, and the fixes (never one already made:
    with HF_HUB_OFFLINE set, not to set it)."""
    from huggingface_hub import constants

    then = "" if offline() else " and run with HF_HUB_OFFLINE=1"
    return (
        f"cannot load '{model_id}': not a folder here, not in the Hugging Face cache "
        f"({constants.HF_HUB_CACHE}), and {reason}. Fixes: give a local model folder; or "
        f"download it once on a connected machine (same HF_HOME){then}; or use a YOLO .pt "
        "teacher (configs/yolo-run.yaml runs one offline)"
    )


def prepare(model_id: str) -> None:
    """Before transformers resolves `model_id` (not a local path): when the hub cannot be
    reached, use the cached copy offline, or raise `HubUnreachableError` with the fixes.

    >>> prepare("IDEA-Research/grounding-dino-tiny")  # doctest: +SKIP
    """
    if Path(model_id).expanduser().exists():
        return
    if offline():
        if not cached(model_id):
            raise HubUnreachableError(unreachable_message(model_id, "HF_HUB_OFFLINE is set"))
        return
    reason = hub_error()
    if reason is None:
        return
    if not cached(model_id):
        from huggingface_hub import constants

        raise HubUnreachableError(
            unreachable_message(model_id, f"the hub ({constants.ENDPOINT}) cannot be reached")
        )
    logger.info("the Hugging Face hub cannot be reached (%s): using cached models", reason)
    _go_offline()
