"""predict's answers, for people and for programs: the likeliest digits of each image, and the
flag on an answer the network is unsure of. Pure functions of the probabilities; cli prints them."""

import numpy as np

# A digit whose probability is below this is flagged "unsure" (in the line and in --json):
# two readings are then nearly as likely, or the image is unlike anything the network learned.
UNSURE_BELOW = 0.6


def top(p, k):
    """The ``k`` likeliest digits of the distribution ``p`` (10,), likeliest first."""
    return [{"digit": int(d), "probability": float(p[d])} for d in np.argsort(-p, kind="stable")[:k]]


def record(path, P, top_k, several):
    """The --json object for one image; with several digits, ``probability`` is the smallest one's."""
    per_digit = [{"digit": t[0]["digit"], "probability": t[0]["probability"], "top": t}
                 for t in (top(p, top_k) for p in P.T)]
    if len(per_digit) == 1:
        answer = {"file": path, **per_digit[0]}
    else:
        answer = {"file": path, "digit": None, "probability": min(d["probability"] for d in per_digit), "top": None}
    answer["unsure"] = any(d["probability"] < UNSURE_BELOW for d in per_digit)
    if several:
        answer["digits"] = "".join(str(d["digit"]) for d in per_digit)
        answer["per_digit"] = per_digit
    return answer


def line(path, P, top_k):
    """``path: 7 (97.1%)``; ``path: 4 (41.0%), unsure: 9 (38.0%)``; ``path: 2026 (min 91.0%)``."""
    tops = [top(p, max(top_k, 2)) for p in P.T]
    if len(tops) == 1:
        best, *others = tops[0]
        if best["probability"] < UNSURE_BELOW:
            return f"{path}: {said(best)}, unsure: " + ", ".join(map(said, others))
        return f"{path}: {said(best)}" + "".join(f"  {t['digit']} {t['probability']:.1%}" for t in others[:top_k - 1])
    number = "".join(str(t[0]["digit"]) for t in tops)
    text = f"{path}: {number} (min {min(t[0]['probability'] for t in tops):.1%})"
    doubts = [f"digit {n} is {said(t[0])} or {said(t[1])}"
              for n, t in enumerate(tops, 1) if t[0]["probability"] < UNSURE_BELOW]
    return text + (", unsure: " + "; ".join(doubts) if doubts else "")


def said(answer):
    """``7 (97.1%)``: a digit with its probability."""
    return f"{answer['digit']} ({answer['probability']:.1%})"
