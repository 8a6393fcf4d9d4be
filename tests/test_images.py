"""bpnet.images: files people make become MNIST-like digits; MNIST's own images pass untouched."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from bpnet import data
from bpnet.errors import ImageError
from bpnet import images
from bpnet.images import Stages, load_digits, load_image, load_images, load_stages, preprocess, split_digits, to_mnist

INDICES = range(0, 10000, 200)  # 50 test digits, every class represented


@pytest.fixture(scope="module")
def mnist_test(mnist_gz_dir):
    """The MNIST test split (images (10000, 784) uint8, labels)."""
    return data.load("mnist", mnist_gz_dir, download=False).test


def seven(size=(200, 300), ink=0, paper=255, mode="L"):
    """A thick, off-centre '7' drawn without antialiasing: ink on paper, ``size`` = (width, height)."""
    image = Image.new(mode, size, paper)
    draw = ImageDraw.Draw(image)
    draw.line([(30, 50), (140, 50), (70, 260)], fill=ink, width=18)
    return image


def centre_of_mass(digit):
    """(row, column) centre of mass of a 2-D array."""
    digit = digit.astype(np.float64)
    mass = digit.sum()
    return (digit.sum(1) @ np.arange(digit.shape[0]) / mass,
            digit.sum(0) @ np.arange(digit.shape[1]) / mass)


def ink_bbox(digit):
    """(height, width) of the bounding box of the nonzero pixels."""
    rows = np.flatnonzero(digit.any(1))
    cols = np.flatnonzero(digit.any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def assert_one_line_error(excinfo, path):
    message = str(excinfo.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message


# ----------------------------------------------------------------------------- MNIST's own images

def test_mnist_png_round_trips_bit_for_bit(mnist_test, tmp_path):
    rows = mnist_test.images[list(INDICES)]
    paths = []
    for n, row in enumerate(rows):
        paths.append(tmp_path / f"digit{n}.png")
        Image.fromarray(row.reshape(28, 28)).save(paths[-1])
        assert np.array_equal(load_image(paths[-1]).reshape(784), row)
    A0 = load_images(paths)
    assert np.array_equal(A0, data.scale_rows(rows).T)  # the very floats eval feeds the net


def test_every_mnist_test_image_passes_unchanged(mnist_test):
    for row in mnist_test.images:
        digit = row.reshape(28, 28)
        assert np.array_equal(to_mnist(Image.fromarray(digit)), digit)


def test_mnist_saved_as_gray_rgb_passes_unchanged(mnist_test, tmp_path):
    digit = mnist_test.images[7].reshape(28, 28)
    path = tmp_path / "rgb.png"
    Image.fromarray(digit).convert("RGB").save(path)
    assert np.array_equal(load_image(path), digit)


def test_light_background_28x28_is_processed_not_passed(mnist_test):
    digit = mnist_test.images[0].reshape(28, 28)
    out = to_mnist(Image.fromarray(255 - digit))
    assert np.corrcoef(out.ravel(), digit.ravel())[0, 1] > 0.9


def render_inverted(digit, offset, resample):
    """An MNIST digit as people would draw it: black on white, x5, off-centre on a big canvas."""
    big = Image.fromarray(255 - digit).resize((140, 140), resample)
    canvas = Image.new("L", (300, 260), 255)
    canvas.paste(big, offset)
    return canvas


def best_shift_correlation(a, b):
    """Correlation of ``a`` and ``b`` under the best shift of at most one pixel each way.

    Whole-pixel centring by mass is ambiguous by half a pixel, in MNIST as here.
    """
    return max(np.corrcoef(np.roll(a, (dy, dx), (0, 1)).ravel(), b.ravel())[0, 1]
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_rendered_mnist_digits_come_back_like_mnist(mnist_test):
    """Most MNIST digits' strokes are within the widths kept (NARROW to WIDE), so they come back
    nearly as they were; the thinnest and thickest tenth are widened or thinned, still alike."""
    rng = np.random.default_rng(0)
    plain, differences = [], []
    for i in INDICES:
        digit = mnist_test.images[i].reshape(28, 28)
        offset = (int(rng.integers(0, 160)), int(rng.integers(0, 120)))
        out = to_mnist(render_inverted(digit, offset, Image.NEAREST)).astype(np.float64)
        plain.append(np.corrcoef(out.ravel(), digit.ravel())[0, 1])
        differences.append(np.abs(out - digit).mean())
        assert best_shift_correlation(out, digit) > 0.93, i
    assert np.median(plain) > 0.97 and np.median(differences) < 10


def test_blurred_rendered_mnist_digits_stay_close(mnist_test):
    rng = np.random.default_rng(1)
    plain = []
    for i in INDICES:
        digit = mnist_test.images[i].reshape(28, 28)
        offset = (int(rng.integers(0, 160)), int(rng.integers(0, 120)))
        out = to_mnist(render_inverted(digit, offset, Image.BICUBIC)).astype(np.float64)
        plain.append(np.corrcoef(out.ravel(), digit.ravel())[0, 1])
        assert best_shift_correlation(out, digit) > 0.85, i
    assert np.mean(plain) > 0.9


# ----------------------------------------------------------------------------- drawings

def test_black_on_white_drawing_is_inverted_cropped_and_centred():
    out = to_mnist(seven())
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out.max() == 255
    height, width = ink_bbox(out)
    assert height <= 20 and width <= 20 and max(height, width) >= 19
    row, col = centre_of_mass(out)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1
    # White ink on black: the 7's top bar is a bright row, the corners are background.
    top = np.flatnonzero(out.any(1))[0]
    assert (out[top: top + 3] > 128).any(0).sum() >= 8
    assert out[0, 0] == out[-1, -1] == 0


def seven_of_width(pen, blur=0.0):
    """The '7' of :func:`seven` on a 600x600 page, its strokes ``pen`` px wide, optionally blurred."""
    image = Image.new("L", (600, 600), 255)
    ImageDraw.Draw(image).line([(150, 120), (420, 120), (250, 500)], fill=0, width=pen)
    return image.filter(ImageFilter.GaussianBlur(blur)) if blur else image


def stroke_width(digit):
    """The width measure the pipeline uses, on the ink above half of a stage's peak."""
    return images._stroke_width(digit > 0.5 * float(digit.max()))


@pytest.mark.parametrize("pen", [2, 4, 110, 140])
def test_strokes_out_of_mnist_widths_are_moved_toward_them(pen):
    """A fine pen's strokes are widened to MNIST's range of widths, a marker's thinned toward it."""
    drawn = images._crop((np.asarray(seven_of_width(pen)) < 128).astype(np.float32), 0)
    before = stroke_width(drawn)
    digit = preprocess(seven_of_width(pen)).digit
    after = stroke_width(digit)
    if before < images.NARROW:
        assert images.NARROW - 0.015 <= after <= images.WIDE, (before, after)
    else:
        assert before > images.WIDE and images.WIDE <= after <= before - 0.015, (before, after)
    assert set(np.unique(digit)) == {0, 255}                    # binary pen strokes, antialiased by the fit


def test_strokes_within_mnist_widths_keep_their_width():
    drawn = images._crop((np.asarray(seven_of_width(60)) < 128).astype(np.float32), 0)
    assert images.NARROW <= stroke_width(drawn) <= images.WIDE
    assert stroke_width(preprocess(seven_of_width(60)).digit) == pytest.approx(stroke_width(drawn), abs=0.01)


def test_a_blurred_digit_comes_back_with_solid_strokes():
    """Blur spreads ink into grey; MNIST's strokes are solid (their digits were binary before
    scaling), so the blurred 7 gives nearly the 28x28 of the sharp one."""
    sharp, blurred = to_mnist(seven_of_width(30)), to_mnist(seven_of_width(30, blur=12))
    assert (blurred == 255).sum() >= 0.7 * (sharp == 255).sum()
    assert np.abs(blurred.astype(int) - sharp).mean() < 15


def test_white_on_black_drawing_is_not_inverted():
    assert np.array_equal(to_mnist(seven(ink=255, paper=0)), to_mnist(seven()))


def test_grey_pen_on_grey_paper_is_stretched():
    out = to_mnist(seven(ink=90, paper=170))
    assert out.max() == 255
    assert np.abs(out.astype(int) - to_mnist(seven())).mean() < 1


@pytest.mark.parametrize("ink", [(0, 0, 0, 255), (255, 255, 255, 255), (200, 30, 30, 255)])
def test_ink_on_transparent_canvas(ink):
    # The canvas is (0, 0, 0, 0): black but fully transparent, as paint programs save it.
    drawing = seven(ink=ink, paper=(0, 0, 0, 0), mode="RGBA")
    assert np.array_equal(to_mnist(drawing), to_mnist(seven()))


def test_transparent_margins_around_opaque_paper():
    drawing = Image.new("RGBA", (260, 360), (0, 0, 0, 0))
    drawing.paste(seven(mode="RGBA", ink=(0, 0, 0, 255), paper=(255, 255, 255, 255)), (30, 30))
    assert np.array_equal(to_mnist(drawing), to_mnist(seven()))


@pytest.mark.parametrize("mode", ["1", "RGB", "CMYK", "YCbCr", "LA", "P", "I", "F"])
def test_modes_agree_with_grayscale(mode):
    expected = to_mnist(seven())
    out = to_mnist(seven().convert(mode))
    assert np.abs(out.astype(int) - expected).mean() < 1


def test_jpeg(tmp_path):
    path = tmp_path / "seven.jpg"
    seven().convert("RGB").save(path, quality=85)
    out = load_image(path)
    assert np.abs(out.astype(int) - to_mnist(seven())).mean() < 3
    row, col = centre_of_mass(out)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1


def test_palette_with_transparency(tmp_path):
    drawing = seven().convert("P")
    path = tmp_path / "seven.png"
    drawing.save(path, transparency=255)  # the white paper is the transparent index
    assert Image.open(path).mode == "P"
    assert np.array_equal(load_image(path), to_mnist(seven()))


def test_sixteen_bit_png(tmp_path):
    path = tmp_path / "seven16.png"
    Image.fromarray(np.asarray(seven()).astype(np.uint16) * 257).save(path)
    assert Image.open(path).mode.startswith("I")
    assert np.array_equal(load_image(path), to_mnist(seven()))


def test_gif_uses_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    first, second = seven(), ImageOps.mirror(seven())
    first.save(path, save_all=True, append_images=[second])
    assert np.array_equal(load_image(path), to_mnist(first))


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.png"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    seven().save(path, exif=exif)
    upright = to_mnist(seven().transpose(Image.Transpose.ROTATE_270))
    assert not np.array_equal(upright, to_mnist(seven()))
    assert np.array_equal(load_image(path), upright)


# ----------------------------------------------------------------------------- errors

def write_text(path):
    path.write_text("7\nnot an image\n")


def write_truncated_png(path):
    seven().save(path)
    path.write_bytes(path.read_bytes()[:400])


def write_white(path):
    Image.new("L", (64, 64), 255).save(path)


def write_black_28(path):
    Image.new("L", (28, 28), 0).save(path)


def write_transparent(path):
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(path)


def write_black_64(path):
    Image.new("L", (64, 64), 0).save(path)


def write_tiny(path):
    image = Image.new("L", (5, 5), 255)
    image.putpixel((2, 2), 0)
    image.save(path)


@pytest.mark.parametrize("name, make, reason", [
    ("notes.png", write_text, "not an image"),
    ("black64.png", write_black_64, "the image is blank; no digit found"),
    ("tiny.png", write_tiny, "too small"),
    ("cut.png", write_truncated_png, "cannot read"),
    ("missing.png", None, "no such file"),
    ("folder", Path.mkdir, "directory"),
    ("white.png", write_white, "the image is blank; no digit found"),
    ("black28.png", write_black_28, "the image is blank; no digit found"),
    ("clear.png", write_transparent, "the image is blank; no digit found"),
    ("nan.tif", lambda p: Image.fromarray(np.full((28, 28), np.nan, np.float32)).save(p),
     "the image is blank; no digit found"),
])
def test_bad_files_raise_one_line_image_error(tmp_path, name, make, reason):
    path = tmp_path / name
    if make is not None:
        make(path)
    with pytest.raises(ImageError, match=reason) as excinfo:
        load_image(path)
    assert_one_line_error(excinfo, path)


@pytest.mark.parametrize("mode, transparency", [("L", None), ("1", None), ("RGB", None), ("RGBA", None),
                                                ("P", None), ("P", 255), ("I;16", None), ("I", None), ("F", None)])
def test_a_large_image_is_shrunk_first_and_reads_the_same(tmp_path, monkeypatch, mode, transparency):
    """With MAX_SIDE 100, the 200x300 seven is box-averaged by 3 before anything else; the digit
    comes out as from the full image, in every mode (16-bit gray levels kept as 16-bit)."""
    import bpnet.images as images

    source = seven()
    if mode == "I;16":
        source = Image.fromarray(np.asarray(source).astype(np.uint16) * 257)
    elif mode != "L":
        source = source.convert(mode)
    path = tmp_path / ("seven.tif" if mode in ("I", "F") else "seven.png")
    source.save(path, **({"transparency": transparency} if transparency is not None else {}))
    full = load_image(path)
    monkeypatch.setattr(images, "MAX_SIDE", 100)
    with Image.open(path) as image:
        assert images._open(path).size == (67, 100) and image.size == (200, 300)
    shrunk = load_image(path)
    assert np.abs(shrunk.astype(int) - full).mean() < 1
    assert abs(int(shrunk.sum()) - int(full.sum())) < 0.1 * full.sum()


def test_a_large_jpeg_is_decoded_small_and_still_turned_by_its_exif(tmp_path, monkeypatch):
    import bpnet.images as images

    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 8                                                # shown turned 90° clockwise
    seven().rotate(-90, expand=True).convert("RGB").save(path, quality=95, exif=exif.tobytes())
    full = load_image(path)
    monkeypatch.setattr(images, "MAX_SIDE", 100)
    opened = images._open(path)
    assert max(opened.size) <= 100 and opened.width < opened.height          # portrait again, as the seven
    shrunk = load_image(path)
    assert np.abs(shrunk.astype(int) - full).mean() < 3
    assert np.abs(shrunk.astype(int) - to_mnist(seven())).mean() < 3


def test_an_image_within_max_side_is_not_resampled(tmp_path):
    import bpnet.images as images

    image = seven(size=(images.MAX_SIDE, 40))
    assert images._shrink(image) is image


@pytest.mark.parametrize("side", [40, 100])  # warning zone (1x-2x the limit) and bomb error (>2x)
def test_huge_image_is_refused(tmp_path, monkeypatch, side):
    path = tmp_path / "huge.png"
    seven(size=(side, side)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageError, match="too large") as excinfo:
        load_image(path)
    assert_one_line_error(excinfo, path)


def test_load_images_errors_name_the_bad_file(tmp_path):
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    seven().save(good)
    write_text(bad)
    with pytest.raises(ImageError) as excinfo:
        load_images([good, bad])
    assert_one_line_error(excinfo, bad)


# ----------------------------------------------------------------------------- load_images

def test_load_images_is_the_column_matrix(tmp_path):
    paths = [tmp_path / "a.png", tmp_path / "b.jpg", tmp_path / "c.bmp"]
    seven().save(paths[0])
    seven().convert("RGB").save(paths[1])
    ImageOps.mirror(seven()).save(paths[2])
    A0 = load_images(paths)
    assert A0.shape == (784, 3) and A0.dtype == np.float32
    assert 0 <= A0.min() and A0.max() <= 1
    for n, path in enumerate(paths):
        row = load_image(path).reshape(1, 784)
        assert np.array_equal(A0[:, n], data.scale_rows(row)[0])
    assert load_images(paths, dtype=np.float64).dtype == np.float64
    assert load_images([]).shape == (784, 0)


# ----------------------------------------------------------------------------- finding the digit on a page

def page_with(digit, size=(360, 300), at=(110, 70), scale=5):
    """An MNIST digit (28, 28) drawn dark on a light page: (H, W) float in [0, 1], ink coverage."""
    big = np.asarray(Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.BICUBIC), np.float64) / 255
    alpha = np.zeros(size[::-1])
    alpha[at[1]: at[1] + big.shape[0], at[0]: at[0] + big.shape[1]] = big
    return alpha


def gray_page(alpha, paper=235.0, ink=25.0, light=None):
    """Ink coverage laid on paper, lit by ``light`` (H, W) in (0, 1]: a mode L image."""
    values = paper * (1 - alpha) + ink * alpha
    if light is not None:
        values = values * light
    return Image.fromarray(np.clip(values + 0.5, 0, 255).astype(np.uint8))


def lighting(shape, gradient=0.6, vignette=0.4):
    """Light falling off from the top-left corner, darker corners: (H, W) in (0, 1]."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]] / np.array(shape, float).reshape(2, 1, 1)
    return (1 - gradient * (x + y) / 2) * (1 - vignette * ((x - 0.5) ** 2 + (y - 0.5) ** 2) * 2)


def similar(out, digit):
    """Correlation of two 28x28 digits under the best shift of at most one pixel each way."""
    return best_shift_correlation(out.astype(np.float64), digit.astype(np.float64))


@pytest.fixture(scope="module")
def digits(mnist_test):
    """A few MNIST test digits, one per class, (28, 28) uint8."""
    found = {}
    for row, label in zip(mnist_test.images, mnist_test.labels):
        found.setdefault(int(label), row.reshape(28, 28))
        if len(found) == 10:
            return [found[k] for k in range(10)]


def test_stages_have_their_documented_shapes(digits):
    stages = preprocess(gray_page(page_with(digits[3])))
    assert isinstance(stages, Stages)
    assert stages.original.shape == stages.flattened.shape == stages.mask.shape == (300, 360)
    assert stages.original.dtype == stages.flattened.dtype == stages.digit.dtype == np.float32
    assert stages.mask.dtype == bool and stages.mnist.dtype == np.uint8 and stages.mnist.shape == (28, 28)
    assert 0 <= stages.flattened.min() and stages.flattened.max() <= 255
    assert stages.original[0, 0] > 200 and stages.flattened[0, 0] < 10  # paper light as read, 0 once flattened
    assert np.array_equal(to_mnist(gray_page(page_with(digits[3]))), stages.mnist)


def test_uneven_light_is_flattened(digits):
    for digit in digits:
        alpha = page_with(digit)
        clean = to_mnist(gray_page(alpha))
        lit = preprocess(gray_page(alpha, light=lighting(alpha.shape)))
        assert similar(lit.mnist, clean) > 0.9
        # The digit chosen is the digit alone, not the dim corners with it.
        assert abs(lit.digit.shape[0] - preprocess(gray_page(alpha)).digit.shape[0]) <= 3


def test_a_hard_shadow_across_the_digit_is_not_ink(digits):
    alpha = page_with(digits[5])
    y, x = np.mgrid[0:alpha.shape[0], 0:alpha.shape[1]]
    shadow = np.where(x + 0.4 * y > 200, 0.45, 1.0)  # a tilted edge through the digit
    out = preprocess(gray_page(alpha, light=shadow))
    assert similar(out.mnist, to_mnist(gray_page(alpha))) > 0.9
    assert out.mask.sum() < 1.5 * preprocess(gray_page(alpha)).mask.sum()


def test_ruled_lines_and_margin_are_removed_and_the_digit_kept(digits):
    scores = []
    for digit in digits[:5]:
        alpha = page_with(digit)
        page = Image.fromarray(np.stack([np.full(alpha.shape, 250.0)] * 3, -1).astype(np.uint8))
        draw = ImageDraw.Draw(page)
        for y in range(12, 300, 36):  # light-blue ruled lines, and a red margin
            draw.line([(0, y), (359, y + 3)], fill=(140, 180, 235), width=2)
        draw.line([(50, 0), (50, 299)], fill=(220, 60, 70), width=2)
        rgb = np.asarray(page, np.float64)
        blue = np.array([30.0, 40.0, 150.0])  # ballpoint
        rgb = rgb * (1 - alpha[..., None]) + blue * alpha[..., None]
        out = preprocess(Image.fromarray(rgb.astype(np.uint8)))
        scores.append(similar(out.mnist, to_mnist(gray_page(alpha))))
        assert out.mask[:, :60].sum() == 0  # no line left where there is no digit
        assert out.mask[:, 300:].sum() == 0
    # A line running along a thin stroke still leaves a stub or a gap (the 4 here: 0.89).
    assert min(scores) > 0.7 and np.median(scores) > 0.95, np.round(scores, 3)


def test_a_stroke_lying_on_a_ruled_line_keeps_its_pixels_on_the_line():
    page = Image.new("L", (360, 300), 250)
    draw = ImageDraw.Draw(page)
    for y in range(30, 300, 40):  # dark lines 2 px thick, rows y and y + 1
        draw.rectangle([(0, y), (359, y + 1)], fill=100)
    # A 2 written on the line: its base, rows 222-231, has the line at 230-231 as its bottom edge. No ink
    # continues below the line there, so only the base's thickness across the line tells it from the line.
    draw.line([(120, 130), (150, 110), (190, 120), (195, 150), (140, 222)], fill=20, width=12)
    draw.rectangle([(135, 222), (225, 231)], fill=20)
    out = preprocess(page)
    assert out.mask[229:232, 140:220].all()
    assert out.mask[:, :100].sum() == 0 and out.mask[:, 260:].sum() == 0  # the lines themselves are gone


def test_a_thick_marker_digit_filling_a_canvas_holds_no_line(digits):
    from scipy import ndimage

    from bpnet import segment

    disk = np.hypot(*np.mgrid[-14:15, -14:15]) <= 14
    for digit in digits:  # each digit 250 px tall in a felt marker's 29-px strokes, on a 280-px canvas
        big = np.asarray(Image.fromarray(digit).resize((250, 250), Image.BICUBIC)) > 100
        ink = ndimage.binary_dilation(np.pad(big, 15), structure=disk)
        # Before its lines had to be thin in the image too, the 0, 1, 2 and 4 each held a "line".
        assert not segment.line_pixels(ink).any()


def test_a_marker_blob_wider_than_the_paper_estimate_stays_ink():
    # A tight crop of a 6 in thick marker, its loop filled: a blob wider than a third of the image,
    # which the paper's closing cannot fill, so it used to read as paper (a square hole in the digit).
    image = Image.new("L", (150, 180), 250)
    draw = ImageDraw.Draw(image)
    draw.ellipse([(20, 75), (130, 170)], fill=15)
    draw.line([(60, 120), (100, 15)], fill=15, width=30)
    out = preprocess(image)
    assert out.mask[95:150, 40:110].all()
    assert not out.mask[:60, :40].any()  # the paper around it is still paper


def test_a_fives_bar_written_apart_from_its_body_stays_with_it():
    # A fine pen's 5: the bar's faint join to the body did not come out, leaving a gap of 0.4 of the
    # body's height, farther than NEAR; but a substantial piece straight above belongs to the digit.
    image = Image.new("L", (300, 360), 250)
    draw = ImageDraw.Draw(image)
    draw.line([(110, 60), (200, 60)], fill=30, width=6)  # the bar, rows 57-63
    draw.arc([(90, 130), (210, 250)], start=-160, end=150, fill=30, width=6)  # the body, rows 130-250
    out = preprocess(image)
    height, width = out.digit.shape  # from the bar to the bottom of the body (1.6:1), not the body alone (1:1)
    assert height > 1.3 * width


def test_a_speck_far_away_is_ignored(digits):
    alpha = page_with(digits[7])
    alpha[20:26, 330:336] = 1  # dust in a corner
    alpha[280:283, 10:13] = 1
    assert np.abs(to_mnist(gray_page(alpha)).astype(int) - to_mnist(gray_page(page_with(digits[7])))).mean() < 1


def test_a_four_in_two_strokes_stays_whole():
    image = Image.new("L", (200, 260), 255)
    draw = ImageDraw.Draw(image)
    draw.line([(60, 40), (40, 150), (95, 150)], fill=0, width=14)  # the first stroke: down and across
    draw.line([(120, 60), (125, 230)], fill=0, width=14)  # the second: the stem, not touching it
    out = preprocess(image)
    from scipy import ndimage

    assert ndimage.label(out.mask, structure=np.ones((3, 3)))[1] == 2  # two pieces of ink...
    rows, cols = np.nonzero(out.mnist > 128)
    assert cols.max() - cols.min() >= 8 and rows.max() - rows.min() >= 18  # ...both in the 28x28


@pytest.mark.parametrize("ink, paper", [(255, 0), ((30, 60, 200), (250, 250, 245)), ((200, 30, 30), (255,) * 3)])
def test_light_and_coloured_ink(ink, paper):
    mode = "L" if isinstance(ink, int) else "RGB"
    out = to_mnist(seven(ink=ink, paper=paper, mode=mode))
    assert np.abs(out.astype(int) - to_mnist(seven())).mean() < 2


def row_of(digits, step=170):
    """MNIST digits written dark on light side by side, ``step`` px from one to the next, on a wide page."""
    row = np.zeros((200, 80 + step * (len(digits) - 1) + 140))
    for n, digit in enumerate(digits):
        at = 40 + n * step
        row[20:160, at:at + 140] = np.maximum(row[20:160, at:at + 140], page_with(digit, (140, 140), (0, 0)))
    return gray_page(row)


def test_split_digits_reads_a_row_left_to_right(digits):
    chosen = [digits[1], digits[9], digits[4]]
    parts = split_digits(row_of(chosen))
    assert len(parts) == 3
    for part, digit in zip(parts, chosen):
        assert similar(part.mnist, to_mnist(row_of([digit]))) > 0.9
    assert all(part.original is parts[0].original for part in parts)


def test_split_digits_of_one_digit_is_preprocess(digits):
    image = gray_page(page_with(digits[2]))
    parts = split_digits(image)
    assert len(parts) == 1 and np.array_equal(parts[0].mnist, preprocess(image).mnist)
    digit = digits[6]
    assert np.array_equal(split_digits(Image.fromarray(digit))[0].mnist, digit)  # MNIST itself passes


def test_touching_digits_are_cut_at_the_thinnest_column(digits):
    parts = split_digits(row_of([digits[0], digits[0]], step=85))
    assert len(parts) == 2


def test_load_stages_and_load_digits_name_the_file(tmp_path, digits):
    path = tmp_path / "row.png"
    row_of([digits[3], digits[8]]).save(path)
    assert len(load_digits(path)) == 2
    assert load_stages(path).mnist.shape == (28, 28)
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    for load in (load_stages, load_digits):
        with pytest.raises(ImageError, match="no digit found") as excinfo:
            load(blank)
        assert_one_line_error(excinfo, blank)


def photo_of(digit, rng):
    """An MNIST digit as a phone photo: turned, unevenly lit paper with a colour cast, blurred, noisy, JPEG."""
    alpha = page_with(digit, size=(400, 340), at=(int(rng.integers(60, 200)), int(rng.integers(40, 160))))
    alpha = np.asarray(Image.fromarray((alpha * 255).astype(np.uint8)).rotate(rng.uniform(-8, 8)), float) / 255
    paper = np.array([235.0, 225.0, 205.0])
    rgb = paper * (1 - alpha[..., None]) + np.array([40.0, 40.0, 60.0]) * alpha[..., None]
    rgb *= lighting(alpha.shape, gradient=rng.uniform(0.2, 0.5), vignette=rng.uniform(0.1, 0.4))[..., None]
    rgb += rng.normal(0, 6, rgb.shape)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(rng.integers(50, 90)))
    return Image.open(io.BytesIO(buffer.getvalue()))


def test_mnist_test_digits_photographed_come_back_like_mnist(mnist_test):
    """Real data: MNIST test digits as photos give back nearly their own 28x28 (the network's input)."""
    rng = np.random.default_rng(0)
    scores = []
    for i in range(0, 10000, 500):
        digit = mnist_test.images[i].reshape(28, 28)
        scores.append(similar(to_mnist(photo_of(digit, rng)), digit))
    assert min(scores) > 0.6 and np.median(scores) > 0.85, np.round(scores, 2)
