"""Ultralytics checkpoints as teachers: closed-set YOLO / RT-DETR, and open-vocabulary
YOLO-World / YOLOE.

For a closed-set checkpoint, ontology prompts are matched to its class names (case and
'_' / '-' / ' ' insensitive), as Ultralytics' auto_annotate does; a prompt the checkpoint
does not know is an error that lists the names it does know. An open-vocabulary
checkpoint gets the ontology's prompts as its classes (`set_classes`, with one text
embedding per prompt), so prompt i is its class i.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from distil.base_models.core import Detector, make_detections
from distil.errors import UsageError
from distil.ontologies import Ontology
from distil.utils.cpu import SplitBatches, batch_workers
from distil.utils.device import resolve_device
from distil.utils.suggest import did_you_mean, normalize_name
from distil.utils.ultralytics import load_rtdetr, load_yolo
from distil.utils.weights import checkpoint_file

# Ultralytics' own prediction defaults; labels match `YOLO(...).predict` with these.
ULTRALYTICS_NMS_IOU = 0.7
ULTRALYTICS_MAX_DET = 300
# Models that take their classes as text embeddings: YOLO-World, YOLOE (text prompts).
OPEN_VOCABULARY_MODELS = ("WorldModel", "YOLOEModel", "YOLOESegModel")


def match_prompts(prompts: tuple[str, ...], names: dict[int, str]) -> list[int]:
    """The checkpoint class id of every prompt; raises ValueError for unknown prompts."""
    by_name = {normalize_name(n): i for i, n in names.items()}
    unknown = [p for p in prompts if normalize_name(p) not in by_name]
    if unknown:
        known = ", ".join(names[i] for i in sorted(names))
        hints = "".join(did_you_mean(p, names.values()) for p in unknown[:3])
        raise UsageError(
            f"prompt(s) {', '.join(repr(p) for p in unknown)} are not classes of this "
            f"closed-set detector.{hints} It knows: {known}"
        )
    ids = [by_name[normalize_name(p)] for p in prompts]
    if len(set(ids)) < len(ids):
        repeated = [p for p, i in zip(prompts, ids, strict=True) if ids.count(i) > 1]
        raise UsageError(f"prompts {', '.join(map(repr, repeated))} name the same class")
    return ids


def embeddings_digest(embeddings: Mapping[str, Any]) -> str | None:
    """A short digest of given text embeddings (prompt -> vector), for the fingerprint."""
    if not embeddings:
        return None
    digest = hashlib.sha256()
    for prompt in sorted(embeddings):
        digest.update(prompt.encode())
        digest.update(np.asarray(embeddings[prompt], dtype=np.float32).tobytes())
    return f"given:{digest.hexdigest()[:16]}"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


class UltralyticsDetector(Detector):
    """A local YOLO, RT-DETR, YOLO-World or YOLOE `.pt` checkpoint.

    An open-vocabulary checkpoint embeds the prompts with its own text encoder (CLIP for
    YOLO-World, MobileCLIP for YOLOE; Ultralytics downloads it on first use), unless
    `text_embeddings` gives them (prompt -> 1-D tensor), which needs no text encoder:

    >>> UltralyticsDetector(  # doctest: +SKIP
    ...     "yoloe-11s-seg.pt", text_embeddings={"forklift": vector})
    """

    family = "ultralytics"

    def __init__(
        self,
        model: str,
        device: str = "auto",
        half: bool = True,
        imgsz: int | None = None,
        nms_iou: float = ULTRALYTICS_NMS_IOU,
        text_embeddings: Mapping[str, Any] | None = None,
    ) -> None:
        path = checkpoint_file(model)  # a bare yolo11n.pt: from the weights cache
        self.name = str(path)
        self.revision = f"sha256:{file_digest(path)}"
        self.device = resolve_device(device)
        self.half = half and self.device.type == "cuda"
        self.yolo = load_yolo(path)
        if type(self.yolo.model).__name__ == "RTDETRDetectionModel":
            self.yolo = load_rtdetr(path)
        if self.yolo.task not in ("detect", "segment", "obb", "pose"):
            raise UsageError(f"{model}: a '{self.yolo.task}' checkpoint cannot detect boxes")
        self.names: dict[int, str] = dict(self.yolo.names)
        self.imgsz = imgsz or int(self.yolo.overrides.get("imgsz", 640))
        self.nms_iou = nms_iou
        self.open_vocabulary = type(self.yolo.model).__name__ in OPEN_VOCABULARY_MODELS
        if self.open_vocabulary and hasattr(self.yolo.model.model[-1], "lrpc"):
            raise UsageError(
                f"{model} is a prompt-free YOLOE checkpoint (its own fixed vocabulary); use "
                "a text-prompt YOLOE checkpoint (e.g. yoloe-11s-seg.pt, not ...-seg-pf.pt)"
            )
        self.text_embeddings = dict(text_embeddings or {})
        self.given_embeddings = embeddings_digest(self.text_embeddings)
        self.classes: tuple[str, ...] | None = None  # the prompts set as classes
        self._backend = self._direct_backend()
        self._split = None  # on a CPU, parts of a batch run side by side (utils/cpu)
        if self._backend is not None and self.device.type == "cpu" and batch_workers() > 1:
            self._split = SplitBatches(batch_workers())

    def _direct_backend(self):
        """For a plain YOLO detection model: Ultralytics' AutoBackend, driven directly, so
        letterboxing runs in the background reader and the input is channels-last on CPU
        (what AutoBackend's CPU weights are). Other models go through `YOLO.predict`."""
        if self.yolo.task != "detect" or type(self.yolo.model).__name__ != "DetectionModel":
            return None
        from ultralytics.nn.autobackend import AutoBackend

        backend = AutoBackend(self.yolo.model, device=self.device, fp16=self.half, verbose=False)
        return backend.eval()

    def describe(self) -> dict[str, Any]:
        described = {
            "family": self.family,
            "model": self.name,
            "revision": self.revision,
            "architecture": type(self.yolo.model).__name__,
            "imgsz": self.imgsz,
            "nms_iou": self.nms_iou,
            "half": self.half,
        }
        if self.open_vocabulary:
            described["text_embeddings"] = self.given_embeddings or "text encoder"
        return described

    def check_ontology(self, ontology: Ontology) -> list[int]:
        """The checkpoint class id of every prompt (an open-vocabulary checkpoint first
        takes the prompts as its classes)."""
        if self.open_vocabulary:
            self.set_classes(ontology.prompts)
            return list(range(len(ontology.prompts)))
        return match_prompts(ontology.prompts, self.names)

    def set_classes(self, prompts: tuple[str, ...]) -> None:
        """Make `prompts` the open-vocabulary model's classes, in order."""
        if prompts == self.classes:
            return
        import torch

        model = self.yolo.model
        missing = [p for p in dict.fromkeys(prompts) if p not in self.text_embeddings]
        if missing:
            try:
                computed = model.get_text_pe(missing)  # (1, n, dim)
            except (ImportError, OSError, RuntimeError) as e:
                raise UsageError(
                    f"{self.name} embeds prompts with Ultralytics' text encoder, which "
                    f"could not be loaded ({type(e).__name__}: {e}). Install it (YOLO-World: "
                    "pip install git+https://github.com/ultralytics/CLIP.git) and allow its "
                    "weights to download once, or give the embeddings "
                    "(UltralyticsDetector(..., text_embeddings=...))"
                ) from e
            self.text_embeddings.update(zip(missing, computed[0], strict=True))
        embeddings = torch.stack([torch.as_tensor(self.text_embeddings[p]) for p in prompts])
        embeddings = embeddings[None].float()
        if type(model).__name__ == "WorldModel":
            model.txt_feats = embeddings
            model.model[-1].nc = len(prompts)
        else:
            model.set_classes(list(prompts), embeddings)
        self.names = dict(enumerate(prompts))
        model.names = self.names
        self.yolo.predictor = None  # rebuilt on the next predict, with these classes
        self.classes = prompts

    def compile(self) -> None:
        model = self._backend.backend.model if self._backend is not None else self.yolo.model
        model.compile(dynamic=True)

    def input_size(self) -> int:
        return self.imgsz

    def prepare(self, images: list[np.ndarray], ontology: Ontology) -> Any:
        """Letterboxed batch as a uint8 NHWC tensor (pinned for a GPU)."""
        if self._backend is None:
            return None
        import torch
        from ultralytics.data.augment import LetterBox

        letterbox = LetterBox((self.imgsz, self.imgsz), auto=False, stride=self._backend.stride)
        batch = torch.from_numpy(np.stack([letterbox(image=image) for image in images]))
        return batch.pin_memory() if self.device.type == "cuda" else batch

    def detect(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
        prepared: Any = None,
    ) -> list[sv.Detections]:
        checkpoint_ids = self.check_ontology(ontology)
        prompt_of = np.zeros(max(self.names) + 1, dtype=np.int64)  # checkpoint id -> prompt
        prompt_of[checkpoint_ids] = np.arange(len(checkpoint_ids))
        if self._backend is not None:
            boxes = self._detect_direct(images, ontology, min_confidence, prepared, checkpoint_ids)
            return [
                # A closed-set class name has no text match to score; only the box
                # threshold applies (a text threshold would silently cut low scores).
                make_detections(
                    found[:, :4],
                    found[:, 4],
                    prompt_of[found[:, 5].astype(np.int64)],
                    np.ones(len(found), dtype=np.float32),
                    ontology,
                )
                for found in boxes
            ]
        # Square letterboxing (rect=False), as Ultralytics' val does in effect: the result of
        # an image does not depend on its batch, and on COCO128 YOLO11n scores mAP50-95
        # 0.515 this way against 0.490 with minimal-rectangle letterboxing.
        predictions = self.yolo.predict(
            [np.ascontiguousarray(image[..., ::-1]) for image in images],  # RGB -> BGR
            conf=min_confidence,
            iou=self.nms_iou,
            imgsz=self.imgsz,
            rect=False,
            classes=sorted(set(checkpoint_ids)),
            max_det=ULTRALYTICS_MAX_DET,
            device=str(self.device),
            verbose=False,
            batch=len(images),
            **({"half": True} if self.half else {}),
        )
        results = []
        for prediction in predictions:
            boxes = prediction.boxes
            cls = boxes.cls.cpu().numpy().astype(int)
            confidence = boxes.conf.cpu().numpy()
            prompt_id = prompt_of[cls]
            # A closed-set class name has no text match to score; only the box threshold
            # applies (a text threshold would silently cut low scores).
            results.append(
                make_detections(
                    boxes.xyxy.cpu().numpy(),
                    confidence,
                    prompt_id,
                    np.ones_like(confidence),
                    ontology,
                )
            )
        return results

    def _detect_direct(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
        prepared: Any,
        checkpoint_ids: list[int],
    ) -> list[np.ndarray]:
        """What `YOLO.predict(rect=False)` computes, as (N, 6) xyxy-score-class arrays:
        the same letterbox, AutoBackend forward, NMS and box scaling."""
        import torch
        from ultralytics.utils import ops
        from ultralytics.utils.nms import non_max_suppression

        batch = prepared if prepared is not None else self.prepare(images, ontology)
        classes = sorted(set(checkpoint_ids))

        def forward(part) -> list:
            with torch.inference_mode():  # per thread
                pixels = part.to(self.device, non_blocking=True).permute(0, 3, 1, 2)
                # A permuted NHWC tensor is channels-last already: kept on CPU, where the
                # weights are channels-last; made contiguous on a GPU, where they are.
                if self.device.type != "cpu":
                    pixels = pixels.contiguous()
                pixels = (pixels.half() if self._backend.fp16 else pixels.float()).div_(255)
                return non_max_suppression(
                    self._backend(pixels),
                    min_confidence,
                    self.nms_iou,
                    classes=classes,
                    max_det=ULTRALYTICS_MAX_DET,
                    end2end=getattr(self._backend, "end2end", False),
                )

        if self._split is not None and len(batch) > 1:
            found = [
                b for p in self._split.map(forward, batch.chunk(self._split.workers)) for b in p
            ]
        else:
            found = forward(batch)
        with torch.inference_mode():
            for boxes, image in zip(found, images, strict=True):
                boxes[:, :4] = ops.scale_boxes(batch.shape[1:3], boxes[:, :4], image.shape)
        return [boxes.float().cpu().numpy() for boxes in found]
