"""Accuracy of `bpnet predict` per kind of image, from folders whose file names hold the true label.

Runs the real command line (``bpnet predict --json``, in a subprocess, as a user would) on every
image under the given folders (``KIND/NNNNN_labelD.EXT``, as scripts/make_photo_digits.py writes
them) or on the given files, and prints a markdown table: per kind (the file's folder) the number
of images, the accuracy, and how many the command refused (an image refused counts as wrong).

    python scripts/predict_accuracy.py /tmp/photo-digits --checkpoint runs/mnist/best.npz
    python scripts/predict_accuracy.py /tmp/photo-digits/photo --failures
    python scripts/predict_accuracy.py /tmp/photo-digits --failures --stages /tmp/failed   # PNG of each stage

``--stages`` saves, for each failure, the pipeline's stages side by side (original, flattened,
mask, digit, 28x28) through ``bpnet.images.load_stages``, to look at what went wrong.
"""

import argparse
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

LABEL = re.compile(r"label(\d)")
SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
CHUNK = 500  # files per `bpnet predict` call: well within any command line's length limit


def labelled_files(paths):
    """Every image file under ``paths`` whose name holds ``labelD``, sorted, with its label."""
    files = []
    for path in map(Path, paths):
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in candidates:
            match = LABEL.search(file.name)
            if file.suffix.lower() in SUFFIXES and match:
                files.append((file, int(match.group(1))))
    return files


def predict(bpnet, checkpoint, files):
    """{file name as given: predicted digit} from ``bpnet predict --json``; refused files are absent."""
    predictions = {}
    for start in range(0, len(files), CHUNK):
        command = [bpnet, "predict", "--json", "--checkpoint", str(checkpoint)]
        command += [str(file) for file in files[start:start + CHUNK]]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode not in (0, 2):  # 2: some image refused (one line each on stderr)
            sys.exit(f"{' '.join(command[:5])} ... failed ({result.returncode}): {result.stderr.strip()}")
        for line in result.stdout.splitlines():
            record = json.loads(line)
            predictions[str(record["file"])] = record["digit"]
    return predictions


def table(files, predictions):
    """Markdown rows: kind, images, accuracy, refused; and a total row."""
    counts = defaultdict(lambda: [0, 0, 0])  # images, correct, refused
    for file, label in files:
        row = counts[file.parent.name]
        row[0] += 1
        digit = predictions.get(str(file))
        row[1] += digit == label
        row[2] += digit is None
    lines = ["| kind | images | accuracy | refused |", "|---|---:|---:|---:|"]
    for kind, (n, correct, refused) in counts.items():
        lines.append(f"| {kind} | {n} | {correct / n:.1%} | {refused} |")
    n = sum(c[0] for c in counts.values())
    correct = sum(c[1] for c in counts.values())
    lines.append(f"| **all** | {n} | {correct / max(n, 1):.1%} | {sum(c[2] for c in counts.values())} |")
    return "\n".join(lines)


def save_stages(file, folder):
    """The stages of ``file`` side by side, each scaled to 160 px high, as FOLDER/KIND_NAME.png."""
    import numpy as np
    from PIL import Image

    from bpnet.errors import ImageError
    from bpnet.images import load_stages

    try:
        stages = load_stages(file)
    except ImageError:
        return
    panels = [stages.original, stages.flattened, stages.mask.astype(np.float32) * 255, stages.digit, stages.mnist]
    tiles = []
    for panel in panels:
        tile = Image.fromarray(np.clip(np.asarray(panel, np.float32), 0, 255).astype(np.uint8))
        tiles.append(tile.resize((max(1, round(tile.width * 160 / tile.height)), 160)))
    strip = Image.new("L", (sum(t.width + 4 for t in tiles), 160), 128)
    x = 0
    for tile in tiles:
        strip.paste(tile, (x, 0))
        x += tile.width + 4
    strip.save(Path(folder) / f"{file.parent.name}_{file.stem}.png")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="Folders (searched recursively) or image files.")
    parser.add_argument("--checkpoint", default="runs/latest/best.npz")
    parser.add_argument("--bpnet", default=str(Path(sys.executable).with_name("bpnet")),
                        help="The bpnet command (default: the one beside this Python).")
    parser.add_argument("--failures", action="store_true", help="List every image predicted wrong or refused.")
    parser.add_argument("--stages", default=None, help="Save each failure's pipeline stages as a PNG here.")
    args = parser.parse_args(argv)
    files = labelled_files(args.paths)
    if not files:
        sys.exit("no image files named *labelD* found")
    predictions = predict(args.bpnet, args.checkpoint, [file for file, _ in files])
    print(table(files, predictions))
    failures = [(file, label) for file, label in files if predictions.get(str(file)) != label]
    if args.failures:
        print(f"\n{len(failures)} failures:")
        for file, label in failures:
            digit = predictions.get(str(file))
            print(f"{file}: true {label}, predicted {'(refused)' if digit is None else digit}")
    if args.stages:
        Path(args.stages).mkdir(parents=True, exist_ok=True)
        for file, _ in failures:
            save_stages(file, args.stages)


if __name__ == "__main__":
    main()
