"""Water, electricity and gas bills, and paying arrears."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Dict, List, Optional

from actions.clients.base import BaseClient, new_idempotency_key


@dataclass(frozen=True)
class Company:
    utility_type: str  # water / electricity / gas
    label: str
    company: str


@dataclass(frozen=True)
class Bill:
    month: str  # YYYY-MM
    usage: Decimal
    unit: str
    amount: Decimal
    due_date: date
    paid: bool
    payment_id: Optional[str]


@dataclass(frozen=True)
class UtilityAccount:
    account_number: str
    utility_type: str
    company: str
    holder: str
    address: str
    arrears: Decimal
    unpaid_months: List[str]
    bills: List[Bill]


@dataclass(frozen=True)
class BillPayment:
    payment_id: str
    account_number: str
    months: List[str]
    amount: Decimal
    paid_at: datetime
    arrears_after: Decimal


class UtilityClient(BaseClient):
    service_name = "水电燃气缴费服务"

    def companies(self) -> List[Company]:
        return self._get("/companies", List[Company], unwrap="companies")

    def account(self, account_number: str, utility_type: Optional[str] = None,
                months: Optional[int] = None) -> UtilityAccount:
        """Bills newest first; `utility_type`, when given, is checked against the account."""
        body = {"account_number": account_number, "utility_type": utility_type, "months": months}
        return self._lookup("/accounts/lookup", UtilityAccount, {k: v for k, v in body.items() if v is not None})

    def pay(self, account_number: str, amount: Decimal, months: Optional[List[str]] = None,
            idempotency_key: Optional[str] = None) -> BillPayment:
        """Pays `months` (default: all arrears) for `amount`, the sum the citizen confirmed:
        the company refuses it if the bill changed in between."""
        body: Dict[str, Any] = {"account_number": account_number, "amount": float(amount)}
        if months:
            body["months"] = months
        return self._post("/payments", BillPayment, body,
                          idempotency_key=idempotency_key or new_idempotency_key())
