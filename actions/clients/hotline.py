"""12345 hotline tickets: report an issue, follow it up."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional

from actions.clients.base import new_idempotency_key, segment
from actions.clients.identity import AccessToken, IdentityCheck, bearer


@dataclass(frozen=True)
class TicketEvent:
    status: str
    at: datetime
    note: str


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    category: str
    description: str
    location: str
    phone: str  # masked
    department: str
    status: str  # 已受理 / 处理中 / 已办结
    created_at: datetime
    expected_close_at: datetime
    history: List[TicketEvent]


class HotlineClient(IdentityCheck):
    service_name = "12345热线服务"

    def create_ticket(self, description: str, location: str, phone: str, category: Optional[str] = None,
                      idempotency_key: Optional[str] = None) -> Ticket:
        """The key makes a retried submission file one ticket, not two."""
        body = {"description": description, "location": location, "phone": phone, "category": category}
        return self._post("/tickets", Ticket, {k: v for k, v in body.items() if v is not None},
                          idempotency_key=idempotency_key or new_idempotency_key())

    def ticket(self, ticket_id: str) -> Ticket:
        return self._get(f"/tickets/{segment(ticket_id)}", Ticket)

    def tickets(self, token: AccessToken) -> List[Ticket]:
        """The tickets left with the phone the token proves."""
        return self._get("/tickets", List[Ticket], headers=bearer(token), unwrap="tickets")
