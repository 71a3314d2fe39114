"""The city's identity check (SMS one-time code), offered under every service
that shows or changes personal data: 社保, hospital appointments, 12345 tickets.

The two POSTs are sent once (no Idempotency-Key): repeating `start` sends
another SMS, repeating `confirm` spends an attempt. The token is valid at
every service of the same city.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Optional

from actions.clients.base import BaseClient


@dataclass(frozen=True)
class Verification:
    verification_id: str
    phone: str  # masked
    expires_in: int
    message: str


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_at: datetime


class IdentityCheck(BaseClient):
    """A service client whose backend also runs the city's SMS check."""

    def start_verification(self, id_number: Optional[str], phone: str) -> Verification:
        """Texts a one-time code to `phone` (the bureau may insist it is the one on file)."""
        body: Dict[str, Any] = {"phone": phone, **({"id_number": id_number} if id_number else {})}
        return self._post("/verify/start", Verification, body)

    def confirm(self, verification_id: str, code: str) -> AccessToken:
        return self._post("/verify/confirm", AccessToken, {"verification_id": verification_id, "code": code})


def bearer(token: AccessToken) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token.token}"}
