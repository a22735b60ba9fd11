"""One self-contained HTML page per run (PNGs beside it): open it in a browser, no server."""

from __future__ import annotations

import datetime as dt
import html
import logging
from pathlib import Path
from typing import Any

from distil.datasets.card import DatasetCard
from distil.reports import plots
from distil.utils.files import atomic_write_text
from distil.version import version

logger = logging.getLogger(__name__)

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #ddd;margin:.3em 0}.bad{color:#b00020;font-weight:bold}
.good{color:#0a7d28;font-weight:bold}pre{background:#f7f7f7;padding:1em;overflow:auto}
.card{border:1px solid #ddd;padding:0 1em;background:#fcfcfc}.card h1{font-size:1.3em}
"""


def markdown_html(text: str) -> str:
    """Markdown as HTML; raw HTML in the text is escaped, never passed through."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            value = f"{value:.4g}"
        return html.escape("-" if value is None else str(value))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(path: Path | None, root: Path, alt: str) -> str:
    if path is None or not Path(path).is_file():
        return ""
    return f'<img src="{html.escape(Path(path).relative_to(root).as_posix())}" alt="{alt}">'


def _eval_table(report: dict[str, Any]) -> str:
    rows = [
        [
            c["name"],
            c["ground_truth"],
            c["predictions"],
            c["map50_95"],
            c["map50"],
            c["threshold"],
            c["precision"],
            c["recall"],
            c["f1"],
            c.get("best_threshold"),
        ]
        for c in report["classes"]
    ]
    rows.append(
        [
            "all",
            "",
            "",
            report["map50_95"],
            report["map50"],
            "",
            report["precision"],
            report["recall"],
            report["f1"],
            "",
        ]
    )
    return _table(
        ["class", "gt", "pred", "mAP50-95", "mAP50", "thr", "P", "R", "F1", "best F1 thr"], rows
    )


def write_run_report(run_dir: Path, stages: dict[str, dict], missed_bars: list[str]) -> Path:
    """Write `run_dir/report/index.html` from the stages' results; returns its path."""
    run_dir = Path(run_dir)
    root = run_dir / "report"
    root.mkdir(parents=True, exist_ok=True)
    parts = [
        f"<h1>distil run: {html.escape(run_dir.name)}</h1>",
        f"<p>{html.escape(str(run_dir.resolve()))} &middot; distil {version()} &middot; "
        f"{dt.datetime.now().isoformat(timespec='seconds')}</p>",
    ]
    if missed_bars:
        parts.append(
            f"<p class='bad'>Quality gate failed: {html.escape('; '.join(missed_bars))}</p>"
        )
    parts += _labels_section(run_dir, root, stages)
    parts += _training_section(run_dir, root, stages)
    parts += _eval_section(stages)
    parts += _export_section(stages)
    parts += _review_section(run_dir / "label")
    card = DatasetCard.read(run_dir / "dataset")
    if card is not None:
        parts += [
            "<h2>Dataset card</h2>",
            f"<div class='card'>{markdown_html(card.render())}</div>",
        ]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>distil "
        f"{html.escape(run_dir.name)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )
    path = root / "index.html"
    atomic_write_text(path, page)
    return path


def _labels_section(run_dir: Path, root: Path, stages: dict) -> list[str]:
    label = stages.get("label", {}).get("result", {})
    dataset = stages.get("dataset", {}).get("result", {})
    parts = ["<h2>Labels</h2>"]
    if label:
        skipped = label.get("skipped") or []
        rate = label["images_per_s"] if label["labeled"] else None  # nothing timed on a resume
        parts.append(
            _table(
                ["images", "labeled in store", "labeled by this run", "skipped", "img/s"],
                [
                    [
                        label["images"],
                        label.get("stored_frames", label["labeled"] + label["already_labeled"]),
                        label["labeled"],
                        len(skipped),
                        rate,
                    ]
                ],
            )
        )
        per_class = label.get("detections_per_class") or {}
        added = label.get("added_per_class") or {}
        if per_class:
            parts.append(
                _table(
                    ["class", "labels in store", "added by this run"],
                    [[name, n, added.get(name, 0)] for name, n in per_class.items()],
                )
            )
        if skipped:
            parts.append(
                _table(["skipped file", "reason"], [[s["path"], s["reason"]] for s in skipped])
            )
    if dataset:
        counts = dataset["instances_per_class"]
        parts.append(
            _image(plots.class_histogram(counts, root / "classes.png"), root, "instances per class")
        )
        parts.append(_table(["split", "images"], list(dataset["images_per_split"].items())))
    parts += _label_statistics(run_dir, root)
    try:
        from distil.reports.preview import render_preview

        grid, _ = render_preview(
            run_dir / "label", root / "samples.png", num=12, columns=4, cell=320
        )
        parts += ["<h3>Sample labels</h3>", _image(grid, root, "sample labels")]
    except Exception as e:  # noqa: BLE001 - a report without the grid is still a report
        logger.warning("sample grid not drawn: %s", e)
        parts.append(f"<p class='bad'>sample grid not drawn: {html.escape(str(e))}</p>")
    return parts


def _label_statistics(run_dir: Path, root: Path) -> list[str]:
    """Boxes per image and confidences of the labels as exported."""
    card = DatasetCard.read(run_dir / "dataset")
    if card is None:
        return []
    from distil.evaluation.predictions import label_predictions

    labels = label_predictions(run_dir / "label", card)
    per_image, scores = [], []
    for detections in labels.images.values():
        kept = [
            s
            for c, s in zip(detections.class_id, detections.confidence, strict=True)
            if s >= labels.thresholds[int(c)]
        ]
        per_image.append(len(kept))
        scores += [float(s) for s in kept]
    top = max(per_image, default=0)
    return [
        _image(
            plots.histogram(
                per_image,
                root / "boxes_per_image.png",
                "boxes per image",
                "boxes",
                bins=list(range(top + 2)),
            ),
            root,
            "boxes per image",
        ),
        _image(
            plots.histogram(scores, root / "confidence.png", "label confidence", "score", bins=20),
            root,
            "confidence",
        )
        if scores
        else "",
    ]


def _training_section(run_dir: Path, root: Path, stages: dict) -> list[str]:
    trained = stages.get("train", {}).get("result")
    if not trained:
        return []
    start = "pretrained " if trained["pretrained"] else "random weights, "
    parts = [
        "<h2>Student training</h2>",
        f"<p>{html.escape(trained['model'])} ({start}{trained['task']}) on "
        f"{html.escape(str(trained['device']))}, {trained['epochs']} epochs, "
        f"{trained['elapsed_s']:.0f} s &rarr; {html.escape(trained['best'])}</p>",
    ]
    curves = plots.training_curves(Path(trained["run_dir"]) / "results.csv", root / "training.png")
    parts.append(_image(curves, root, "training curves"))
    return parts


def _eval_section(stages: dict) -> list[str]:
    evaluation = stages.get("eval", {}).get("result")
    if not evaluation:
        return []
    parts = ["<h2>Evaluation</h2>"]
    if "labels" in evaluation:
        parts += ["<h3>Auto-labels vs ground truth</h3>", _eval_table(evaluation["labels"])]
        if evaluation["labels"].get("sweep_ontology"):
            parts.append(
                f"<p>Tuned thresholds: {html.escape(evaluation['labels']['sweep_ontology'])}</p>"
            )
    student = evaluation["student"]
    parts.append(f"<h3>Student vs {html.escape(student['against'])}</h3>")
    if student.get("overlap"):
        from distil.evaluation.overlap import Overlap

        warning = Overlap(**student["overlap"]).warning()
        if warning:
            parts.append(f"<p class='bad'>Warning: {html.escape(warning)}</p>")
    parts.append(_eval_table(student))
    return parts


def _review_section(label_dir: Path) -> list[str]:
    """The review rounds: frames handed out, reviewed and changed, and the student's
    score when each round was ranked."""
    from distil.store import LabelStore, StoreError

    try:
        with LabelStore.open(label_dir) as store:
            rounds = store.review_rounds()
            humans = list(store.human_labels())
    except StoreError:
        return []
    if not rounds and not humans:
        return []
    rows = []
    for number in sorted({r.round for r in rounds} | {h.round for h in humans}):
        handed = next((r for r in rounds if r.round == number), None)
        reviewed = [h for h in humans if h.round == number]
        score = handed.student_score if handed else None
        rows.append(
            [
                str(number) if number else "(outside any round)",
                str(len(handed.frames)) if handed else "-",
                str(len(reviewed)),
                str(sum(h.changed for h in reviewed)),
                "-" if score is None else f"{score:.3f}",
                handed.folder if handed else "-",
            ]
        )
    return [
        "<h2>Review rounds</h2>",
        "<p>Frames handed to reviewers, those whose corrections were imported, the labels "
        "they changed (boxes added, removed or moved), and the student's mAP50 when the "
        "round was ranked.</p>",
        _table(
            [
                "round",
                "frames handed out",
                "frames reviewed",
                "labels changed",
                "student mAP50",
                "task folder",
            ],
            rows,
        ),  # fmt: skip
    ]


def _export_section(stages: dict) -> list[str]:
    exported = stages.get("export", {}).get("result")
    if not exported:
        return []
    parts = [
        "<h2>Export and latency</h2>",
        _table(
            ["format", "file", "imgsz", "check"],
            [
                [
                    e["format"],
                    e["path"],
                    e["imgsz"],
                    (f"max diff {e['check']['max_abs_diff']:.2g}" if e.get("check") else ""),
                ]
                for e in exported["exports"]
            ],
        ),
    ]
    if exported["latency"]:
        parts.append(
            _table(
                ["model", "provider", "input", "mean ms", "p50 ms", "p95 ms", "img/s"],
                [
                    [
                        Path(r["model"]).name,
                        r["provider"],
                        "x".join(map(str, r["input"])),
                        r["mean_ms"],
                        r["p50_ms"],
                        r["p95_ms"],
                        r["images_per_s"],
                    ]
                    for r in exported["latency"]
                ],
            )
        )
    return parts
