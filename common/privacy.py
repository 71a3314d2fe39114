"""Personal data in texts, slot values and stored events: masked for display, sealed at rest.

One set of detectors finds personal values in free text: resident ID numbers,
mobile phone numbers, plates, account-like digit runs (8-19 digits: utility and
bank accounts), names after 我叫/姓名/联系人 and house numbers of addresses.
Every function below uses that one set, so what is masked in a log line is
exactly what is sealed in the tracker.

* `mask_text` / `mask_value`: for display (logs, the staff console's default
  view). Irreversible: 4403**********1234, 138****5678, 粤B***45.
* `seal_text` / `seal_value`: for storage. Each value becomes a *sealed token*
  ``⟦sealed:<display mask>:<Fernet ciphertext>⟧``: whoever reads the row sees
  the mask, only a holder of `secret("data_key")` can get the value back.
  Sealing is lossless (`reveal_text(seal_text(t)) == t`) and idempotent.
* `reveal_text` / `reveal_value`: the values back, for the bot's own use of
  its tracker and the console's audited reveal only.
* `seal_event` / `reveal_event` / `mask_event`: the same over a stored Rasa
  event (`Event.as_dict()`): every string in it, plus the values of
  `SENSITIVE_SLOTS` in slot events and entities, which no pattern could find
  (identity token, OTP code, short engine numbers).

The key: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with a key
derived by HKDF-SHA256 from `secret("data_key")` (env `CITYLINK_DATA_KEY` or
`var/secrets/data_key`, mode 0600). A token sealed under another key cannot
be revealed: it shows its mask (and a warning without the value is logged).
"""
from __future__ import annotations

import base64
import functools
import logging
import re
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from common.codes import (
    ID_PATTERN,
    PHONE_PATTERN,
    PLATE_PATTERN,
    mask_account,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_plate,
)
from common.secrets import secret

logger = logging.getLogger(__name__)


def _mask_secret(value: str) -> str:
    return "******"


def _mask_engine(value: str) -> str:
    return "*" * max(len(value) - 2, 1) + value[-2:]


def _mask_plate_text(value: str) -> str:
    return mask_plate(re.sub(r"[\s·•．.\-]", "", value).upper())


# Slots (and entities of the same name) whose values are personal or grant
# access to personal data; each with its display mask. These values are sealed
# in stored slot events and entities even where no text pattern finds them,
# and are not carried into a new session (bot/session.py).
SENSITIVE_SLOTS: Dict[str, Callable[[str], str]] = {
    "id_number": mask_id_number,
    "phone_number": mask_phone,
    "plate_number": _mask_plate_text,
    "account_number": mask_account,
    "engine_number": _mask_engine,
    "identity_token": _mask_secret,
    "verification_id": _mask_secret,
    "otp_code": _mask_secret,
}

SEALED = re.compile(r"⟦sealed:([^:⟧]*):([A-Za-z0-9_\-=]+)⟧")
_DIGITS = r"(?<![0-9A-Za-z.])\d{8,19}(?![0-9])(?!\.\d)"  # not part of a code, decimal or timestamp
_NAME_CUES = ("我叫", "名字是", "名字叫", "姓名是", "姓名为", "姓名：", "姓名:", "联系人：", "联系人:", "联系人是")
_NAME = "(?:" + "|".join(f"(?<={cue})" for cue in _NAME_CUES) + r")[\u4e00-\u9fff]{2,4}"
_HOUSE = r"(?<=[路街巷弄里村道])\d{1,5}(?=号(?!线))|\d{1,5}(?=栋|幢|单元|室|房(?!间))"
# One alternation, tried left to right at each position: an 18-digit ID is
# never taken for an account number, nor a phone number for part of one.
# The leading look-ahead is one cheap test at each position where no detector
# can start (most of a log line), instead of six failing alternatives.
_DETECTOR = re.compile(
    r"(?=[\d\u4e00-\u9fff])(?:" + "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in (
        ("id", ID_PATTERN.pattern), ("phone", PHONE_PATTERN.pattern),
        ("plate", PLATE_PATTERN.pattern), ("account", _DIGITS),
        ("name", _NAME), ("house", _HOUSE),
    )) + ")"
)
_MASKERS: Dict[str, Callable[[str], str]] = {
    "id": lambda v: mask_id_number(v.upper()),
    "phone": lambda v: mask_phone(v.replace("-", "")),
    "plate": _mask_plate_text,
    "account": mask_account,
    "name": mask_name,
    "house": lambda v: "*" * len(v),
}
# Every detector needs a digit or a name cue: text without either is returned
# at once (intent names, most sentences), which is most of what is stored or logged.
_MAYBE = re.compile("[0-9０-９]|" + "|".join(_NAME_CUES))
# Full-width digits and letters fold to ASCII for matching; same length, so
# spans found in the folded text cut the original.
_FOLD = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF10, 0xFF5B) if chr(c - 0xFEE0).isalnum()})
# Keys of stored events that hold names of things, never personal values.
_STRUCTURAL_KEYS = frozenset({"event", "name", "policy", "input_channel", "message_id", "timestamp",
                              "intent_name", "action_name", "model_id", "assistant_id", "entity",
                              "extractor", "processors"})


@functools.lru_cache(maxsize=1)
def _fernet() -> Fernet:
    """Fernet under the deployment's data key (cached: one key per process)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"citylink personal data at rest").derive(secret("data_key").encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def reset_key_cache() -> None:
    """Forget the derived key (tests that switch `CITYLINK_DATA_KEY`)."""
    _fernet.cache_clear()
    _decrypt.cache_clear()


def _token(value: str, mask: str) -> str:
    mask = mask.replace(":", "").replace("⟧", "")
    return f"⟦sealed:{mask}:{_fernet().encrypt(value.encode()).decode('ascii')}⟧"


@functools.lru_cache(maxsize=4096)
def _decrypt(ciphertext: str) -> Optional[str]:
    """Cached: the bot re-reads a session's rows for every message."""
    try:
        return _fernet().decrypt(ciphertext.encode("ascii")).decode()
    except InvalidToken:
        return None


def _open(match: "re.Match[str]") -> str:
    value = _decrypt(match.group(2))
    if value is None:
        logger.warning("无法解密一项已封存的个人信息（密钥不同？），只显示掩码")
        return match.group(1)
    return value


def _pieces(text: str) -> Iterator[Tuple[bool, str]]:
    """(is_token, piece) over the text: sealed tokens apart from plain stretches."""
    position = 0
    for match in SEALED.finditer(text):
        if match.start() > position:
            yield False, text[position:match.start()]
        yield True, match.group(0)
        position = match.end()
    if position < len(text):
        yield False, text[position:]


def _replace_found(plain: str, replace: Callable[[str, str], str]) -> str:
    """`plain` with every detected value v (as typed) of kind k replaced by replace(k, v)."""
    folded = plain.translate(_FOLD)
    out, position = [], 0
    for match in _DETECTOR.finditer(folded):
        kind = match.lastgroup or ""
        out += [plain[position:match.start()], replace(kind, plain[match.start():match.end()])]
        position = match.end()
    out.append(plain[position:])
    return "".join(out)


def _mask_found(kind: str, value: str) -> str:
    return _MASKERS[kind](value.translate(_FOLD))


def mask_text(text: str) -> str:
    """The text for display: every personal value masked, sealed or plain."""
    if not text or ("⟦" not in text and not _MAYBE.search(text)):
        return text
    return "".join(SEALED.match(piece).group(1) if is_token  # type: ignore[union-attr]
                   else _replace_found(piece, _mask_found)
                   for is_token, piece in _pieces(text))


def seal_text(text: str) -> str:
    """The text for storage: every personal value a sealed token (idempotent)."""
    if not text or not _MAYBE.search(text):
        return text
    return "".join(piece if is_token
                   else _replace_found(piece, lambda kind, value: _token(value, _mask_found(kind, value)))
                   for is_token, piece in _pieces(text))


def reveal_text(text: str) -> str:
    """The text with its sealed tokens decrypted (the bot's memory, an audited reveal)."""
    if not text or "⟦sealed:" not in text:
        return text
    return SEALED.sub(_open, text)


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and "⟦sealed:" in value


def seal_value(slot_name: str, value: Any) -> Any:
    """A slot's value for storage: sensitive slots sealed whole, other text slots
    sealed like free text (a phone number inside 12345 issue text), others as is."""
    if not isinstance(value, str) or not value or is_sealed(value):
        return value
    masker = SENSITIVE_SLOTS.get(slot_name)
    if masker is None:
        return seal_text(value)
    return _token(value, masker(value))


def reveal_value(value: Any) -> Any:
    """A stored slot value back to what the citizen gave."""
    return reveal_text(value) if isinstance(value, str) else value


def mask_value(slot_name: str, value: Any) -> Any:
    """A slot's value for display, whether plain or sealed."""
    if not isinstance(value, str) or not value:
        return value
    match = SEALED.fullmatch(value)
    if match:
        return match.group(1)
    masker = SENSITIVE_SLOTS.get(slot_name)
    return masker(value) if masker is not None else mask_text(value)


def _walk(data: Any, on_text: Callable[[str], str],
          on_slot: Callable[[str, Any], Any], key: Optional[str] = None) -> Any:
    if isinstance(data, str):
        return data if key in _STRUCTURAL_KEYS else on_text(data)
    if isinstance(data, list):
        return [_walk(item, on_text, on_slot, key) for item in data]
    if not isinstance(data, dict):
        return data
    out = {k: _walk(v, on_text, on_slot, k) for k, v in data.items()}
    # A slot event {"event": "slot", "name": …, "value": …}, an entity {"entity": …, "value": …}.
    slot = data.get("name") if data.get("event") == "slot" else data.get("entity")
    if isinstance(slot, str) and slot in SENSITIVE_SLOTS and "value" in data:
        out["value"] = on_slot(slot, data["value"])
    return out


def seal_event(data: Dict[str, Any]) -> Dict[str, Any]:
    """A stored event (`Event.as_dict()`) with every personal value sealed.

    A user event holds its text twice (and parse data): each distinct string is
    sealed once per event.
    """
    return _walk(data, _memo(seal_text), seal_value)


def _memo(function: Callable[[str], str]) -> Callable[[str], str]:
    done: Dict[str, str] = {}

    def once(text: str) -> str:
        if text not in done:
            done[text] = function(text)
        return done[text]
    return once


def reveal_event(data: Dict[str, Any]) -> Dict[str, Any]:
    """A stored event with its sealed values decrypted."""
    return _walk(data, reveal_text, lambda _slot, value: reveal_value(value))


def mask_event(data: Dict[str, Any]) -> Dict[str, Any]:
    """A stored event (sealed or plain) for display: every personal value masked."""
    return _walk(data, mask_text, mask_value)
