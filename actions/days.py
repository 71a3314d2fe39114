"""How replies name a day: one copy for every service (traffic, weather, hospital)."""
from __future__ import annotations

from datetime import date
from typing import Optional

from common import dates

RELATIVE_DAYS = {0: "今天", 1: "明天", 2: "后天"}
WEEKDAY_NAMES = "一二三四五六日"


def relative_day(day: date) -> Optional[str]:
    return RELATIVE_DAYS.get((day - dates.now_in_china().date()).days)


def day_label(day: date, *, relative: bool = True, weekday: bool = False) -> str:
    """今天 / 明天 / 后天 (when `relative`), otherwise 6月18日, with （周四） when `weekday`."""
    if relative:
        near = relative_day(day)
        if near:
            return near
    month_day = f"{day.month}月{day.day}日"
    return f"{month_day}（周{WEEKDAY_NAMES[day.weekday()]}）" if weekday else month_day


def day_title(day: date, weekday: str) -> str:
    """今天（6月15日 周一）, or 6月18日（周四）: the date is always said."""
    near, month_day = relative_day(day), f"{day.month}月{day.day}日"
    return f"{near}（{month_day} {weekday}）" if near else f"{month_day}（{weekday}）"
