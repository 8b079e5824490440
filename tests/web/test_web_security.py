"""The pages' security: session and CSRF cookies with the right flags, forms refused without their
CSRF token, a Content-Security-Policy that allows no inline script on every page, output escaped
(a script in a project name stays text), no open redirect after sign-in, sign-out ends the session."""

from __future__ import annotations

import re
import secrets
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from methodologies.plugin import AssetKind
from registry.models import PartyKind, PartyStatus, Role
from registry.parties import create_party, get_party, issue_api_key, set_party_status
from registry.projects import ProjectDetails
from tests.web.conftest import Site, sign_in
from verification.assets import AssetSpec
from verification.projects import register_project

PUBLIC_PAGES = ["/", "/projects", "/issuances", "/retirements", "/verifiers", "/log", "/verify", "/sign-in",
                "/apply", "/docs", "/redoc"]
ENGLISH = {"Accept-Language": "en"}
ROLE_PAGES = {"pv_aggregator": ["/workspace", "/workspace/projects"], "sgs": ["/verifier"],
              "registrar": ["/registrar"], "factory": ["/workspace"]}


def new_member(site: Site, roles: list[Role], name: str | None = None) -> tuple[str, str]:
    """A fresh active party with an API key: (party id, key)."""
    with site.db.write() as s:
        registrar = get_party(s, site.demo.parties["registrar"])
        party = create_party(s, registrar, name or f"Test member {secrets.token_hex(3)}", PartyKind.ORGANISATION,
                             roles, "CN-JS")
        _, key = issue_api_key(s, registrar, party, label="web test")
        return party.public_id, key


def csrf_pair(client: httpx.Client) -> str:
    """Visit a page to get the CSRF cookie; its value is the token forms carry."""
    client.get("/sign-in")
    return client.cookies["cir_csrf"]


def set_cookie_headers(response: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


def test_session_and_csrf_cookies_have_their_flags(site: Site) -> None:
    with httpx.Client(base_url=site.url, headers=ENGLISH) as client:
        first = client.get("/sign-in")
        csrf_cookie = set_cookie_headers(first)["cir_csrf"]
        assert "HttpOnly" in csrf_cookie and "SameSite=strict" in csrf_cookie and "Secure" not in csrf_cookie
        signed_in = client.post("/sign-in", data={"csrf_token": client.cookies["cir_csrf"],
                                                  "api_key": site.key("factory")})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/workspace"
        session_cookie = set_cookie_headers(signed_in)["cir_session"]
        assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie and "Path=/" in session_cookie
        assert "Secure" not in session_cookie  # plain http on loopback: a Secure cookie would never come back
        assert site.key("factory") not in signed_in.text + str(signed_in.headers)

    # Behind a TLS-terminating proxy on this host (uvicorn trusts X-Forwarded-Proto from 127.0.0.1).
    https = {"X-Forwarded-Proto": "https", **ENGLISH}
    with httpx.Client(base_url=site.url, headers=https) as client:
        csrf_cookie = set_cookie_headers(client.get("/sign-in"))["cir_csrf"]
        assert "Secure" in csrf_cookie
        token = csrf_cookie.split(";")[0].split("=", 1)[1]
        # The client keeps Secure cookies for https only; a browser behind the proxy sends it back.
        signed_in = client.post("/sign-in", data={"csrf_token": token, "api_key": site.key("factory")},
                                headers={"Cookie": f"cir_csrf={token}"})
        assert "Secure" in set_cookie_headers(signed_in)["cir_session"]


def test_forms_without_a_matching_csrf_token_are_refused(site: Site) -> None:
    with httpx.Client(base_url=site.url, headers=ENGLISH) as client:
        token = csrf_pair(client)
        for data in ({"api_key": site.key("factory")}, {"api_key": site.key("factory"), "csrf_token": "forged"}):
            refused = client.post("/sign-in", data=data)
            assert refused.status_code == 403 and "The form has expired" in refused.text
            assert "cir_session" not in refused.headers.get("set-cookie", "")
        # A page of another site can post the form but cannot send the cookie's value with it.
        client.cookies.delete("cir_csrf")
        assert client.post("/sign-in", data={"api_key": site.key("factory"), "csrf_token": token}).status_code == 403

        token = csrf_pair(client)
        assert client.post("/sign-in", data={"api_key": site.key("factory"), "csrf_token": token}).status_code == 303
        assert client.post("/sign-out", data={}).status_code == 403
        assert client.get("/workspace").status_code == 200  # still signed in: the forged sign-out did nothing


class _ScriptAudit(HTMLParser):
    """Collects what a Content-Security-Policy without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.inline.append(f"<{tag} {name}=javascript:>")
        if tag == "script":
            self._in_script = "src" not in names

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"<script>{data.strip()[:40]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def _pages_for(site: Site, who: str | None) -> list[str]:
    return PUBLIC_PAGES if who is None else ROLE_PAGES[who]


def test_every_page_has_the_policy_and_no_inline_script(site: Site) -> None:
    for who in (None, *ROLE_PAGES):
        with httpx.Client(base_url=site.url, headers=ENGLISH) as client:
            if who is not None:
                client.post("/sign-in", data={"csrf_token": csrf_pair(client), "api_key": site.key(who)})
            for path in _pages_for(site, who):
                response = client.get(path)
                assert response.status_code == 200, path
                policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"]
                              .split(";"))
                assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
                assert response.headers["x-content-type-options"] == "nosniff"
                audit = _ScriptAudit()
                audit.feed(response.text)
                assert audit.inline == [], f"{path}: {audit.inline}"


def test_a_script_in_a_project_name_stays_text(page: Page, site: Site) -> None:
    marker = secrets.token_hex(3)
    name = f'<script>window.pwned="{marker}"</script><img src=x onerror="window.pwned=1">Roof {marker}'
    with site.db.write() as s:
        owner = get_party(s, site.demo.parties["pv_aggregator"])
        project = register_project(s, owner, ProjectDetails(
            name, "CIR-PV-DG", "1.0", "CN-JS", f'Suzhou <b onmouseover="alert(1)">{marker}</b>', 31.3, 120.7, 30.0,
            "kWp", date(2026, 1, 1), date(2035, 12, 31)), [AssetSpec(AssetKind.METER, f"XSS-{marker}")])
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    for path in (f"/projects?q={marker}", f"/projects/{project.public_id}", "/",
                 f"/parties/{site.demo.parties['pv_aggregator']}"):
        page.goto(site.url + path)
        expect(page.get_by_text(name).first).to_be_visible()
        assert page.evaluate("window.pwned") is None
        assert page.locator("img[src=x]").count() == 0
    assert violations == []


def test_sign_in_never_redirects_to_another_site(page: Page, site: Site) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        page.goto(f"{site.url}/sign-in?next={target}")
        page.get_by_label("API key").fill(site.key("factory"))
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{site.url}/workspace")
        page.context.clear_cookies()


def test_session_cookie_is_invisible_to_scripts_and_sign_out_ends_it(page: Page, site: Site) -> None:
    sign_in(page, site, "factory")
    assert "cir_session" not in page.evaluate("document.cookie")
    session = next(c for c in page.context.cookies() if c["name"] == "cir_session")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    # The old token is gone on the server too: replaying it signs nobody in.
    with httpx.Client(base_url=site.url, headers=ENGLISH, cookies={"cir_session": session["value"]}) as client:
        assert client.get("/workspace", follow_redirects=False).status_code == 303


def test_sign_in_refusals_say_why(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#api_key-error")).to_contain_text("Enter your API key")
    page.get_by_label("API key").fill("cir_" + "x" * 40)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#api_key-error")).to_contain_text("unknown or has been revoked")
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")

    party, key = new_member(site, [Role.BUYER])
    with site.db.write() as s:  # the registrar suspends the party
        set_party_status(s, get_party(s, site.demo.parties["registrar"]), get_party(s, party),
                         PartyStatus.SUSPENDED, "unpaid fees")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#api_key-error")).to_contain_text("suspended")


def test_sign_in_with_a_key_file(page: Page, site: Site, tmp_path: Path) -> None:
    folder = tmp_path
    (folder / "key.txt").write_text(f"# the factory's key\n{site.key('factory')}\n")
    (folder / "none.txt").write_text("no key in here\n")
    page.goto(f"{site.url}/sign-in")
    page.get_by_label("Or choose a file that holds the key").set_input_files(str(folder / "none.txt"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#key_file-error")).to_contain_text("does not hold exactly one API key")
    page.get_by_label("Or choose a file that holds the key").set_input_files(str(folder / "key.txt"))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/workspace$"))
    expect(page.locator(".who")).to_have_text("Guangzhou Baiyun Ready-Mix Concrete Co.")
