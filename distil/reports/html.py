"""One self-contained HTML page per run (PNGs beside it): open it in a browser, no server."""

from __future__ import annotations

import datetime as dt
import html
import logging
from pathlib import Path
from typing import Any

from distil.datasets.card import DatasetCard
from distil.reports import plots
from distil.settings import STUDENT_LICENCES
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
#summary{display:flex;flex-wrap:wrap;gap:.6em;margin:.5em 0}#summary a{flex:1 1 150px;
border:1px solid #ddd;border-radius:6px;padding:.5em .8em;color:inherit;text-decoration:none}
#summary b{display:block;font-size:1.5em}#summary small{color:#666}nav{margin:.3em 0 1em}
nav a{margin-right:1em}th.sort{cursor:pointer}details{margin:-1em 0 1.5em}
"""
# Click a column header to sort its table (numbers as numbers, `-` last); no library.
SORT_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th, column){
    th.classList.add('sort');
    th.addEventListener('click', function(){
      var rows = Array.from(table.querySelectorAll('tr')).slice(1);
      var last = rows.length && rows[rows.length-1].classList.contains('total') ? rows.pop() : null;
      var up = th.dataset.up !== '1'; th.dataset.up = up ? '1' : '0';
      function key(row){ var t = row.children[column].textContent.trim();
        var n = parseFloat(t); return t === '-' || t === '' ? null : (isNaN(n) ? t : n); }
      rows.sort(function(a, b){ var x = key(a), y = key(b);
        if (x === null) return 1; if (y === null) return -1;
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1); });
      rows.forEach(function(row){ table.appendChild(row); });
      if (last) table.appendChild(last);
    });
  });
});
"""
SHOWN_ROWS = 15  # rows of a per-class table shown before "all N classes"
CHART_CLASSES = 25  # bars of the class chart: the largest classes, then one "other" bar


def markdown_html(text: str) -> str:
    """Markdown as HTML; raw HTML in the text is escaped, never passed through."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def _cell(value: Any) -> str:
    """One number format for the page: fractions and scores to three decimals, times and
    rates to one; `-` for nothing."""
    if isinstance(value, float):
        value = f"{value:.3f}" if abs(value) <= 1 else f"{value:.1f}"
    return html.escape("-" if value is None else str(value))


def _table(
    headers: list[str], rows: list[list[Any]], total: list[Any] | None = None, what: str = ""
) -> str:
    """A sortable table; past SHOWN_ROWS rows, the first ones and then every row under
    `<details>` ("all N `what`"). `total` is a last row kept last when sorting."""

    def render(shown: list[list[Any]]) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in shown
        )
        if total is not None:
            cells = "".join(f"<td>{_cell(v)}</td>" for v in total)
            body += f"<tr class='total'>{cells}</tr>"
        return f"<table class='sortable'><tr>{head}</tr>{body}</table>"

    if len(rows) <= SHOWN_ROWS:
        return render(rows)
    return (
        render(rows[:SHOWN_ROWS])
        + f"<details><summary>all {len(rows)} {html.escape(what or 'rows')}</summary>"
        + render(rows)
        + "</details>"
    )


def _image(path: Path | None, root: Path, alt: str) -> str:
    """The picture, opening full size when clicked."""
    if path is None or not Path(path).is_file():
        return ""
    src = html.escape(Path(path).relative_to(root).as_posix())
    return f'<a href="{src}"><img src="{src}" alt="{alt}"></a>'


def _eval_table(report: dict[str, Any]) -> str:
    def judged(c: dict[str, Any], key: str) -> Any:
        # P, R and F1 of a class that neither side holds say nothing: shown as `-`.
        return c[key] if c["ground_truth"] or c["predictions"] else None

    classes = sorted(report["classes"], key=lambda c: -c["ground_truth"])
    rows = [
        [
            c["name"], c["ground_truth"], c["predictions"], c["map50_95"], c["map50"],
            c["threshold"], judged(c, "precision"), judged(c, "recall"), judged(c, "f1"),
            c.get("best_threshold"),
        ]
        for c in classes
    ]  # fmt: skip
    total = ["all", "", "", report["map50_95"], report["map50"], "", report["precision"],
             report["recall"], report["f1"], ""]  # fmt: skip
    headers = ["class", "gt", "pred", "mAP50-95", "mAP50", "thr", "P", "R", "F1", "best F1 thr"]
    return _table(headers, rows, total, "classes")


def _summary(stages: dict[str, dict], run_dir: Path) -> list[str]:
    """The headline of each stage, first on the page, each linking to its section."""
    result = {name: entry.get("result") or {} for name, entry in stages.items()}
    tiles = []

    def tile(anchor: str, value: str, what: str) -> None:
        tiles.append(f"<a href='#{anchor}'><b>{html.escape(value)}</b><small>{what}</small></a>")

    label = result.get("label", {})
    if label:
        stored = label.get("stored_frames", label.get("labeled", 0))
        boxes = sum((label.get("detections_per_class") or {}).values())
        tile("labels", f"{stored}", f"labeled frames, {boxes} labels")
    dataset = result.get("dataset", {})
    if dataset:
        splits = ", ".join(f"{k} {v}" for k, v in dataset["images_per_split"].items())
        tile("labels", f"{dataset['images']}", f"dataset images ({html.escape(splits)})")
    evaluation = result.get("eval", {})
    student = evaluation.get("student")
    if student:
        against = "ground truth" if "labels" in evaluation else "the auto-labels (val)"
        tile("evaluation", f"{student['map50_95']:.3f}", f"student mAP50-95 vs {against}")
        tile("evaluation", f"{student['map50']:.3f}", "student mAP50")
        if student.get("yolo_val"):
            tile(
                "evaluation",
                f"{student['yolo_val']['map50_95']:.3f}",
                "student mAP50-95 as yolo val gives it",
            )
    if evaluation.get("labels"):
        tile("evaluation", f"{evaluation['labels']['map50_95']:.3f}", "auto-labels mAP50-95")
    exported = result.get("export", {})
    if exported.get("latency"):
        latency = exported["latency"][0]
        tile("export", f"{latency['p50_ms']:.1f} ms", f"p50 latency ({latency['provider']})")
    rounds = _review_rounds(run_dir / "label")
    if rounds:
        tile("review", str(len(rounds)), "review rounds")
    sections = [("labels", "Labels"), ("training", "Student training"),
                ("evaluation", "Evaluation"), ("export", "Export and latency"),
                ("review", "Review rounds"), ("card", "Dataset card")]  # fmt: skip
    links = "".join(f"<a href='#{a}'>{t}</a>" for a, t in sections)
    return [f"<div id='summary'>{''.join(tiles)}</div>", f"<nav>{links}</nav>"]


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
    parts += _summary(stages, run_dir)
    parts += _labels_section(run_dir, root, stages)
    parts += _training_section(run_dir, root, stages)
    parts += _eval_section(stages)
    parts += _export_section(stages)
    parts += _review_section(run_dir / "label")
    card = DatasetCard.read(run_dir / "dataset")
    if card is not None:
        parts += [
            "<h2 id='card'>Dataset card</h2>",
            f"<div class='card'>{markdown_html(card.render())}</div>",
        ]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>distil "
        f"{html.escape(run_dir.name)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(parts)
        + f"<script>{SORT_SCRIPT}</script></body></html>"
    )
    path = root / "index.html"
    atomic_write_text(path, page)
    return path


def _labels_section(run_dir: Path, root: Path, stages: dict) -> list[str]:
    label = stages.get("label", {}).get("result", {})
    dataset = stages.get("dataset", {}).get("result", {})
    parts = ["<h2 id='labels'>Labels</h2>"]
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
            ranked = sorted(per_class.items(), key=lambda item: -item[1])
            parts.append(
                _table(
                    ["class", "labels in store", "added by this run"],
                    [[name, n, added.get(name, 0)] for name, n in ranked],
                    what="classes",
                )
            )
        if skipped:
            parts.append(
                _table(
                    ["skipped file", "reason"],
                    [[s["path"], s["reason"]] for s in skipped],
                    what="skipped files",
                )
            )
    if dataset:
        counts = dataset["instances_per_class"]
        chart = plots.class_histogram(counts, root / "classes.png", top=CHART_CLASSES)
        parts.append(_image(chart, root, "instances per class"))
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
        "<h2 id='training'>Student training</h2>",
        f"<p>{html.escape(trained['model'])} ({start}{trained['task']}, licence "
        f"{html.escape(trained.get('licence', STUDENT_LICENCES['ultralytics']).upper())}) on "
        f"{html.escape(str(trained['device']))}, {trained['epochs']} epochs, "
        f"{trained['elapsed_s']:.0f} s &rarr; {html.escape(trained['best'])}</p>",
    ]
    curves = plots.training_curves(Path(trained["run_dir"]) / "results.csv", root / "training.png")
    parts.append(_image(curves, root, "training curves"))
    if trained.get("candidates"):
        parts += _candidates_section(trained["candidates"])
    return parts


def _candidates_section(table: dict[str, Any]) -> list[str]:
    """`train.candidates`: every student's scores, latency, size and licence, and the pick."""
    rows = [
        [
            ("\N{CHECK MARK} " if c["model"] == table["chosen"] else "") + c["model"],
            c["map50_95"], c["map50"], c["latency_p50_ms"], c["latency_p90_ms"],
            c["parameters"], c["file_mb"], c["licence"], c["error"],
        ]
        for c in table["candidates"]
    ]  # fmt: skip
    headers = ["student", "mAP50-95", "mAP50", "p50 ms", "p90 ms", "parameters", "MB",
               "licence", "error"]  # fmt: skip
    return [
        f"<h3>Candidates, picked by {html.escape(table['select'])}</h3>",
        _table(headers, rows, what="candidates"),
        f"<p>{html.escape(table['reason'])}</p>",
    ]


def _eval_section(stages: dict) -> list[str]:
    evaluation = stages.get("eval", {}).get("result")
    if not evaluation:
        return []
    parts = ["<h2 id='evaluation'>Evaluation</h2>"]
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


def _review_rounds(label_dir: Path) -> list[Any]:
    from distil.store import LabelStore, StoreError

    try:
        with LabelStore.open(label_dir) as store:
            return store.review_rounds()
    except StoreError:
        return []


def _review_section(label_dir: Path) -> list[str]:
    """The review rounds (labeling tools' and the review app's): frames handed out,
    reviewed and changed, the app's edits and time, and the student's score when each
    round was ranked."""
    from distil.review.stats import EDITS, review_stats
    from distil.store import StoreError

    try:
        stats = review_stats(label_dir)
    except StoreError:
        return []
    if not stats:
        return []
    rows = []
    for entry in stats:
        score = entry.student_score
        edits = ", ".join(f"{entry.edits[k]} {k}" for k in EDITS) if entry.edits else "-"
        rows.append(
            [
                str(entry.round) if entry.round else "(outside any round)",
                entry.kind,
                "-" if entry.handed_out is None else str(entry.handed_out),
                str(entry.reviewed),
                str(entry.changed),
                edits,
                "-" if entry.seconds_median is None else f"{entry.seconds_median:.1f}",
                "-" if score is None else f"{score:.3f}",
            ]
        )
    return [
        "<h2 id='review'>Review rounds</h2>",
        "<p>Frames handed to reviewers (a labeling tool's round, or saved in the review "
        "app), those reviewed, the labels they changed (boxes added, removed or moved), what "
        "the app saw them do and the seconds per frame, and the student's mAP50 when the "
        "round was ranked.</p>",
        _table(
            [
                "round",
                "kind",
                "frames handed out",
                "frames reviewed",
                "labels changed",
                "edits (app)",
                "s / frame",
                "student mAP50",
            ],
            rows,
        ),  # fmt: skip
    ]


def _export_section(stages: dict) -> list[str]:
    exported = stages.get("export", {}).get("result")
    if not exported:
        return []
    parts = [
        "<h2 id='export'>Export and latency</h2>",
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
