"""Who may do what: anonymous requests refused on every route, CSRF, throttling, roles, sign-out."""
from __future__ import annotations

import urllib.error
import urllib.request
from typing import Optional, Tuple

import pytest
from playwright.sync_api import Page
from starlette.routing import Mount, Route

from console.app import create_app

from .conftest import PASSWORD, Console, create_account, sign_in

OPEN = {"/login", "/health"}  # the only routes that answer a stranger (plus the stylesheet)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def request(url: str, method: str = "GET", body: Optional[bytes] = None) -> Tuple[int, str, str]:
    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with opener.open(req, timeout=30) as response:
            return response.status, response.headers.get("location", ""), response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers.get("location", ""), refused.read().decode()


def all_routes() -> list:
    """Every (path, method) the application serves, read from the app itself."""
    found = []
    for route in create_app("sqlite://").routes:
        if isinstance(route, Route):
            found += [(route.path, m) for m in sorted(route.methods or ()) if m != "HEAD"]
        elif isinstance(route, Mount):
            found.append((route.path + "/console.css", "GET"))
    return found


@pytest.mark.parametrize("path,method", all_routes())
def test_every_route_refuses_an_anonymous_request(console: Console, path: str, method: str) -> None:
    status, location, body = request(f"{console.url}{path}?id=web:sz-appointment&format=csv", method,
                                     b"csrf=x&id=web:sz-appointment&tag=complaint" if method == "POST" else None)
    if path in OPEN or path.startswith("/static"):
        assert status in (200, 403)  # POST /login without the form's token: refused, no data
        assert "sz-appointment" not in body
        return
    if path.startswith("/api/"):
        assert status == 401
        assert "请先登录" in body
    else:
        assert status == 303 and location.endswith("/login")
    assert "sz-appointment" not in body


def test_a_post_without_the_sessions_csrf_token_is_refused(staff: Page, console: Console) -> None:
    staff.goto(f"{console.url}/conversation?id=web:gz-violation")
    staff.evaluate("document.querySelector('#add-tag input[name=csrf]').value = 'forged'")
    staff.click("#add-tag button")
    assert "CSRF" in staff.content()
    staff.goto(f"{console.url}/conversation?id=web:gz-violation")
    assert staff.locator("#tags .tag").count() == 0


def test_login_throttled_after_repeated_failures(page: Page, console: Console) -> None:
    for _ in range(5):
        sign_in(page, console, "locked1", "wrong-password-0")
        assert "用户名或密码不对" in page.content()
    sign_in(page, console, "locked1")  # the right password, too late
    assert "登录失败次数过多" in page.content()
    assert page.url.endswith("/login")


def test_unknown_user_and_wrong_password_get_the_same_answer(page: Page, console: Console) -> None:
    sign_in(page, console, "nobody-here")
    unknown = page.locator(".error").inner_text()
    sign_in(page, console, "trainer1", "not-the-password")
    assert page.locator(".error").inner_text() == unknown


def test_sign_out_ends_the_session(staff: Page, console: Console) -> None:
    staff.click("#logout")
    assert staff.url.endswith("/login")
    staff.goto(f"{console.url}/conversations")
    assert staff.url.endswith("/login")


def test_session_cookie_is_httponly_and_samesite(staff: Page) -> None:
    cookie, = [c for c in staff.context.cookies() if c["name"] == "citylink_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def test_staff_cannot_reach_admin_pages(staff: Page, console: Console) -> None:
    for path in ("/users", "/audit"):
        response = staff.goto(f"{console.url}{path}")
        assert response is not None and response.status == 403
        assert "没有权限" in staff.content()


def test_admin_creates_a_user_who_can_sign_in_until_disabled(admin: Page, console: Console, page: Page) -> None:
    admin.goto(f"{console.url}/users")
    admin.fill("#new-user input[name=name]", "newstaff")
    admin.select_option("#new-user select[name=role]", "staff")
    admin.fill("#new-user input[name=password]", PASSWORD)
    admin.click("#new-user button")
    assert "newstaff" in admin.locator("#users").inner_text()
    other = admin.context.browser.new_context().new_page()
    sign_in(other, console, "newstaff")
    assert other.url.endswith("/conversations")
    admin.locator("#users tr", has_text="newstaff").locator("button").click()
    assert "已停用" in admin.locator("#users tr", has_text="newstaff").inner_text()
    other.goto(f"{console.url}/conversations")  # the open session stops at once
    assert other.url.endswith("/login")
    other.context.close()


def test_first_admin_command_refuses_short_password_and_duplicates(console: Console) -> None:
    short = create_account(console.env, "shorty", "admin", "short")
    assert short.returncode == 1 and "密码至少" in short.stderr
    again = create_account(console.env, "admin1", "admin")
    assert again.returncode == 1 and "已存在" in again.stderr
