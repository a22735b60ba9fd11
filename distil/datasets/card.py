"""The dataset card: what made this dataset, with which settings, and what is in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distil.utils.files import atomic_write_json, atomic_write_text


def write_card(root: Path, card: dict[str, Any]) -> None:
    """Write `dataset_card.json` and a readable `README.md` next to the data."""
    atomic_write_json(Path(root) / "dataset_card.json", card)
    atomic_write_text(Path(root) / "README.md", render_card(card))


def render_card(card: dict[str, Any]) -> str:
    models = card["teacher"]
    lines = [
        f"# {card['name']}",
        "",
        f"Auto-labeled by distil {card['distil_version']} on {card['created']}.",
        "",
        "## Teacher",
        f"- detector: `{models['detector']['model']}` ({models['detector']['family']}, "
        f"revision `{models['detector']['revision']}`)",
    ]
    if models.get("segmenter"):
        seg = models["segmenter"]
        lines.append(
            f"- segmenter: `{seg['model']}` ({seg['family']}, revision `{seg['revision']}`)"
        )
    lines += [
        "",
        "## Classes",
        "",
        "| id | class | prompts | box thr | text thr | instances |",
        "|---|---|---|---|---|---|",
    ]
    for c in card["classes"]:
        lines.append(
            f"| {c['id']} | {c['name']} | {', '.join(c['prompts'])} | "
            f"{c['box_threshold']} | {c['text_threshold']} | {c['instances']} |"
        )
    lines += ["", "## Splits", ""]
    for split, count in card["images_per_split"].items():
        lines.append(f"- {split}: {count} images")
    lines += ["", "## Export settings", ""]
    for key, value in card["export"].items():
        lines.append(f"- {key}: {value}")
    if card.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in card["notes"]]
    return "\n".join(lines) + "\n"
