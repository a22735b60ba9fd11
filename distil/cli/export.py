"""`distil export`: label store -> YOLO / COCO dataset; `distil export-model`: student .pt ->
ONNX and other deployment formats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distil.cli.common import console, escape, handle_errors, print_json, setup_logging
from distil.cli.params import JsonFlag, QuietFlag, takes
from distil.errors import UsageError
from distil.settings import DatasetSettings, StudentExportSettings


@handle_errors
@takes(DatasetSettings)
def export(
    label_dir: Annotated[
        Path, typer.Argument(metavar="LABEL_DIR", help="Folder written by `distil label`.")
    ],
    settings: DatasetSettings,
    to: Annotated[
        Path | None, typer.Option(help="Dataset folder. Default: LABEL_DIR/dataset.")
    ] = None,
    *,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Write a dataset from stored labels: YOLO, COCO, VOC, or Label Studio / CVAT import
    files (a student .pt: `distil export-model`)."""
    setup_logging(quiet)
    if label_dir.suffix == ".pt":
        raise UsageError(
            f"{label_dir} is a model, not a label folder: export it with "
            f"`distil export-model {label_dir}`"
        )
    from distil.store import require_store

    require_store(label_dir)  # a wrong path is said before anything heavy is imported
    from distil.cli.progress import counting
    from distil.datasets import export_dataset

    with counting("writing", "img", quiet) as update:
        summary = export_dataset(
            label_dir, to or Path(label_dir) / "dataset", settings, progress=update
        )
    if json_output:
        print_json(summary.to_dict())
    elif not quiet:
        splits = ", ".join(f"{k} {v}" for k, v in summary.images_per_split.items())
        console.print(
            f"[green]exported[/] {summary.images} images ({splits}), "
            f"{sum(summary.instances_per_class.values())} instances -> {escape(summary.out)}",
            highlight=False,
        )


@handle_errors
@takes(StudentExportSettings)
def export_model(
    weights: Annotated[
        Path,
        typer.Argument(
            metavar="WEIGHTS",
            help="Student weights: best.pt, or a transformers student folder (weights/best).",
        ),
    ],
    settings: StudentExportSettings,
    *,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Export a trained student to ONNX (checked in onnxruntime), OpenVINO, TFLite, ..."""
    setup_logging(quiet)
    from distil.evaluation.quantization import int8_cost
    from distil.target_models import export_student

    results = []
    for format in settings.formats:
        result = export_student(
            weights, format, settings.imgsz, settings.half, settings.dynamic, settings.check,
            int8=settings.int8, data=settings.data, calibration=settings.calibration,
        )  # fmt: skip
        if settings.int8:
            result = int8_cost(result)
        results.append(result.to_dict())
        if not (quiet or json_output):
            checked = (
                f", onnxruntime matches PyTorch (max diff {result.check['max_abs_diff']:.2g})"
                if result.check
                else ""
            )
            console.print(
                f"[green]exported[/] {result.format} in {result.seconds:.1f}s{checked} -> "
                f"{escape(result.path)}",
                highlight=False,
            )
            if result.int8:
                console.print(escape(int8_line(result.int8)), highlight=False)
    if json_output:
        print_json({"exports": results})


def int8_line(cost: dict) -> str:
    """What INT8 cost, in one line: mAP50-95 float -> INT8 (change), and the speed-up."""
    line = (
        f"  int8: mAP50-95 {cost['float_map50_95']:.3f} -> {cost['int8_map50_95']:.3f} "
        f"({cost['map50_95_change']:+.3f}) on {cost['validation_images']} validation images"
    )
    if cost.get("speedup"):
        line += (
            f", {cost['float_p50_ms']:.1f} -> {cost['int8_p50_ms']:.1f} ms median "
            f"({cost['speedup']:.2f}x)"
        )
    return line
