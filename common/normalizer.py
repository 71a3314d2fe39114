"""Text normalisation before tokenisation, with offsets back to the original.

Citizens type on phones: full-width letters and digits (粤Ｂ１２３４５), mixed
case (粤b12345) and spaces inside codes (粤B 12345, 138 1234 5678). Jieba and
the regexes see a normalised text. `normalise` keeps a map from every
normalised character to the user's original one, so the pipeline components
(bot.nlu.components) can put the original text back and move every entity's
start/end into it: trainers and reviewers always see the citizen's own words
with correct spans. Pure functions, no Rasa import.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import List
# Runs this long on both sides of a space are two codes, not one split code
# (phone groups are 3-4 long, ID groups 4-8).
MIN_WHOLE_CODE = 9
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
    return (char.isascii() and char.isalnum()) or char in _PROVINCES


def normalise(original: str) -> Normalised:
    """Fold characters one to one and drop whitespace between code characters."""
    folded = [fold_char(c) for c in unicodedata.normalize("NFC", original)]
    if len(folded) != len(original):  # NFC composed something: fold the raw text
        folded = [fold_char(c) for c in original]
    kept: List[str] = []
    offsets: List[int] = []
    for i, char in enumerate(folded):
        if char.isspace() and kept and _is_code_char(kept[-1]):
            nxt = next((c for c in folded[i + 1 :] if not c.isspace()), "")
            inside_code = kept[-1].isdigit() or kept[-1] in _PROVINCES or nxt.isdigit()
            if inside_code and nxt.isascii() and nxt.isalnum() and not _two_codes(kept, folded, i):
                continue
        kept.append(char)
        offsets.append(i)
    offsets.append(len(original))
    return Normalised("".join(kept), offsets)


def _two_codes(kept: List[str], folded: List[str], i: int) -> bool:
    """An ID then a phone number ("4403…1234 13812345678"): both runs are whole codes."""
    before = len(_run("".join(kept)[::-1]))
    after = len(_run("".join(folded[i:]).lstrip()))
    return before >= MIN_WHOLE_CODE and after >= MIN_WHOLE_CODE


def _run(text: str) -> str:
    run = []
    for char in text:
        if not (char.isascii() and char.isalnum()):
            break
        run.append(char)
    return "".join(run)


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
