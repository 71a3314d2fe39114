"""A value typed alone as the answer to the form's question.

The NLU finds codes by their cue words (发动机号是123456, 户号 1234 5678) and
names it knows; a citizen answering "发动机号后6位？" types only `123456`, and
one answering "哪家医院？" may type a hospital the gazetteer does not list.
Only the form knows which question is open (`requested_slot`), so the bare
value is read here, for that one slot, when the NLU found nothing for it:
`ServiceForm.run` adds it before validation, and the slot's validator checks
it like any other answer (an unknown hospital is explained by the backend).
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

# Fillers around a value typed alone: 是123456, 123456吧, 就这个: 市一医院.
_FILLERS = re.compile(
    r"^(?:嗯+|呃|那个|就是|就|是|我的|我要|我想去|我在|在|挂|去|号码?是?|[:：])+"
    r"|(?:吧|啊|呀|啦|呢|哦|嘛|的|这个|那里|那家|谢谢)+$"
)
_PUNCTUATION = re.compile(r"[\s，。、,.!！?？~～\-—]")
_ENGINE = re.compile(r"[0-9a-zA-Z]*[0-9][0-9a-zA-Z]*")  # letters and digits, one digit at least
_ACCOUNT = re.compile(r"[0-9]{5,20}")
MAX_NAME_LENGTH = 20  # longer text is a sentence, not a name
# Free text is a name only when the NLU heard an answer, not a question or a request.
NAME_ANSWER_INTENTS = {"inform", "nlu_fallback"}


def _core(text: str) -> str:
    """The value without spaces, punctuation and the fillers around it."""
    previous = None
    text = _PUNCTUATION.sub("", text)
    while previous != text:
        previous, text = text, _FILLERS.sub("", text)
    return text


def engine_number(text: str) -> Optional[str]:
    """`123456`, `a12345`: 4 to 17 letters and digits (the validator wants 6)."""
    core = _core(text)
    return core.upper() if 4 <= len(core) <= 17 and _ENGINE.fullmatch(core) else None


def account_number(text: str) -> Optional[str]:
    """`1234 5678 90`: digits only once spaces and hyphens are gone."""
    core = _core(text)
    return core if _ACCOUNT.fullmatch(core) else None


def name(text: str) -> Optional[str]:
    """A hospital or stop typed alone: a short phrase of 2 to 20 characters."""
    core = _core(text)
    return core if 2 <= len(core) <= MAX_NAME_LENGTH and not core.isdigit() else None


# Slots whose bare value is recognisable whatever the NLU thought of the message.
CODE_READERS: Dict[str, Callable[[str], Optional[str]]] = {
    "engine_number": engine_number,
    "account_number": account_number,
}
# Slots read as a name only when the message was an answer (NAME_ANSWER_INTENTS).
NAME_SLOTS = {"hospital", "bus_stop"}


def events(tracker: Tracker) -> List[EventType]:
    """The SlotSet for the open question, when the message is its bare answer."""
    slot = tracker.get_slot("requested_slot")
    message = tracker.latest_message or {}
    text = message.get("text") or ""
    if not slot or not text or text.startswith("/") or slot in tracker.slots_to_validate():
        return []  # no open question, a button, or the NLU found the value itself
    intent = (message.get("intent") or {}).get("name")
    value: Optional[str] = None
    if slot in CODE_READERS:
        value = CODE_READERS[slot](text)
    elif slot in NAME_SLOTS and intent in NAME_ANSWER_INTENTS:
        value = name(text)
    return [SlotSet(slot, value)] if value else []
