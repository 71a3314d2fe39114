"""Social insurance and housing fund, behind the city's SMS identity check."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import List

from actions.clients.identity import AccessToken, IdentityCheck, bearer


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


class SocialClient(IdentityCheck):
    """The code goes only to the phone on file with the bureau for the ID number."""

    service_name = "社保公积金服务"

    def insurance(self, token: AccessToken) -> InsuranceRecord:
        return self._get("/insurance", InsuranceRecord, headers=bearer(token))

    def housing_fund(self, token: AccessToken) -> HousingFund:
        return self._get("/housing-fund", HousingFund, headers=bearer(token))
