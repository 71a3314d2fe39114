"""What the citizen confirmed is exactly what is paid or booked.

The action that asks for the confirmation shows the terms (the amount, the
fine, the doctor, the session, the fee) and keeps them in one slot, bound to
a digest of the subject they are about (which fine of which plate, which
account, which session). The action that pays or books sends those terms,
and nothing else, to the backend, which refuses them if they no longer
hold. Without confirmed terms for this very subject nothing happens:
never "pay whatever is due". A failed or timed-out attempt clears the
confirmation and says so, so no `confirmed=True` reaches another form.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List, Mapping, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.clients.base import BackendError, RequestRejected
from actions.texts import words

TERMS_SLOT = "confirmed_terms"
# Cleared by every submit action, whatever the outcome.
CLEARED: List[EventType] = [SlotSet("confirmed", None), SlotSet(TERMS_SLOT, None)]
# Ends a form from its ask action when there is nothing the citizen could confirm.
END_FORM: List[EventType] = [*CLEARED, SlotSet("requested_slot", None), ActiveLoop(None)]


def digest(subject: Mapping[str, Any]) -> str:
    """The subject's fingerprint: kept instead of the values (ID numbers stay in their own slots)."""
    raw = json.dumps(subject, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def remember(subject: Mapping[str, Any], **terms: Any) -> SlotSet:
    """What is shown for confirmation, bound to its subject."""
    return SlotSet(TERMS_SLOT, {"subject": digest(subject), **{k: str(v) for k, v in terms.items()}})


def confirmed_terms(tracker: Tracker, subject: Mapping[str, Any]) -> Optional[Dict[str, str]]:
    """The terms the citizen said yes to, if they did and for this very subject."""
    terms = tracker.get_slot(TERMS_SLOT)
    if tracker.get_slot("confirmed") is not True or not isinstance(terms, dict):
        return None
    return terms if terms.get("subject") == digest(subject) else None


def refuse_unconfirmed(dispatcher: CollectingDispatcher, what: str) -> List[EventType]:
    """A confirmation without its terms (or for something else): nothing is done."""
    dispatcher.utter_message(text=words("confirmation.refuse_unconfirmed", what=what))
    return list(CLEARED)


def not_done(dispatcher: CollectingDispatcher, error: BackendError, what: str,
             rejected: Optional[str] = None) -> None:
    """Why the payment or booking did not go through, and that the confirmation is void."""
    if isinstance(error, RequestRejected):
        dispatcher.utter_message(
            text=words("confirmation.not_done",
                       rejected_or_what=rejected or what + '没有办成',
                       error_user_message=error.user_message)
        )
        return
    replies.backend_failure(dispatcher, error)
    dispatcher.utter_message(
        text=words("confirmation.not_done_2", what=what)
    )

