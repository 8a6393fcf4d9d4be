"""Wall time and peak memory of whole `bpnet predict` processes on large images, as a user runs them.

Writes a 12-megapixel phone-style JPEG (4000x3000: a dark digit on paper lit unevenly, with noise)
and a 9400x9400 PNG of the same page into a temporary folder, then runs ``bpnet predict FILE`` on
each ``--repeats`` times in fresh processes and prints the median wall time and the largest peak
RSS of those processes (``os.wait4``: Linux and macOS).

    python scripts/predict_speed.py --checkpoint runs/latest/best.npz
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def page(width, height, seed=0):
    """A phone photo of a 7 on paper: light falling off to one corner, a little blur and noise; RGB."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", (width, height), 235)
    draw = ImageDraw.Draw(image)
    s = min(width, height) / 3000
    draw.line([(1500 * s, 1000 * s), (2300 * s, 1000 * s), (1800 * s, 2100 * s)], fill=40, width=int(60 * s))
    image = image.filter(ImageFilter.GaussianBlur(2 * s))
    y, x = np.mgrid[0:height:8, 0:width:8] / np.array([height, width], float).reshape(2, 1, 1)
    light = Image.fromarray((255 * (1 - 0.4 * (x + y) / 2)).astype(np.uint8)).resize((width, height))
    values = np.asarray(image, np.float32) * np.asarray(light, np.float32) / 255
    values += rng.normal(0, 3, values.shape).astype(np.float32)
    gray = np.clip(values, 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([gray, gray, np.minimum(gray.astype(int) + 8, 255).astype(np.uint8)], -1))


def run(command):
    """(stdout, stderr, exit code, peak RSS in MB) of ``command``, the RSS of that process alone (POSIX)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as error:
        child = subprocess.Popen(command, stdout=out, stderr=error, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        out.seek(0)
        error.seek(0)
        rss = usage.ru_maxrss / (1024 ** 2 if sys.platform == "darwin" else 1024)
        return out.read(), error.read(), child.returncode, rss


def write(folder):
    """The two test images into ``folder``: photo.jpg and huge.png."""
    page(4000, 3000).save(Path(folder) / "photo.jpg", quality=90)
    page(9400, 9400).convert("L").save(Path(folder) / "huge.png", compress_level=1)


def main(argv=None):
    if argv is None and sys.argv[1:2] == ["--write"]:
        return write(sys.argv[2])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="The network predict uses.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bpnet", default="bpnet", help="The command to time (default: bpnet on PATH).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        # Written by another process: a child forked from this one would count its memory as its own.
        subprocess.run([sys.executable, __file__, "--write", folder], check=True)
        files = {"12 MP JPEG (4000x3000)": Path(folder) / "photo.jpg", "9400x9400 PNG": Path(folder) / "huge.png"}
        for name, path in files.items():
            times, answer, peak = [], "", 0.0
            for _ in range(args.repeats):
                start = time.perf_counter()
                out, error, code, rss = run([args.bpnet, "predict", "--checkpoint", args.checkpoint, str(path)])
                times.append(time.perf_counter() - start)
                if code != 0:
                    sys.exit(f"bpnet predict {path.name} failed ({code}): {error.strip()}")
                answer, peak = out.strip().split(": ", 1)[-1], max(peak, rss)
            print(f"{name}: median {statistics.median(times):.3f} s over {args.repeats} runs "
                  f"(min {min(times):.3f}, max {max(times):.3f}); answer {answer}; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
