"""Personal data as the console shows it: masked unless a reveal was granted.

The privacy branch provides `common.privacy` (mask_text, reveal_text) and seals
ID numbers and phones in the stored events. Until it is merged the console
masks with the patterns below, which cover what the contract calls personal
data (ID number, phone, plate, account number) plus any value the NLU tagged
as one of the sensitive entities (names and addresses included).
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

try:  # the privacy branch's shared masking, once merged
    from common.privacy import mask_text as _shared_mask  # type: ignore[import-not-found]
    from common.privacy import reveal_text as _shared_reveal  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on merge order
    _shared_mask = None
    _shared_reveal = None

SENSITIVE = frozenset({
    "id_number", "phone_number", "plate_number", "engine_number", "account_number",
    "name", "person", "address", "otp_code",
})
_PATTERNS = [
    re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])"),  # resident ID
    re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),  # mobile phone
    re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]\s*[A-Za-z]\s*[·-]?\s*[0-9A-Za-z]{5,6}"),
    re.compile(r"(?<!\d)\d{6,}(?!\d)"),  # account numbers, OTP codes, long digit runs
]


def _stars(value: str) -> str:
    """Keep the first and last character so staff can tell two values apart."""
    if len(value) <= 2:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_text(text: str, values: Iterable[str] = ()) -> str:
    """`text` with personal data masked; `values` are known sensitive values to mask too."""
    if not text:
        return text
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = text.replace(value, _stars(value))
    if _shared_mask is not None:
        return _shared_mask(text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: _stars(m.group(0)), text)
    return text


def reveal_text(text: str) -> str:
    """Stored text as the citizen typed it (unsealed once the privacy branch seals at rest)."""
    return _shared_reveal(text) if _shared_reveal is not None else text


def sensitive_values(entities: Iterable[Mapping[str, Any]]) -> list:
    """Values of the entities that are personal data, from a parse result."""
    return [str(e.get("value")) for e in entities
            if e.get("entity") in SENSITIVE and e.get("value") not in (None, "")]


def mask_value(name: str, value: Any) -> Any:
    """A slot or entity value for display: masked when the name says it is personal data."""
    if value is None:
        return None
    if name in SENSITIVE:
        return _stars(str(value))
    return mask_text(value) if isinstance(value, str) else value
