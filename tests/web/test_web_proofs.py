"""Proofs checked in the visitor's own browser, with WebCrypto and nothing else: a retirement's
proof bundle on its page, any bundle file on the offline page (nothing uploaded), and an issuance's
signed verification statement. Tampered data and a wrong key are refused, naming the failing step."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Browser, Page, Request, Route, expect

from registry.ledger.signing import LogSigner
from tests.test_ledger_vector import vector_blocks
from tests.web.conftest import Site, axe_violations
from verification.statements import public_key_pem

Bundle = dict[str, Any]
VECTOR_KEY = "registry.example/log+2785cffd+AXm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk"


def proof_of(site: Site) -> Bundle:
    bundle: Bundle = httpx.get(f"{site.url}/api/v1/retirements/{site.demo.retirement}/proof").json()
    return bundle


def log_key(site: Site) -> str:
    return httpx.get(f"{site.url}/api/v1/log/key").text.strip()


def flip_last_byte(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def tamper_entry(bundle: Bundle) -> None:
    bundle["entry"] = bundle["entry"].replace('"quantity_kg":1823890', '"quantity_kg":1823891')


def tamper_signature(bundle: Bundle) -> None:
    text, _, signature_line = bundle["checkpoint"].rstrip("\n").rpartition("\n")
    prefix, _, signature = signature_line.rpartition(" ")
    bundle["checkpoint"] = f"{text}\n{prefix} {flip_last_byte(signature)}\n"


def tamper_proof_hash(bundle: Bundle) -> None:
    bundle["inclusion"]["hashes"][0] = flip_last_byte(bundle["inclusion"]["hashes"][0])


def tamper_root(bundle: Bundle) -> None:
    lines = bundle["checkpoint"].split("\n")
    lines[2] = flip_last_byte(lines[2])
    bundle["checkpoint"] = "\n".join(lines)


def steps(page: Page, container: str) -> list[str]:
    return [text.strip() for text in page.locator(f"{container} .check-steps li").all_inner_texts()]


def test_the_demo_retirement_verifies_step_by_step(page: Page, site: Site) -> None:
    bundle, key = proof_of(site), log_key(site)
    name, key_id = key.split("+")[:2]
    page.goto(f"{site.url}/retirements/{site.demo.retirement}")
    page.get_by_role("button", name="Verify in this browser").click()
    result = page.locator("#proof-check .check-result")
    expect(result).to_have_text(f"Verified: retirement {site.demo.retirement} is leaf {bundle['leaf_index']} "
                                f"of the log signed by {name}.")
    expect(result).to_have_class(re.compile(r"\bok\b"))
    expect(page.locator("#proof-check .check-steps li.ok")).to_have_count(7)
    expect(page.locator("#proof-check .check-steps li.failed")).to_have_count(0)
    shown = steps(page, "#proof-check")
    size = bundle["inclusion"]["tree_size"]
    assert f"✓ Checkpoint signed by {name} (key {key_id})" in shown
    assert (f"✓ Entry is leaf {bundle['leaf_index']} of {size}; its inclusion proof of "
            f"{len(bundle['inclusion']['hashes'])} hashes leads to the signed root") in shown
    assert shown[-1] == f"✓ The entry is retirement {site.demo.retirement} of 1,823,890 kg, as this page shows"


@pytest.mark.parametrize(("tamper", "failing_step"), [
    (tamper_entry, "Inclusion proof: the inclusion proof does not lead to the checkpoint's root hash"),
    (tamper_signature, "Checkpoint signature: the checkpoint's signature does not verify with the key"),
    (tamper_proof_hash, "Inclusion proof: the inclusion proof does not lead to the checkpoint's root hash"),
    (tamper_root, "Checkpoint signature: the checkpoint's signature does not verify with the key"),
], ids=["entry", "signature", "proof-hash", "root"])
def test_a_tampered_bundle_is_not_verified(page: Page, site: Site, tamper: Callable[[Bundle], None],
                                           failing_step: str) -> None:
    bundle = proof_of(site)
    tamper(bundle)
    page.route("**/proof", lambda route: route.fulfill(json=bundle))
    page.goto(f"{site.url}/retirements/{site.demo.retirement}")
    page.get_by_role("button", name="Verify in this browser").click()
    result = page.locator("#proof-check .check-result")
    expect(result).to_have_text(f"Not verified: {failing_step}")
    expect(result).to_have_class(re.compile(r"\bfailed\b"))
    expect(page.locator("#proof-check .check-steps li.failed")).to_have_text(f"✗ {failing_step}")


def test_another_key_fails_at_the_signature(page: Page, site: Site) -> None:
    name = log_key(site).split("+")[0]
    impostor = LogSigner(name, Ed25519PrivateKey.generate()).verifier_key  # same name, another key
    page.route("**/api/v1/log/key", lambda route: route.fulfill(body=impostor, content_type="text/plain"))
    page.goto(f"{site.url}/retirements/{site.demo.retirement}")
    page.get_by_role("button", name="Verify in this browser").click()
    expect(page.locator("#proof-check .check-result")).to_have_text(
        f"Not verified: Checkpoint signature: the checkpoint carries no signature by key {name}")
    # The key itself was well formed: its step passed before the signature's failed.
    expect(page.locator("#proof-check .check-steps li.ok").first).to_contain_text(
        f"Log key {name} (key {impostor.split('+')[1]})")


def issuance_entry(site: Site) -> dict[str, Any]:
    """A sequenced `issue` entry of the demo's log (`GET /api/v1/ledger-entries/{id}`)."""
    entries = (httpx.get(f"{site.url}/api/v1/ledger-entries/{i}").json() for i in range(1, 40))
    return next(e for e in entries if e.get("type") == "issue" and e.get("leaf_index") is not None)


def test_a_valid_bundle_of_another_entry_is_not_this_retirement(page: Page, site: Site) -> None:
    issue = issuance_entry(site)
    other = httpx.get(f"{site.url}/api/v1/ledger-entries/{issue['id']}/proof").json()
    issued = json.loads(issue["entry"])
    page.route("**/proof", lambda route: route.fulfill(json=other))
    page.goto(f"{site.url}/retirements/{site.demo.retirement}")
    page.get_by_role("button", name="Verify in this browser").click()
    expect(page.locator("#proof-check .check-result")).to_have_text(
        f"Not verified: The entry: the entry is issuance {issued['id']} of {issued['quantity_kg']:,} kg, "
        f"not retirement {site.demo.retirement} of 1,823,890 kg")
    expect(page.locator("#proof-check .check-steps li.ok")).to_have_count(6)  # a sound proof, of something else


# --- the offline page -------------------------------------------------------------------------------


def choose_bundle(page: Page, path: Path) -> None:
    page.get_by_label("Proof bundle (a JSON file)").set_input_files(path)


def test_the_offline_page_checks_a_downloaded_bundle_and_sends_nothing(page: Page, site: Site,
                                                                       tmp_path: Path) -> None:
    bundle_path = tmp_path / "proof.json"
    bundle_path.write_bytes(httpx.get(f"{site.url}/api/v1/retirements/{site.demo.retirement}/proof").content)
    entry = json.loads(bundle_path.read_text())["entry"]
    page.goto(f"{site.url}/verify")
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    choose_bundle(page, bundle_path)
    page.get_by_label("The log's public key").fill(log_key(site))
    page.get_by_role("button", name="Verify").click()
    checks = page.get_by_role("region", name="The checks")
    expect(checks.locator(".check-result")).to_have_text(re.compile(
        rf"^Verified: retirement {site.demo.retirement} is leaf \d+ of the log signed by registry\.test/log\.$"))
    expect(checks.locator("li.ok")).to_have_count(7)
    expect(checks.locator("li").last).to_have_text(
        f"✓ The entry: retirement {site.demo.retirement}, 1,823,890 kg CO2e")
    checks.get_by_text("The entry as signed").click()
    expect(checks.locator("pre")).to_contain_text('"beneficiary"')
    # Nothing went to the server but the page's own static files (the icon): no request carries the bundle.
    assert [r.url for r in requests if r.method != "GET" or "/static/" not in r.url] == []
    assert not any(entry[:40] in (r.post_data or "") + r.url for r in requests)


def test_the_offline_page_takes_a_key_file_and_any_entry(page: Page, site: Site, tmp_path: Path) -> None:
    """An issuance's entry, by its ledger entry id (`cir proof entry`), with the key from a file."""
    issue = issuance_entry(site)
    bundle_path = tmp_path / "issuance.json"
    bundle_path.write_bytes(httpx.get(f"{site.url}/api/v1/ledger-entries/{issue['id']}/proof").content)
    key_path = tmp_path / "registry-log-key.txt"
    key_path.write_text(log_key(site) + "\n")
    issued = json.loads(issue["entry"])
    page.goto(f"{site.url}/verify")
    choose_bundle(page, bundle_path)
    page.get_by_label("Or choose a file that holds the key").set_input_files(key_path)
    page.get_by_role("button", name="Verify").click()
    checks = page.get_by_role("region", name="The checks")
    expect(checks.locator(".check-result")).to_have_text(re.compile(rf"^Verified: issuance {issued['id']} is leaf"))
    expect(checks.locator("li").last).to_have_text(
        f"✓ The entry: issuance {issued['id']}, {issued['quantity_kg']:,} kg CO2e")


def test_the_offline_page_verifies_the_published_test_vector(page: Page, site: Site, tmp_path: Path) -> None:
    """docs/ledger.md's vector, checked by the browser's code as by the Python verifier."""
    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_text(vector_blocks()["vector:bundle"])
    page.goto(f"{site.url}/verify")
    choose_bundle(page, bundle_path)
    page.get_by_label("The log's public key").fill(VECTOR_KEY)
    page.get_by_role("button", name="Verify").click()
    checks = page.get_by_role("region", name="The checks")
    expect(checks.locator(".check-result")).to_have_text(
        "Verified: retirement ret_m6k3w2xq7vh4nd5a is leaf 3 of the log signed by registry.example/log.")
    leaf = re.search(r"leaf 3\s+= ([0-9a-f]{64})", vector_blocks()["vector:hashes"])
    assert leaf is not None
    expect(checks.locator("li").nth(4)).to_contain_text(leaf.group(1))


def test_the_offline_page_refuses_a_tampered_file_and_bad_input(page: Page, site: Site, tmp_path: Path) -> None:
    bundle = proof_of(site)
    tamper_entry(bundle)
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(bundle))
    not_json = tmp_path / "notes.json"
    not_json.write_text("this is not a bundle")
    page.goto(f"{site.url}/verify")

    page.get_by_role("button", name="Verify").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Choose the proof bundle file.")
    expect(summary).to_contain_text("Paste the log's public key, or choose a file that holds it.")
    expect(page.get_by_label("Proof bundle (a JSON file)")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("region", name="The checks")).to_be_hidden()

    choose_bundle(page, not_json)
    page.get_by_label("The log's public key").fill(log_key(site))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#bundle_file-error")).to_have_text(
        "That file is not JSON: choose a proof bundle as the registry serves it.")
    expect(page.get_by_role("region", name="The checks")).to_be_hidden()

    choose_bundle(page, tampered)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(page.get_by_role("region", name="The checks").locator(".check-result")).to_have_text(
        "Not verified: Inclusion proof: the inclusion proof does not lead to the checkpoint's root hash")

    page.get_by_label("The log's public key").fill("registry.test/log+00000000+AAAA")
    choose_bundle(page, tmp_path / "tampered.json")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("region", name="The checks").locator(".check-result")).to_have_text(
        "Not verified: The log's key: the key is not an Ed25519 signed-note key")


def test_the_offline_page_after_a_check_is_accessible(browser: Browser, browser_context_args: dict[str, Any],
                                                     site: Site, tmp_path: Path) -> None:
    bundle_path = tmp_path / "proof.json"
    bundle_path.write_text(json.dumps(proof_of(site)))
    context = browser.new_context(**{**browser_context_args, "bypass_csp": True})  # to inject axe
    page = context.new_page()
    page.goto(f"{site.url}/verify")
    choose_bundle(page, bundle_path)
    page.get_by_label("The log's public key").fill(log_key(site))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".check-result.ok")).to_be_visible()
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


# --- canonical JSON and signed statements ------------------------------------------------------------


def test_the_browsers_canonical_json_is_rfc_8785(page: Page, site: Site) -> None:
    value = {"b": [1, -7, "é\u2028\"\\\n\t\x01", {"z": None, "a": True, "": False}], "a": 0, "\u20ac": 1,
             "\U0001F600": 2, "\ufb33": 3, "10": 10, "1": 2**53 - 1, "nested": {"list": [], "object": {}},
             "quantity_kg": 1823890, "name": "苏州精密零件厂"}
    page.goto(f"{site.url}/verify")
    in_browser = page.evaluate("value => ProofLib.canonicalJSON(value)", value)
    assert in_browser == rfc8785.dumps(value).decode()


def issuance_with_statement(site: Site) -> str:
    items = httpx.get(f"{site.url}/api/v1/issuances", params={"limit": 50}).json()["items"]
    return next(i["id"] for i in items if i["verification_statement_sha256"])


def test_the_statement_of_an_issuance_verifies(page: Page, site: Site) -> None:
    issuance = issuance_with_statement(site)
    signed = httpx.get(f"{site.url}/api/v1/issuances/{issuance}/statement").json()
    page.goto(f"{site.url}/issuances/{issuance}")
    page.get_by_role("button", name="Check the verifier's signature in this browser").click()
    check = page.locator("#statement-check")
    expect(check.locator(".check-result")).to_have_text(
        f"Verified: the statement was signed by {signed['verifier']['party_name']} "
        f"(key {signed['statement']['verifier']['key_id']}).")
    expect(check.locator("li.ok")).to_have_count(4)
    expect(check.locator("li").first).to_contain_text(signed["sha256"])


def _tamper_statement(route: Route, change: Callable[[dict[str, Any]], None]) -> None:
    signed = route.fetch().json()
    change(signed)
    route.fulfill(json=signed)


@pytest.mark.parametrize(("change", "failing_step"), [
    (lambda s: s["statement"].update(opinion=s["statement"]["opinion"] + "!"),
     "Not verified: The statement's hash: the statement hashes to "),
    (lambda s: s.update(signature=flip_last_byte(s["signature"])),
     "Not verified: The verifier's signature: the signature does not verify with the verifier's key"),
    (lambda s: s["verifier"].update(public_key_pem=public_key_pem(Ed25519PrivateKey.generate())),
     "Not verified: The verifier's key: the accreditation's key has id "),
], ids=["opinion", "signature", "key"])
def test_a_tampered_statement_is_not_verified(page: Page, site: Site, change: Callable[[dict[str, Any]], None],
                                              failing_step: str) -> None:
    issuance = issuance_with_statement(site)
    page.route("**/statement", lambda route: _tamper_statement(route, change))
    page.goto(f"{site.url}/issuances/{issuance}")
    page.get_by_role("button", name="Check the verifier's signature in this browser").click()
    result = page.locator("#statement-check .check-result")
    expect(result).to_contain_text(failing_step)
    expect(result).to_have_class(re.compile(r"\bfailed\b"))
