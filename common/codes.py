"""Codes citizens type: plates, resident IDs, phone numbers.

Pure functions shared by the NLU extractor and the actions' form validation,
so "what is a valid plate" has one answer.
"""
from __future__ import annotations

import re
from typing import Optional

from common.normalizer import normalise_surface

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# A separator people put inside a plate: space, middle dot, hyphen.
_SEP = r"[\s·•．.\-]?"
# 7 characters (粤B12345) or 8 for new-energy plates (粤BD12345, 粤B12345D), not
# followed by a letter or digit: 粤B12345 123456 is a plate and an engine number.
PLATE_PATTERN = re.compile(
    rf"[{PROVINCES}]{_SEP}[A-Za-z]{_SEP}(?:[A-Za-z0-9]{_SEP}){{4,5}}[A-Za-z0-9挂学警](?![A-Za-z0-9])"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
ID_PATTERN = re.compile(r"(?<![0-9])[1-9]\d{16}[\dXx](?![0-9A-Za-z])")
PHONE_PATTERN = re.compile(r"(?<![0-9])1[3-9]\d-?\d{4}-?\d{4}(?![0-9])")


def canonical_plate(text: str) -> Optional[str]:
    """Upper case without separators, or None if it is not a plate."""
    plate = re.sub(r"[\s·•．.\-]", "", normalise_surface(text)).upper()
    if not re.fullmatch(rf"[{PROVINCES}][A-Z][A-Z0-9挂学警]{{5,6}}", plate):
        return None
    return plate


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def canonical_id_number(text: str) -> Optional[str]:
    """18-character resident ID with a valid checksum, upper-case X; else None."""
    value = normalise_surface(text.strip()).upper()
    if not re.fullmatch(r"[1-9]\d{16}[\dX]", value):
        return None
    return value if id_check_char(value[:17]) == value[17] else None


def mask_id_number(value: str) -> str:
    """4403**********1234: enough for the citizen to recognise, no more."""
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """138****5678."""
    return value[:3] + "****" + value[-4:]


def mask_plate(value: str) -> str:
    """粤B***45: province and issuing office say the city, the tail the car."""
    return value[:2] + "*" * max(len(value) - 4, 1) + value[-2:]


def mask_account(value: str) -> str:
    """******2401: the last four digits are enough to recognise one's own account."""
    return "*" * max(len(value) - 4, 0) + value[-4:]


def mask_name(value: str) -> str:
    """陈**: the surname is enough to recognise one's own record."""
    return value[:1] + "*" * (len(value) - 1)
