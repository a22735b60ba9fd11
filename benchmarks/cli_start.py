"""How fast the CLI answers before any model work: `distil --version`, `distil --help`,
`distil label --help`, and a config typo reported by `distil run --check`.

    python benchmarks/cli_start.py --runs 5

Prints one JSON object: median and best wall seconds per command (a fresh process each
time, so Python start-up and imports are counted), and whether torch was imported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], runs: int) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, capture_output=True, check=False)
        seconds.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(seconds), 3), "best_s": round(min(seconds), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    distil = [sys.executable, "-m", "distil"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "images").mkdir()
        (folder / "onto.yaml").write_text("classes:\n  car: car\n")
        config = folder / "run.yaml"
        config.write_text("inputs: images\nontology: onto.yaml\nlabel: {batch_sise: 3}\n")
        probe = (
            "import sys\nfrom distil.cli.main import app\n"
            f"try:\n    app(['run', {str(config)!r}, '--check'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, file=sys.stderr)"
        )
        torch_loaded = (
            subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, check=False
            )
            .stderr.strip()
            .splitlines()[-1]
        )
        result = {
            "version": timed([*distil, "--version"], runs),
            "help": timed([*distil, "--help"], runs),
            "label_help": timed([*distil, "label", "--help"], runs),
            "config_typo": timed([*distil, "run", str(config), "--check"], runs),
            "torch_imported_before_config_error": torch_loaded == "True",
            "runs": runs,
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
