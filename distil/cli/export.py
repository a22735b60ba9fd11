"""`distil export`: label store -> YOLO / COCO dataset, or student .pt -> ONNX and others."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from distil.cli.common import console, handle_errors, print_json, setup_logging
from distil.datasets import (
    DEFAULT_NMS_IOU,
    ExportFormat,
    ExportOptions,
    ExportTask,
    ImageMode,
    export_dataset,
    parse_split,
)
from distil.datasets.polygons import DEFAULT_MIN_FRAGMENT_AREA, DEFAULT_POLYGON_TOLERANCE
from distil.ontologies import Ontology
from distil.target_models import ModelFormat, export_student
from distil.utils.suggest import did_you_mean


@handle_errors
def export(
    source: Annotated[
        Path,
        typer.Argument(
            help="Folder written by `distil label` (dataset export), or student "
            "weights .pt (model export)."
        ),
    ],
    to: Annotated[
        Path | None, typer.Option(help="Dataset folder. Default: LABEL_DIR/dataset.")
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Dataset: yolo (default), coco. Model: onnx "
            "(default), torchscript, openvino, tflite, coreml, engine.",
        ),
    ] = None,
    imgsz: Annotated[int, typer.Option(min=32, help="Model export: input size.")] = 640,
    half: Annotated[bool, typer.Option(help="Model export: FP16 weights.")] = False,
    dynamic: Annotated[bool, typer.Option(help="Model export: dynamic input shape.")] = False,
    check: Annotated[
        bool, typer.Option(help="Model export: check ONNX against PyTorch in onnxruntime.")
    ] = True,
    task: Annotated[
        ExportTask, typer.Option(help="detect (boxes) or segment (polygons/masks).")
    ] = ExportTask.DETECT,
    box_threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="Default box threshold; per-class values in the ontology win."
        ),
    ] = None,
    text_threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Default text threshold; per-class values win."),
    ] = None,
    nms_iou: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Class-aware NMS IoU.")
    ] = DEFAULT_NMS_IOU,
    classes: Annotated[
        str | None, typer.Option(help="Only these classes, comma-separated.")
    ] = None,
    split: Annotated[str, typer.Option(help="train,val[,test] fractions.")] = "0.8,0.2",
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
    images: Annotated[
        ImageMode, typer.Option(help="link (hard link), copy or symlink.")
    ] = ImageMode.LINK,
    min_fragment_area: Annotated[
        float, typer.Option(min=0.0, help="Mask parts smaller than this many pixels are dropped.")
    ] = DEFAULT_MIN_FRAGMENT_AREA,
    polygon_tolerance: Annotated[
        float, typer.Option(min=0.0, help="Polygon simplification, in pixels (0 = exact outline).")
    ] = DEFAULT_POLYGON_TOLERANCE,
    coco_rle: Annotated[
        bool,
        typer.Option(help="COCO segment export: exact RLE masks (holes kept) instead of polygons."),
    ] = False,
    ontology: Annotated[
        Path | None,
        typer.Option(
            help="Ontology YAML with changed thresholds/areas (same classes and prompts)."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Write a YOLO / COCO dataset from stored labels, or export a trained student."""
    setup_logging(quiet)
    if source.suffix == ".pt":
        result = export_student(
            source,
            ModelFormat(_choice(format or "onnx", ModelFormat)),
            imgsz=imgsz,
            half=half,
            dynamic=dynamic,
            check=check,
        )
        if json_output:
            print_json(result.to_dict())
        elif not quiet:
            checked = (
                f", onnxruntime matches PyTorch (max diff {result.check['max_abs_diff']:.2g})"
                if result.check
                else ""
            )
            console.print(
                f"[green]exported[/] {result.format} in {result.seconds:.1f}s{checked}"
                f" -> {result.path}"
            )
        return
    options = ExportOptions(
        format=ExportFormat(_choice(format or "yolo", ExportFormat)),
        task=task,
        box_threshold=box_threshold,
        text_threshold=text_threshold,
        nms_iou=nms_iou,
        classes=[c.strip() for c in classes.split(",")] if classes else None,
        split=parse_split(split),
        seed=seed,
        images=images,
        min_fragment_area=min_fragment_area,
        polygon_tolerance=polygon_tolerance,
        coco_rle=coco_rle,
        ontology=Ontology.from_yaml(ontology) if ontology else None,
    )
    summary = export_dataset(source, to or Path(source) / "dataset", options)
    if json_output:
        print_json(summary.to_dict())
    elif not quiet:
        splits = ", ".join(f"{k} {v}" for k, v in summary.images_per_split.items())
        console.print(
            f"[green]exported[/] {summary.images} images ({splits}), "
            f"{sum(summary.instances_per_class.values())} instances -> {summary.out}"
        )


def _choice(value: str, choices: type[Enum]) -> str:
    allowed = [c.value for c in choices]
    if value not in allowed:
        kind = "model" if choices is ModelFormat else "dataset"
        raise ValueError(
            f"--format {value}: not a {kind} format.{did_you_mean(value, allowed)} "
            f"Choose from: {', '.join(allowed)}"
        )
    return value
