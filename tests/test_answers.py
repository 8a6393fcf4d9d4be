"""predict's answers as text and JSON (bpnet.answers), from distributions made by hand."""

import numpy as np

from bpnet import answers


def column(**probabilities):
    """A distribution over the ten digits, (10, 1), from {digit: probability} (keys d0..d9)."""
    p = np.zeros((10, 1))
    for name, value in probabilities.items():
        p[int(name[1:]), 0] = value
    return p


def test_a_sure_answer_is_one_digit_and_its_probability():
    P = column(d7=0.971, d1=0.029)
    assert answers.line("x.png", P, 1) == "x.png: 7 (97.1%)"
    assert answers.line("x.png", P, 2) == "x.png: 7 (97.1%)  1 2.9%"
    record = answers.record("x.png", P, 1, several=False)
    assert record == {"file": "x.png", "digit": 7, "probability": 0.971,
                      "top": [{"digit": 7, "probability": 0.971}], "unsure": False}


def test_an_answer_below_the_threshold_is_unsure_and_names_the_runner_up():
    P = column(d4=0.41, d9=0.38, d7=0.21)
    assert 0.41 < answers.UNSURE_BELOW
    assert answers.line("x.png", P, 1) == "x.png: 4 (41.0%), unsure: 9 (38.0%)"
    assert answers.record("x.png", P, 1, several=False)["unsure"] is True


def test_several_digits_read_as_one_number_with_the_smallest_probability():
    P = np.hstack([column(d2=0.99, d7=0.01), column(d0=0.95, d6=0.05), column(d2=0.55, d7=0.45)])
    assert answers.line("year.png", P, 1) == "year.png: 202 (min 55.0%), unsure: digit 3 is 2 (55.0%) or 7 (45.0%)"
    record = answers.record("year.png", P, 1, several=True)
    assert (record["digits"], record["digit"], record["top"], record["probability"]) == ("202", None, None, 0.55)
    assert [d["digit"] for d in record["per_digit"]] == [2, 0, 2] and record["unsure"] is True
