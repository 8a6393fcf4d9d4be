"""bpnet predict: reading image files, folders and patterns; the answer, its doubt, and what the network saw.

The tiny networks here are untrained (every answer is unsure); where the digit read must be
right, a linear classifier fitted to real MNIST by least squares stands in for a trained one.
"""

import json
import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from bpnet import checkpoint, data, show
from bpnet.cli import UNSURE_BELOW
from bpnet.config import from_dict
from bpnet.images import load_stages
from bpnet.network import Network
# The CLI test helpers: invoke, check the exit code and messages, and the tiny networks and images.
from test_cli import check, digit_png, error_line, explain, huge_weights_checkpoint, invoke, tiny_checkpoint

ANSI = "\x1b["
ANSWER = r"\d \(\d+\.\d%\)"                          # "7 (97.1%)"
UNSURE_LINE = rf"{ANSWER}, unsure: {ANSWER}"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("COLORTERM", raising=False)
    return tmp_path


@pytest.fixture
def tiny(tmp_path):
    return tiny_checkpoint(tmp_path / "c.npz")


def stroke_png(path, size=(120, 160), paper=255, ink=0):
    """A thick one-like stroke on paper: a picture the preprocessing has to crop, scale and centre."""
    pixels = np.full(size[::-1], paper, np.uint8)
    pixels[30:130, 50:66] = ink
    Image.fromarray(pixels).save(path)
    return path


def jsons(result):
    return [json.loads(line) for line in result.stdout.splitlines()]


# ----------------------------------------------------------------------------- bad input (moved from test_cli)

@pytest.mark.parametrize("runs", ["none", "an empty latest folder"])
def test_predict_without_a_trained_network(tmp_path, monkeypatch, runs):
    monkeypatch.chdir(tmp_path)
    if runs != "none":
        (tmp_path / "runs" / "latest").mkdir(parents=True)
    (tmp_path / "digit.png").write_bytes(b"irrelevant")
    line = error_line(invoke("predict", "digit.png"), 2)
    assert line == ("Error: runs/latest/best.npz: no such checkpoint "
                    "(train one with `bpnet train` or pass --checkpoint)")


def test_predict_with_a_run_stopped_before_best_npz(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "latest").mkdir(parents=True)
    tiny_checkpoint(tmp_path / "runs" / "latest" / "last.npz")
    line = error_line(invoke("predict", "digit.png"), 2)
    assert line.endswith("no such checkpoint; the run was stopped before its first reported epoch "
                         "(train.log_every) wrote it: finish it with bpnet train --resume runs/latest")


def test_predict_reports_bad_images_and_still_predicts_good_ones(tmp_path):
    tiny_checkpoint(tmp_path / "c.npz")
    digit_png(tmp_path / "good.png")
    (tmp_path / "bad.png").write_text("not a png")
    too_long = "a" * 300 + ".png"                               # the OS refuses the name itself
    result = check(invoke("predict", "bad.png", too_long, "good.png", "nope.png", "--checkpoint", "c.npz"), 2)
    # an untrained network is unsure of everything
    assert re.fullmatch(r"good\.png: \d \(\d+\.\d%\), unsure: \d \(\d+\.\d%\)\n", result.stdout), explain(result)
    assert result.stderr.splitlines() == [
        "Error: bad.png: not an image file (or a format Pillow cannot read)",
        f"Error: {too_long}: cannot read the image (File name too long)",
        "Error: nope.png: no such file",
    ], explain(result)


def test_predict_refuses_outputs_that_overflow(tmp_path):
    huge = huge_weights_checkpoint(tmp_path / "huge.npz", tiny_checkpoint(tmp_path / "c.npz"))
    digit_png(tmp_path / "good.png")
    for extra in ([], ["--json"]):
        result = check(invoke("predict", "good.png", "--checkpoint", huge, *extra), 2)
        assert result.stdout == "", explain(result)                 # no NaN, in JSON or otherwise
        assert result.stderr.splitlines() == [f"Error: good.png: the network's output is not finite for this "
                                              f"image ({huge}'s weights overflow float32)"], explain(result)


def test_predict_with_a_sigmoid_network_whose_outputs_all_underflow(tmp_path, monkeypatch):
    """All ten σ(z) round to 0 in float32: the shown probabilities still come from their ratios."""
    monkeypatch.chdir(tmp_path)
    config = from_dict({"model": {"hidden": [3], "output": "sigmoid", "loss": "mse"}})
    network = Network([784, 3, 10], output="sigmoid", loss="mse").initialise("he", np.random.default_rng(0))
    network.b[2][...] = -200.0                                   # σ(−200) = 0 in float32
    network.b[2][7] = -190.0                                     # digit 7 is e^10 times likelier
    checkpoint.save(tmp_path / "c.npz", network, config, meta={"epoch": 1})
    digit_png(tmp_path / "d.png")
    result = check(invoke("predict", "d.png", "--checkpoint", "c.npz", "--json"), 0)
    assert result.stderr == "", explain(result)
    answer = json.loads(result.stdout)
    assert answer["digit"] == 7 and 0.99 < answer["probability"] <= 1.0


def test_predict_with_tampered_checkpoint(tmp_path):
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04 and then nothing")
    digit_png(tmp_path / "good.png")
    line = error_line(invoke("predict", "good.png", "--checkpoint", "c.npz"), 2)
    assert line.startswith("Error: c.npz: ")




def bomb_png(path, side=100_000):
    """A PNG header claiming side x side pixels (10^10): Pillow refuses it before decoding anything."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
                     + chunk(b"IEND", b""))
    return path


def test_each_bad_image_is_one_line_and_the_others_are_still_read(tmp_path, tiny):
    Image.new("L", (300, 200), 255).save("blank.png")                       # a white page
    Image.new("L", (300, 200), 0).save("black.png")                         # all black
    tiny_image = np.full((5, 5), 255, np.uint8)
    tiny_image[1:4, 2] = 0
    Image.fromarray(tiny_image).save("5x5.png")                             # a 'one' of three pixels
    bomb_png(tmp_path / "bomb.png")
    (tmp_path / "photos").mkdir()
    stroke_png(tmp_path / "photos" / "a.png")
    (tmp_path / "photos" / "b.png").write_text("a text file named like an image")
    digit_png(tmp_path / "good.png")
    result = check(invoke("predict", "blank.png", "good.png", "black.png", "5x5.png", "bomb.png", "photos",
                          "nope.png", "--checkpoint", tiny), 2)
    assert re.fullmatch(rf"good\.png: {UNSURE_LINE}\nphotos/a\.png: {UNSURE_LINE}\n", result.stdout), explain(result)
    errors = result.stderr.splitlines()
    assert len(errors) == 6 and all(line.startswith("Error: ") for line in errors), explain(result)
    assert re.fullmatch(r"Error: blank\.png: .*no digit found.*", errors[0])
    assert re.fullmatch(r"Error: black\.png: .*no digit found.*", errors[1])
    assert re.fullmatch(r"Error: 5x5\.png: .*(no digit found|too small).*", errors[2])
    assert errors[3].startswith("Error: bomb.png: the image is too large (")
    assert errors[4] == "Error: photos/b.png: not an image file (or a format Pillow cannot read)"
    assert errors[5] == "Error: nope.png: no such file"


def test_show_and_json_together_is_a_usage_error(tiny):
    digit_png("d.png")
    line = error_line(invoke("predict", "d.png", "--checkpoint", tiny, "--show", "--json"), 2)
    assert "--show" in line and "--json" in line


@pytest.mark.parametrize("option", ["--save-steps", "--save-preprocessed"])
def test_an_output_folder_that_is_a_file_is_refused(tmp_path, tiny, option):
    digit_png("d.png")
    (tmp_path / "taken").write_text("mine")
    line = error_line(invoke("predict", "d.png", "--checkpoint", tiny, option, "taken"), 2)
    assert option in line and "taken" in line and "is a file" in line
    line = error_line(invoke("predict", "d.png", "--checkpoint", tiny, option, "taken/inside"), 2)
    assert option in line and "taken/inside" in line
    assert (tmp_path / "taken").read_text() == "mine"


def test_help_states_the_unsure_threshold_and_the_options():
    result = check(invoke("predict", "--help"), 0, stream="stdout")
    text = " ".join(result.stdout.split())
    assert f"below {UNSURE_BELOW:.0%} probability is flagged unsure" in text
    for option in ("--show", "--color / --no-color", "--save-steps DIR", "--save-preprocessed DIR", "--digits",
                   "--json", "folders", "patterns"):
        assert option in text, option


# ----------------------------------------------------------------------------- which files

def test_a_folder_is_read_sorted_and_other_files_are_counted(tmp_path, tiny):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("c.png", "a.PNG", "b.jpg"):
        stroke_png(photos / name)
    (photos / "notes.txt").write_text("")
    (photos / "list.csv").write_text("")
    result = check(invoke("predict", "photos/", "--checkpoint", tiny), 0)
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["photos/a.PNG", "photos/b.jpg",
                                                                           "photos/c.png"]
    assert result.stderr == "skipped 2 files that are not images in photos/\n"
    (photos / "list.csv").unlink()
    assert check(invoke("predict", "photos", "--checkpoint", tiny), 0).stderr == \
        "skipped 1 file that is not an image in photos\n"


def test_a_quoted_pattern_is_expanded_and_one_matching_nothing_is_an_error(tmp_path, tiny):
    for name in ("x2.png", "x1.png", "y.png"):
        stroke_png(tmp_path / name)
    result = check(invoke("predict", "x*.png", "z*.png", "y.png", "--checkpoint", tiny), 2)
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["x1.png", "x2.png", "y.png"]
    assert result.stderr == "Error: z*.png: no file matches this pattern\n"


# ----------------------------------------------------------------------------- the answer and its doubt

def test_json_is_one_object_per_line_with_unsure(tiny):
    stroke_png("a.png")
    digit_png("b.png")
    result = check(invoke("predict", "a.png", "b.png", "--checkpoint", tiny, "--json", "--top", "2"), 0)
    answers = jsons(result)
    assert [a["file"] for a in answers] == ["a.png", "b.png"]
    for a in answers:
        assert list(a) == ["file", "digit", "probability", "top", "unsure"]
        assert len(a["top"]) == 2 and a["top"][0] == {"digit": a["digit"], "probability": a["probability"]}
        assert a["unsure"] is (a["probability"] < UNSURE_BELOW) is True      # an untrained network


def test_an_unsure_answer_names_the_runner_up(tiny):
    digit_png("d.png")
    [answer] = jsons(check(invoke("predict", "d.png", "--checkpoint", tiny, "--json", "--top", "3"), 0))
    first, second, third = (f"{t['digit']} ({t['probability']:.1%})" for t in answer["top"])
    assert check(invoke("predict", "d.png", "--checkpoint", tiny), 0).stdout == f"d.png: {first}, unsure: {second}\n"
    assert (check(invoke("predict", "d.png", "--checkpoint", tiny, "--top", "3"), 0).stdout
            == f"d.png: {first}, unsure: {second}, {third}\n")


def saved_network(path, W, b):
    """A softmax network without hidden layers, W (10, 784) and b (10, 1), saved as a checkpoint."""
    network = Network([784, 10])
    network.W[1][...] = W
    network.b[1][...] = b
    checkpoint.save(path, network, from_dict({"model": {"hidden": []}}), meta={"epoch": 1})
    return path


def test_a_sure_answer_is_not_flagged(tmp_path):
    b = np.zeros((10, 1), np.float32)
    b[4] = 3.0                                                         # every image is a 4, e^3 to 1 against each
    net = saved_network(tmp_path / "four.npz", np.zeros((10, 784), np.float32), b)
    digit_png("d.png")
    p = np.exp(3.0) / (np.exp(3.0) + 9)
    assert UNSURE_BELOW <= p < 1
    assert check(invoke("predict", "d.png", "--checkpoint", net), 0).stdout == f"d.png: 4 ({p:.1%})\n"
    [answer] = jsons(check(invoke("predict", "d.png", "--checkpoint", net, "--json"), 0))
    assert answer["unsure"] is False


# ----------------------------------------------------------------------------- what the network saw

def test_show_draws_the_input_beside_the_bars_without_colour_off_a_terminal(tiny):
    stroke_png("one.png")
    result = check(invoke("predict", "one.png", "--checkpoint", tiny, "--show"), 0)
    lines = result.stdout.split("\n")
    assert re.fullmatch(rf"one\.png: {UNSURE_LINE}", lines[0])
    drawing = show.terminal_digit(load_stages("one.png").mnist)
    assert [line[:30] for line in lines[1:17]] == drawing.split("\n")
    assert "█" in drawing and ANSI not in result.stdout
    bars = [line[32:] for line in lines[2:5]]                            # 3 bars by default, beside rows 1-3
    assert all(re.fullmatch(r"\d [ █▏▎▍▌▋▊▉]{20} +\d+\.\d%", bar) for bar in bars), bars
    assert bars[0][0] == lines[0][len("one.png: ")]                      # the likeliest digit first


@pytest.mark.parametrize("environment, flags, coloured", [
    ({}, [], True),
    ({"NO_COLOR": "1"}, [], False),
    ({"NO_COLOR": "1"}, ["--color"], True),
    ({}, ["--no-color"], False),
])
def test_show_colours_a_terminal_unless_no_color(monkeypatch, tiny, environment, flags, coloured):
    monkeypatch.setattr("bpnet.cli._stdout_is_terminal", lambda: True)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    stroke_png("one.png")
    result = check(invoke("predict", "one.png", "--checkpoint", tiny, "--show", *flags), 0)
    assert (ANSI in result.stdout) is coloured
    drawing = show.terminal_digit(load_stages("one.png").mnist, color="256" if coloured else False).split("\n")
    assert all(line.startswith(row) for line, row in zip(result.stdout.split("\n")[1:], drawing))


def test_color_forces_colour_into_a_pipe(monkeypatch, tiny):
    monkeypatch.setenv("COLORTERM", "truecolor")
    stroke_png("one.png")
    result = check(invoke("predict", "one.png", "--checkpoint", tiny, "--show", "--color"), 0)
    assert "\x1b[38;2;" in result.stdout and "\x1b[48;2;" in result.stdout


def panels(strip):
    """The number of panels in a steps strip: runs of columns that are not all background."""
    band = np.asarray(strip)[10:100]
    busy = (band != show._BACKGROUND).any(axis=2).any(axis=0)
    return int(np.count_nonzero(np.diff(np.r_[0, busy.astype(int)]) == 1))


def test_save_steps_writes_a_strip_per_image_named_after_it(tmp_path, tiny):
    (tmp_path / "other").mkdir()
    stroke_png(tmp_path / "one.png")
    stroke_png(tmp_path / "one.jpg", size=(300, 200))
    stroke_png(tmp_path / "other" / "one.png", paper=0, ink=255)
    result = check(invoke("predict", "one.png", "one.jpg", "other/one.png", "--checkpoint", tiny,
                          "--save-steps", "steps/new"), 0)
    names = sorted(p.name for p in (tmp_path / "steps" / "new").iterdir())
    assert names == ["one-2.steps.png", "one-3.steps.png", "one.steps.png"]     # nothing else, no temporary file
    for name in names:
        with Image.open(tmp_path / "steps" / "new" / name) as strip:
            assert strip.format == "PNG" and strip.mode == "RGB"
            assert strip.height == 8 + show.STRIP_HEIGHT + 20 + 8 and panels(strip) == 5
    with Image.open(tmp_path / "steps" / "new" / "one-2.steps.png") as wide, \
            Image.open(tmp_path / "steps" / "new" / "one.steps.png") as tall:
        assert wide.width > tall.width                                  # the landscape photo's panels are wider
    assert result.stderr == "wrote 3 step strips in steps/new\n"


def test_saved_inputs_read_back_to_the_same_answer(tmp_path, tiny):
    stroke_png(tmp_path / "dark.png")
    stroke_png(tmp_path / "light.jpg", size=(200, 260), paper=0, ink=200)
    first = check(invoke("predict", "dark.png", "light.jpg", "--checkpoint", tiny, "--json", "--top", "10",
                         "--save-preprocessed", "inputs"), 0)
    for name in ("dark", "light"):
        with Image.open(tmp_path / "inputs" / f"{name}.28x28.png") as saved:
            assert saved.mode == "L" and saved.size == (28, 28)
    assert np.array_equal(np.asarray(Image.open("inputs/dark.28x28.png")), load_stages("dark.png").mnist)
    again = check(invoke("predict", "inputs/dark.28x28.png", "inputs/light.28x28.png", "--checkpoint", tiny,
                         "--json", "--top", "10"), 0)
    for before, after in zip(jsons(first), jsons(again)):
        assert after["top"] == before["top"]                           # all ten probabilities, to the bit


# ----------------------------------------------------------------------------- real digits

@pytest.fixture(scope="module")
def mnist_reader(mnist_gz_dir, tmp_path_factory):
    """A linear softmax network fitted to 3,000 real MNIST test digits, and (its checkpoint, the split, P).

    Ridge regression on one-hot targets (the normal equations (AᵀA + λI) C = AᵀY, well under a
    second), its scores scaled up so that clear digits come out sure: it reads about 90% of
    these digits right, which is all these tests need of a trained network.
    """
    from test_cli import real_test_split

    test = real_test_split(mnist_gz_dir)
    A = np.c_[data.scale_rows(test.images[:N_FIT], dtype=np.float64), np.ones(N_FIT)]    # (N, 785)
    Y = np.eye(10)[test.labels[:N_FIT]]                                                   # (N, 10)
    C = np.linalg.solve(A.T @ A + 1e-2 * np.eye(A.shape[1]), A.T @ Y)                     # (785, 10)
    path = saved_network(tmp_path_factory.mktemp("reader") / "linear.npz", 30 * C[:-1].T, 30 * C[-1:].T)
    P = checkpoint.load(path).network.predict_proba(data.columns(test.images[:N_FIT]))    # (10, N)
    return path, test, P


N_FIT = 3000


def sure_examples(reader, labels):
    """One MNIST test digit (28, 28) per label that the reader gets right with probability > 0.999."""
    _, test, P = reader
    picks = []
    for label in labels:
        n = np.flatnonzero((test.labels[:N_FIT] == label) & (P.argmax(axis=0) == label) & (P.max(axis=0) > 0.999))[0]
        picks.append(test.images[n].reshape(28, 28))
    return picks


def paper(digits, gap=12, scale=4):
    """MNIST digits pasted side by side, dark on light paper, enlarged like a scan: a PIL image."""
    row = np.zeros((28, len(digits) * 28 + (len(digits) - 1) * gap), np.uint8)
    for n, digit in enumerate(digits):
        row[:, n * (28 + gap): n * (28 + gap) + 28] = digit
    image = Image.fromarray(255 - row)
    return image.resize((image.width * scale, image.height * scale), Image.BILINEAR)


def test_digits_reads_a_row_of_three_left_to_right(mnist_reader, tmp_path):
    reader, *_ = mnist_reader
    paper(sure_examples(mnist_reader, [2, 0, 7])).save(tmp_path / "row.png")
    [answer] = jsons(check(invoke("predict", "row.png", "--digits", "--json", "--checkpoint", reader,
                                  "--save-preprocessed", "inputs"), 0))
    assert answer["digits"] == "207"
    assert [d["digit"] for d in answer["per_digit"]] == [2, 0, 7]
    assert answer["digit"] is None and answer["top"] is None
    assert answer["probability"] == min(d["probability"] for d in answer["per_digit"])
    assert answer["unsure"] is any(d["probability"] < UNSURE_BELOW for d in answer["per_digit"])
    # Each digit's saved 28x28 input, read on its own, gives that digit's answer.
    alone = jsons(check(invoke("predict", *(f"inputs/row.{n}.28x28.png" for n in (1, 2, 3)), "--json",
                               "--checkpoint", reader), 0))
    assert [(a["digit"], a["probability"]) for a in alone] == [(d["digit"], d["probability"])
                                                               for d in answer["per_digit"]]
    line = check(invoke("predict", "row.png", "--digits", "--checkpoint", reader), 0).stdout
    assert re.fullmatch(r"row\.png: 207 \(min \d+\.\d%\)(, unsure: .*)?\n", line)
    assert line.startswith(f"row.png: 207 (min {answer['probability']:.1%})")


def test_one_digit_reads_the_same_with_or_without_digits(mnist_reader, tmp_path):
    reader, *_ = mnist_reader
    paper(sure_examples(mnist_reader, [5])).save(tmp_path / "five.png")
    for extra in ([], ["--top", "3"]):
        plain = check(invoke("predict", "five.png", "--checkpoint", reader, *extra), 0).stdout
        assert plain == check(invoke("predict", "five.png", "--digits", "--checkpoint", reader, *extra), 0).stdout
        assert plain.startswith("five.png: 5 (")
    [plain] = jsons(check(invoke("predict", "five.png", "--json", "--checkpoint", reader), 0))
    [split] = jsons(check(invoke("predict", "five.png", "--json", "--digits", "--checkpoint", reader), 0))
    assert split.pop("digits") == "5" and split.pop("per_digit") == [{k: plain[k] for k in ("digit", "probability",
                                                                                            "top")}]
    assert split == plain


def test_digits_show_and_steps_draw_each_digit(mnist_reader, tmp_path):
    reader, *_ = mnist_reader
    paper(sure_examples(mnist_reader, [3, 1])).save(tmp_path / "pair.png")
    result = check(invoke("predict", "pair.png", "--digits", "--show", "--checkpoint", reader,
                          "--save-steps", "steps"), 0)
    lines = result.stdout.split("\n")
    assert lines[0].startswith("pair.png: 31 (min ")
    assert lines[1] == "digit 1 of 2" and lines[18] == "digit 2 of 2"
    with Image.open(tmp_path / "steps" / "pair.steps.png") as strip:
        assert panels(strip) == 3 + 2 * 2                   # the page's three stages, then each digit's two
