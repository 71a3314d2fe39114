"""Traffic violations of a vehicle, and paying a fine."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import List, Optional

from actions.clients.base import BaseClient, new_idempotency_key, segment


@dataclass(frozen=True)
class FinePayment:
    payment_id: str
    amount: Decimal
    paid_at: datetime


@dataclass(frozen=True)
class Violation:
    decision_number: str
    occurred_at: datetime
    place: str
    behaviour: str
    fine: Decimal
    late_fee: Decimal  # 滞纳金 as of today
    amount_due: Decimal  # fine + late fee today; 0 once paid
    points: int
    payment: Optional[FinePayment]

    @property
    def paid(self) -> bool:
        return self.payment is not None


@dataclass(frozen=True)
class VehicleViolations:
    plate: str
    vehicle_type: str
    engine_number_verified: bool
    violations: List[Violation]

    @property
    def unpaid(self) -> List[Violation]:
        return [v for v in self.violations if not v.paid]

    @property
    def unpaid_fine(self) -> Decimal:
        return sum((v.fine for v in self.unpaid), Decimal(0))

    @property
    def unpaid_late_fees(self) -> Decimal:
        return sum((v.late_fee for v in self.unpaid), Decimal(0))


@dataclass(frozen=True)
class PaidFine:
    payment_id: str
    decision_number: str
    plate: str
    amount: Decimal
    late_fee: Decimal
    paid_at: datetime


class ViolationClient(BaseClient):
    service_name = "交通违法查询服务"

    def violations(self, plate: str, engine_number: Optional[str] = None) -> VehicleViolations:
        """The plate and engine number go in the body: personal data never travels in a URL."""
        body = {"plate": plate, **({"engine_number": engine_number} if engine_number else {})}
        return self._lookup("/vehicles/violations", VehicleViolations, body)

    def pay(self, decision_number: str, amount: Decimal, idempotency_key: Optional[str] = None) -> PaidFine:
        """Pays `amount`, the sum the citizen confirmed: the bureau refuses it if today's due
        (fine and late fee) differs. Pass the same `idempotency_key` when repeating."""
        return self._post(f"/violations/{segment(decision_number)}/payment", PaidFine, {"amount": float(amount)},
                          idempotency_key=idempotency_key or new_idempotency_key())
