"""Water, electricity and gas companies: accounts, monthly bills, arrears, payment.

Bills are derived from the account and the month rather than stored, so
there is always a bill for last month whatever the clock says. Bills older
than an account's arrears window count as settled by bank auto-debit; the
newer ones stay unpaid until a payment covers them.
"""
from __future__ import annotations

import sqlite3
from datetime import date, datetime
from typing import Any, Dict, List, Tuple

from aiohttp import web

from common import gazetteer
from citysim.core import (DB, ApiError, City, city_of, confirmed_fen, field, idempotent, json_body, now, reply,
                          stable_rng, yuan)

SCHEMA = """
CREATE TABLE utility_account (
    account_number TEXT PRIMARY KEY,
    city TEXT NOT NULL,
    utility_type TEXT NOT NULL,
    holder TEXT NOT NULL,
    address TEXT NOT NULL,
    base_usage REAL NOT NULL,
    arrears_months INTEGER NOT NULL
);
CREATE TABLE utility_payment (
    payment_id TEXT PRIMARY KEY,
    account_number TEXT NOT NULL REFERENCES utility_account(account_number),
    amount_fen INTEGER NOT NULL,
    paid_at TEXT NOT NULL
);
CREATE TABLE utility_bill_paid (
    account_number TEXT NOT NULL,
    month TEXT NOT NULL,
    payment_id TEXT NOT NULL REFERENCES utility_payment(payment_id),
    PRIMARY KEY (account_number, month)
);
"""

# utility_type -> (unit, yuan per unit, typical monthly usage, first digit of account numbers)
TARIFFS: Dict[str, Tuple[str, float, float, str]] = {
    "water": ("吨", 3.46, 18.0, "3"),
    "electricity": ("度", 0.61, 260.0, "0"),
    "gas": ("立方米", 3.45, 22.0, "8"),
}
# utility_type -> {month: usage factor}: air conditioning in summer, heating water in winter
SEASONAL = {
    "water": {7: 1.2, 8: 1.2},
    "electricity": {6: 1.5, 7: 1.8, 8: 1.8, 9: 1.4},
    "gas": {12: 1.4, 1: 1.5, 2: 1.3},
}
ACCOUNTS_PER_TYPE = 3
BILL_MONTHS = 12
DUE_DAY = 20
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁"


def seed(conn: sqlite3.Connection, city: City) -> None:
    rng = stable_rng("utility", city.code)
    for utility_type in city.gaz.utility_companies:
        first_digit = TARIFFS[utility_type][3]
        for arrears in range(ACCOUNTS_PER_TYPE):
            number = first_digit + "".join(rng.choice("0123456789") for _ in range(9))
            holder = rng.choice(SURNAMES) + "*" + rng.choice("明华伟芳娟强军敏静丽")
            address = (f"{rng.choice(city.gaz.districts)}{rng.choice(list(city.gaz.roads))}"
                       f"{rng.randint(1, 300)}号{rng.randint(1, 12)}栋{rng.randint(1, 30)}{rng.randint(1, 4):02d}房")
            usage = TARIFFS[utility_type][2] * rng.uniform(0.6, 1.5)
            conn.execute("INSERT INTO utility_account VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (number, city.code, utility_type, holder, address, usage, arrears))


def samples(conn: sqlite3.Connection, city: City) -> Dict[str, Any]:
    rows = conn.execute("SELECT account_number, utility_type, arrears_months FROM utility_account "
                        "WHERE city = ? ORDER BY utility_type, arrears_months", (city.code,))
    return {"utility_accounts": [{"account_number": a, "utility_type": t, "arrears_months": n} for a, t, n in rows]}


def _months_before(today: date, count: int) -> List[str]:
    """The `count` billing months before today's month, newest first."""
    index = today.year * 12 + today.month - 1
    return [f"{(index - k) // 12}-{(index - k) % 12 + 1:02d}" for k in range(1, count + 1)]


def bills(conn: sqlite3.Connection, account: sqlite3.Row, today: date) -> List[Dict[str, Any]]:
    unit, price, _, _ = TARIFFS[account["utility_type"]]
    months = _months_before(today, BILL_MONTHS)
    paid = dict(conn.execute("SELECT month, payment_id FROM utility_bill_paid WHERE account_number = ?",
                             (account["account_number"],)).fetchall())
    result = []
    for age, month in enumerate(months):
        factor = SEASONAL[account["utility_type"]].get(int(month[5:]), 1.0)
        noise = stable_rng(account["account_number"], month).uniform(0.85, 1.15)
        usage = round(account["base_usage"] * factor * noise, 1)
        year, mon = int(month[:4]), int(month[5:])
        due = date(year + mon // 12, mon % 12 + 1, DUE_DAY)
        settled = age >= account["arrears_months"] or month in paid
        result.append({"month": month, "usage": usage, "unit": unit, "amount_fen": round(usage * price * 100),
                       "due_date": due.isoformat(), "paid": settled, "payment_id": paid.get(month)})
    return result


def _bill_json(bill: Dict[str, Any]) -> Dict[str, Any]:
    return {**{k: v for k, v in bill.items() if k != "amount_fen"}, "amount": yuan(bill["amount_fen"])}


def _account(request: web.Request, city: City, body: Dict[str, Any]) -> sqlite3.Row:
    number = field(body, "account_number")
    row = request.app[DB].execute("SELECT * FROM utility_account WHERE account_number = ? AND city = ?",
                                  (number, city.code)).fetchone()
    if row is None:
        raise ApiError(404, "account_not_found", f"未查到户号 {number}，请核对户号")
    return row


routes = web.RouteTableDef()


@routes.get("/companies")
async def list_companies(request: web.Request) -> web.Response:
    city = city_of(request)
    labels = gazetteer.load().utility_types
    return reply({"city": city.name, "companies": [
        {"utility_type": t, "label": labels[t][0], "company": c} for t, c in city.gaz.utility_companies.items()]})


@routes.post("/accounts/lookup")
async def get_account(request: web.Request) -> web.Response:
    """An account's bills; the account number travels in the body, never in the URL."""
    city = city_of(request)
    body = await json_body(request)
    account = _account(request, city, body)
    wanted = body.get("utility_type")
    if wanted and wanted != account["utility_type"]:
        label = gazetteer.load().utility_types[account["utility_type"]][0]
        raise ApiError(404, "account_type_mismatch", f"户号 {account['account_number']} 是{label}户号，不是所查类型")
    try:
        count = int(body.get("months") or 6)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_months", "months 应为 1-12 的整数") from None
    if not 1 <= count <= BILL_MONTHS:
        raise ApiError(400, "invalid_months", "months 应为 1-12 的整数")
    all_bills = bills(request.app[DB], account, now(request).date())
    unpaid = [b for b in all_bills if not b["paid"]]
    return reply({
        "account_number": account["account_number"],
        "utility_type": account["utility_type"],
        "company": city.gaz.utility_companies[account["utility_type"]],
        "holder": account["holder"],
        "address": account["address"],
        "arrears": yuan(sum(b["amount_fen"] for b in unpaid)),
        "unpaid_months": [b["month"] for b in unpaid],
        "bills": [_bill_json(b) for b in all_bills[:count]],
    })


@routes.post("/payments")
async def pay_bills(request: web.Request) -> web.Response:
    """Pays the account's listed months, or all arrears; `amount`, the sum confirmed, must match."""
    city = city_of(request)
    body = await json_body(request) if request.can_read_body else {}
    account = _account(request, city, body)
    moment: datetime = now(request)

    def charge(conn: sqlite3.Connection) -> Tuple[int, Dict[str, Any]]:
        expected = confirmed_fen(body)
        unpaid = {b["month"]: b for b in bills(conn, account, moment.date()) if not b["paid"]}
        if not unpaid:
            raise ApiError(409, "no_arrears", "该户号暂无欠费，无需缴费")
        months = body.get("months") or sorted(unpaid)
        if not isinstance(months, list) or any(m not in unpaid for m in months):
            raise ApiError(409, "month_not_payable", f"只能缴纳未缴月份：{'、'.join(sorted(unpaid))}")
        total = sum(unpaid[m]["amount_fen"] for m in months)
        if expected != total:
            raise ApiError(409, "amount_mismatch", f"缴费金额与账单不符，应缴 {yuan(total)} 元")
        number = conn.execute("SELECT COUNT(*) FROM utility_payment").fetchone()[0] + 1
        payment_id = f"{city.abbr}SF{moment:%Y%m%d}{number:06d}"
        conn.execute("INSERT INTO utility_payment VALUES (?, ?, ?, ?)",
                     (payment_id, account["account_number"], total, moment.isoformat()))
        conn.executemany("INSERT INTO utility_bill_paid VALUES (?, ?, ?)",
                         [(account["account_number"], m, payment_id) for m in months])
        left = sum(b["amount_fen"] for m, b in unpaid.items() if m not in months)
        return 201, {"payment_id": payment_id, "account_number": account["account_number"],
                     "months": sorted(months), "amount": yuan(total), "paid_at": moment.isoformat(),
                     "arrears_after": yuan(left), "status": "paid"}

    return idempotent(request, body, charge)
