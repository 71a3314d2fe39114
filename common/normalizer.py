"""Text normalisation before tokenisation, with offsets back to the original.

Citizens type on phones: full-width letters and digits (粤Ｂ１２３４５), mixed
case (粤b12345) and spaces inside codes (粤B 12345, 138 1234 5678); in 广州
and 深圳 many type traditional characters (廣州, 查違章), converted to
simplified ones by OpenCC, character for character. Jieba and the regexes
see a normalised text. `normalise` keeps a map from every
normalised character to the user's original one, so the pipeline components
(bot.nlu.components) can put the original text back and move every entity's
start/end into it: trainers and reviewers always see the citizen's own words
with correct spans. Pure functions, no Rasa import.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import List

import opencc

# Runs this long on both sides of a space are two codes, not one split code
# (phone groups are 3-4 long, ID groups 4-8).
MIN_WHOLE_CODE = 9
# A plate's letter and five or six characters after its province character: complete,
# so a run of 4+ after a space is the next code (engine or phone number), not its tail.
PLATE_TAIL = 6
MIN_CODE_AFTER_PLATE = 4
_PROVINCES = set("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")


@dataclass(frozen=True)
class Normalised:
    text: str
    # offsets[i] is the index in the original text of normalised character i;
    # offsets[len(text)] == len(original).
    offsets: List[int]

    def to_original(self, start: int, end: int) -> tuple:
        """Map a normalised [start, end) span to the original text."""
        if end <= start:
            return self.offsets[start], self.offsets[start]
        return self.offsets[start], self.offsets[end - 1] + 1


def fold_char(char: str) -> str:
    """Full-width to half-width, ideographic space to space, ASCII to lower case."""
    code = ord(char)
    if code == 0x3000:
        return " "
    if 0xFF01 <= code <= 0xFF5E:
        char = chr(code - 0xFEE0)
    return char.lower() if char.isascii() else char


def _is_code_char(char: str) -> bool:
    return _is_ascii_alnum(char) or char in _PROVINCES


def _simplified(folded: str) -> str:
    """Traditional characters to simplified ones, one character for one.

    OpenCC converts phrase by phrase; its t2s phrases keep their length, so
    offsets hold. Should a phrase ever change length, each character is
    converted alone and kept only where it stays one character.
    """
    converted = _converter().convert(folded)
    if len(converted) == len(folded):
        return converted
    convert = _converter().convert
    return "".join(c if len(c := convert(char)) == 1 else char for char in folded)


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    """Loaded once per process (its dictionaries ship in the wheel)."""
    return opencc.OpenCC("t2s")


def normalise(original: str) -> Normalised:
    """Fold characters one to one, traditional to simplified, and drop
    whitespace between code characters. Linear in the length of the text."""
    composed = unicodedata.normalize("NFC", original)
    if len(composed) != len(original):  # NFC composed something: fold the raw text
        composed = original
    folded = _simplified("".join(fold_char(c) for c in composed))
    next_solid = _next_non_space(folded)
    run_from = _code_runs_from(folded)
    kept: List[str] = []
    offsets: List[int] = []
    run_before = 0  # length of the ASCII letter/digit run that ends `kept`
    plate_run = False  # that run follows a province character (a plate's letters)
    for i, char in enumerate(folded):
        if char.isspace() and kept and _is_code_char(kept[-1]):
            j = next_solid[i]
            nxt = folded[j] if j < len(folded) else ""
            inside_code = kept[-1].isdigit() or kept[-1] in _PROVINCES or nxt.isdigit()
            two_codes = (run_before >= MIN_WHOLE_CODE and run_from[j] >= MIN_WHOLE_CODE) or (
                plate_run and run_before >= PLATE_TAIL and run_from[j] >= MIN_CODE_AFTER_PLATE)
            if inside_code and nxt.isascii() and nxt.isalnum() and not two_codes:
                continue
        if _is_ascii_alnum(char):
            plate_run = plate_run if run_before else bool(kept) and kept[-1] in _PROVINCES
            run_before += 1
        else:
            run_before, plate_run = 0, False
        kept.append(char)
        offsets.append(i)
    offsets.append(len(original))
    return Normalised("".join(kept), offsets)


def _is_ascii_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _next_non_space(text: str) -> List[int]:
    """For each index, the index of the first non-space character at or after it."""
    result = [len(text)] * (len(text) + 1)
    for i in range(len(text) - 1, -1, -1):
        result[i] = result[i + 1] if text[i].isspace() else i
    return result


def _code_runs_from(text: str) -> List[int]:
    """For each index, the length of the ASCII letter/digit run starting there."""
    result = [0] * (len(text) + 1)
    for i in range(len(text) - 1, -1, -1):
        result[i] = result[i + 1] + 1 if _is_ascii_alnum(text[i]) else 0
    return result


def normalise_surface(text: str) -> str:
    """The normalised form of a dictionary word, to match normalised messages."""
    return normalise(text).text


def original_to_normalised(norm: Normalised, original_length: int) -> List[int]:
    """Original index -> normalised index (a dropped space maps to the next kept char)."""
    to_norm = [0] * (original_length + 1)
    j = 0
    for i in range(original_length + 1):
        while j < len(norm.offsets) - 1 and norm.offsets[j] < i:
            j += 1
        to_norm[i] = j
    return to_norm
