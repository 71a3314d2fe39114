"""Social insurance and housing fund, behind SMS identity verification.

The two verification POSTs are sent once (no Idempotency-Key): repeating
`start` sends another SMS, repeating `confirm` spends an attempt.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Dict, List

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


@dataclass(frozen=True)
class InsuranceItem:
    type: str
    personal_rate: float
    employer_rate: float
    personal_monthly: Decimal
    employer_monthly: Decimal


@dataclass(frozen=True)
class MonthlyContribution:
    month: str
    base: Decimal
    personal: Decimal
    employer: Decimal


@dataclass(frozen=True)
class InsuranceRecord:
    name: str
    id_number: str  # masked
    status: str  # 正常参保 / 暂停参保
    employer: str
    first_paid_month: str
    last_paid_month: str
    months_paid: int
    base: Decimal
    medical_insurance_balance: Decimal
    insurances: List[InsuranceItem]
    recent: List[MonthlyContribution]


@dataclass(frozen=True)
class HousingFund:
    name: str
    id_number: str  # masked
    status: str  # 正常缴存 / 封存
    employer: str
    balance: Decimal
    monthly_deposit: Decimal
    deposit_rate: float
    base: Decimal
    last_deposit_month: str


class SocialClient(BaseClient):
    service_name = "社保公积金服务"

    def start_verification(self, id_number: str, phone: str) -> Verification:
        """Sends a one-time code to the phone registered with the ID number."""
        return self._post("/verify/start", Verification, {"id_number": id_number, "phone": phone})

    def confirm(self, verification_id: str, code: str) -> AccessToken:
        return self._post("/verify/confirm", AccessToken, {"verification_id": verification_id, "code": code})

    def insurance(self, token: AccessToken) -> InsuranceRecord:
        return self._get("/insurance", InsuranceRecord, headers=_bearer(token))

    def housing_fund(self, token: AccessToken) -> HousingFund:
        return self._get("/housing-fund", HousingFund, headers=_bearer(token))


def _bearer(token: AccessToken) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token.token}"}
