"""What pinball displays say: scores with the separators the hardware lights, and game messages.

Label convention (what a reader should output): exactly the characters lit on the display.
Separators are lit segments/dots on real displays, so "1,234,560" is labelled with its commas and
"1.234.560" with its periods; a display without separator segments gives "1234560". Runs of blank
positions inside one text read as a single space ("BALL 3"); texts are at most 25 characters
(PaddleOCR's default ``max_text_length``).
"""

from __future__ import annotations

import bisect
from typing import Sequence, TypeVar

import numpy as np

MESSAGES = (
    "GAME OVER", "REPLAY", "HIGH SCORE", "SHOOT AGAIN", "EXTRA BALL", "JACKPOT", "SUPER JACKPOT",
    "TILT", "MATCH", "FREE PLAY", "SPECIAL", "GRAND CHAMPION", "INSERT COINS", "PRESS START",
    "MULTIBALL", "SKILL SHOT", "BONUS", "BALL SAVED", "LOCK LIT", "DOUBLE SCORING", "CREDITS",
    "TOTAL BONUS", "HIGHEST SCORES", "WIZARD MODE", "SAME PLAYER SHOOTS AGAIN", "BALL LOCKED",
)
NUMBERED = ("BALL", "PLAYER", "CREDITS", "CREDIT", "BONUS X", "LOCK", "MATCH", "HIGH SCORE")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
T = TypeVar("T")

# How many digits a score has: most games sit between 5 and 8.
_DIGIT_WEIGHTS = np.array([2, 2, 3, 6, 12, 16, 16, 12, 6, 3], float)
_DIGIT_WEIGHTS /= _DIGIT_WEIGHTS.sum()
_DIGIT_CUMULATIVE = tuple(tuple(np.cumsum(_DIGIT_WEIGHTS[:n]).tolist()) for n in range(len(_DIGIT_WEIGHTS) + 1))
# Separators: commas are the common case on real games, but a reader has to tell a period from a
# comma by its pixels, not by how rare periods are. At 65 % commas and 15 % periods (data v12) a model
# read 9 % of period scores with a wrong separator and 1 % of comma scores (one seed's own split,
# 229 and 906 crops), and put a comma and a period into one score; from data v13 both are as common.
# (Data v3 tried even shares when the demo trained from nothing in 200 s: the errors moved to commas.
# Trained into the base, v13 read 3.6 % of period scores and 2.3 % of comma scores with a wrong
# separator; separator-only misses 60 -> 36 of 1,500 crops: bench/README.md, "Data v13".)
_SEPARATORS, _SEPARATOR_CUMULATIVE = (",", ".", ""), (0.4, 0.8, 1.0)
DMD_SEPARATORS = (",", ".")  # dot-matrix scores: always grouped, either way as often


def pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One of ``options``, uniformly (rng.choice converts the list to an array first: 4x slower)."""
    return options[int(rng.integers(len(options)))]


def pick_weighted(rng: np.random.Generator, options: Sequence[T], cumulative: Sequence[float]) -> T:
    """One of ``options`` with probabilities given as running totals of the weights."""
    return options[min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(options) - 1)]


def format_score(value: int, separator: str) -> str:
    """Group digits by thousands with the separator the display lights ("" for none)."""
    digits = str(value)
    if not separator:
        return digits
    groups = []
    while digits:
        groups.append(digits[-3:])
        digits = digits[:-3]
    return separator.join(reversed(groups))


def score_value(rng: np.random.Generator, max_digits: int = 10) -> int:
    """A plausible score: mostly 5-8 digits, usually ending in 0 (games score in tens)."""
    cumulative = _DIGIT_CUMULATIVE[min(max_digits, len(_DIGIT_WEIGHTS))]
    n = pick_weighted(rng, range(len(cumulative)), cumulative) + 1
    if n == 1:
        return int(rng.integers(0, 10))
    value = int(rng.integers(10 ** (n - 1), 10**n))
    if n > 2 and rng.random() < 0.8:
        value -= value % 10
    return value


def pick_separator(rng: np.random.Generator) -> str:
    """A comma or a period as often as each other, or none (older games)."""
    return pick_weighted(rng, _SEPARATORS, _SEPARATOR_CUMULATIVE)


def score_text(rng: np.random.Generator, separator: str, max_digits: int = 10) -> str:
    return format_score(score_value(rng, max_digits), separator)


def message_text(rng: np.random.Generator, max_length: int = 16) -> str:
    """A game message, a numbered status ("BALL 3"), or high-score initials ("ABC")."""
    for _ in range(20):
        roll = rng.random()
        if roll < 0.45:
            text = pick(rng, MESSAGES)
        elif roll < 0.85:
            word = pick(rng, NUMBERED)
            number = int(rng.integers(1, 5)) if word in ("BALL", "PLAYER") else int(rng.integers(0, 40))
            text = f"{word}{number}" if word.endswith(" X") else f"{word} {number}"
        else:
            text = "".join(LETTERS[i] for i in rng.integers(0, len(LETTERS), 3))
        if len(text) <= max_length:
            return text
    return "TILT"
