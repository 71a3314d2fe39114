"""Hospital appointments: hospitals, slots, booking, listing, cancelling."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import List, Optional

from actions.clients.base import new_idempotency_key, segment
from actions.clients.identity import AccessToken, IdentityCheck, bearer


@dataclass(frozen=True)
class Hospital:
    name: str
    aliases: List[str]
    departments: List[str]


@dataclass(frozen=True)
class Doctor:
    doctor_id: str
    name: str
    title: str


@dataclass(frozen=True)
class Slot:
    slot_id: str
    date: date
    weekday: str
    time_period: str  # morning / afternoon / evening
    start: str
    end: str
    doctor: Doctor
    fee: Decimal
    remaining: int


@dataclass(frozen=True)
class Appointment:
    appointment_id: str
    status: str  # booked / cancelled
    hospital: str
    department: str
    doctor: Doctor
    date: date
    time_period: str
    visit_time: str
    queue_number: int
    fee: Decimal
    patient_name: str
    id_number: str  # masked
    phone: str  # masked
    created_at: datetime


class HospitalClient(IdentityCheck):
    service_name = "预约挂号服务"

    def hospitals(self) -> List[Hospital]:
        return self._get("/hospitals", List[Hospital], unwrap="hospitals")

    def hospital(self, name: str) -> Hospital:
        return self._get(f"/hospitals/{segment(name)}", Hospital)

    def slots(self, hospital: str, department: str, day: Optional[date] = None,
              time_period: Optional[str] = None) -> List[Slot]:
        params = {"hospital": hospital, "department": department,
                  "date": day.isoformat() if day else None, "time_period": time_period}
        return self._get("/slots", List[Slot], params=params, unwrap="slots")

    def book(self, slot_id: str, fee: Decimal, patient_name: str, id_number: str, phone: str,
             idempotency_key: Optional[str] = None) -> Appointment:
        """Books this very slot (doctor and session) for the fee the citizen confirmed."""
        body = {"slot_id": slot_id, "fee": float(fee), "patient_name": patient_name, "id_number": id_number,
                "phone": phone}
        return self._post("/appointments", Appointment, body, idempotency_key=idempotency_key or new_idempotency_key())

    def appointments(self, token: AccessToken) -> List[Appointment]:
        """The appointments of the ID number and phone the token proves."""
        return self._get("/appointments", List[Appointment], headers=bearer(token), unwrap="appointments")

    def cancel(self, appointment_id: str, token: AccessToken, idempotency_key: Optional[str] = None) -> Appointment:
        """The backend checks that the token proves the patient."""
        return self._request("POST", f"/appointments/{segment(appointment_id)}/cancel", Appointment, body={},
                             headers=bearer(token), idempotency_key=idempotency_key or new_idempotency_key())
