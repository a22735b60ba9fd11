"""`distil export`: label store -> YOLO / COCO dataset, or student .pt -> ONNX and others."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distil.cli.common import console, escape, handle_errors, print_json, setup_logging
from distil.cli.params import JsonFlag, QuietFlag, takes
from distil.settings import MODEL_EXPORT, DatasetSettings, StudentExportSettings

DATASET = "Dataset export (SOURCE is a label folder)"


@handle_errors
@takes(StudentExportSettings, "model_settings", panel=MODEL_EXPORT)
@takes(DatasetSettings, "dataset_settings", panel=DATASET)
def export(
    source: Annotated[
        Path,
        typer.Argument(
            help="Folder written by `distil label` (dataset export), or student "
            "weights .pt (model export)."
        ),
    ],
    dataset_settings: DatasetSettings,
    model_settings: StudentExportSettings,
    to: Annotated[
        Path | None,
        typer.Option(help="Dataset folder. Default: LABEL_DIR/dataset.", rich_help_panel=DATASET),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Dataset: yolo (default), coco. Model: onnx (default), torchscript, "
            "openvino, tflite, coreml, engine.",
        ),
    ] = None,
    *,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Write a YOLO / COCO dataset from stored labels, or export a trained student."""
    setup_logging(quiet)
    if source.suffix == ".pt":
        if format:
            model_settings = model_settings.replace(formats=[format], flags=True)
        _export_model(source, model_settings, json_output, quiet)
        return
    if format:
        dataset_settings = dataset_settings.replace(format=format, flags=True)
    from distil.datasets import export_dataset

    summary = export_dataset(source, to or Path(source) / "dataset", dataset_settings)
    if json_output:
        print_json(summary.to_dict())
    elif not quiet:
        splits = ", ".join(f"{k} {v}" for k, v in summary.images_per_split.items())
        console.print(
            f"[green]exported[/] {summary.images} images ({splits}), "
            f"{sum(summary.instances_per_class.values())} instances -> {escape(summary.out)}",
            highlight=False,
        )


def _export_model(
    weights: Path, settings: StudentExportSettings, json_output: bool, quiet: bool
) -> None:
    from distil.target_models import export_student

    result = export_student(
        weights, settings.formats[0], settings.imgsz, settings.half, settings.dynamic,
        settings.check,
    )  # fmt: skip
    if json_output:
        print_json(result.to_dict())
    elif not quiet:
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
