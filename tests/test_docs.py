"""The spec pages in docs/ stay true to the code.

- every problem type the API can send is catalogued, with the status the API really gives it;
- every `tests/…::test_name` a page cites names a test that exists;
- the Events tables list exactly the ledger entry types and workflow actions the code records.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

import api.idempotency  # noqa: F401  (defines IdempotencyKeyReused, a RegistryError sent by the API)
import netzero.errors  # noqa: F401  (its classes join RegistryError's subclasses)
import trading.errors  # noqa: F401  (its classes join RegistryError's subclasses)
import verification.errors  # noqa: F401  (its classes join RegistryError's subclasses)
from api.problems import PROBLEM_TYPE_URI, InternalError, Unauthorized, install_problem_handlers
from registry.errors import RegistryError
from registry.ledger.entries import MOVEMENT_RULES, EntryType

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REGISTRY_DOC = DOCS / "registry.md"
VERIFICATION_DOC = DOCS / "verification.md"
NETZERO_DOC = DOCS / "netzero.md"
TRADING_DOC = DOCS / "trading.md"
DOC_OF_MODULE = {"verification.errors": VERIFICATION_DOC, "netzero.errors": NETZERO_DOC,
                 "trading.errors": TRADING_DOC}
TEST_REFERENCE = re.compile(r"\b(tests/[\w/]+\.py)::(\w+)")


def all_subclasses(cls: type[RegistryError]) -> list[type[RegistryError]]:
    found: list[type[RegistryError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *all_subclasses(sub)]
    return found


ERRORS = {error.code: error for error in all_subclasses(RegistryError)}


def section(doc: Path, heading: str) -> str:
    """The text under `## heading`, up to the next second-level heading."""
    text = doc.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"{doc.name} has no '## {heading}' section"
    return match.group(1)


def is_separator(line: str) -> bool:
    return line.startswith("|") and set(line.strip()) <= set("|-: ")


def table_rows(text: str) -> list[list[str]]:
    """The body rows of every Markdown table in `text` (not the headers), as lists of cells."""
    lines = text.splitlines()
    rows = []
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        if line.startswith("|") and not is_separator(line) and not is_separator(following):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def documented_problems(doc: Path) -> dict[str, int]:
    """`type` → status, from the rows of the page's Errors tables."""
    problems: dict[str, int] = {}
    for row in table_rows(section(doc, "Errors")):
        match = re.fullmatch(r"`urn:cir:problem:([a-z0-9-]+)`", row[0])
        assert match, f"{doc.name}: an Errors row does not start with a problem type: {row[0]}"
        assert match.group(1) not in problems, f"{doc.name} lists {match.group(1)} twice"
        problems[match.group(1)] = int(row[1])
    return problems


def problems_app() -> FastAPI:
    """The API's problem handlers alone, on routes that raise each kind of error: no database."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/registry-error/{code}")
    def registry_error(code: str) -> None:
        raise ERRORS[code]("as the API would send it")

    @app.get("/unauthorized")
    def unauthorized() -> None:
        raise Unauthorized("send `Authorization: Bearer <api key>`")

    @app.get("/constraint")
    def constraint() -> None:
        raise IntegrityError("INSERT …", {}, Exception("UNIQUE constraint failed"))

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("an unexpected failure")

    @app.get("/typed")
    def typed(quantity_kg: int) -> int:
        return quantity_kg

    return app


def sent_problems() -> dict[str, tuple[int, Path]]:
    """Every problem type the API sends, the status it sends it with, and the page that owns it."""
    requests: list[tuple[str, str, Path]] = [
        ("GET", f"/registry-error/{code}", DOC_OF_MODULE.get(error.__module__, REGISTRY_DOC))
        for code, error in ERRORS.items()
    ]
    requests += [("GET", path, REGISTRY_DOC) for path in
                 ("/unauthorized", "/constraint", "/crash", "/typed?quantity_kg=lots", "/nowhere")]
    requests.append(("POST", "/typed", REGISTRY_DOC))
    sent: dict[str, tuple[int, Path]] = {}
    with TestClient(problems_app(), raise_server_exceptions=False) as client:
        for method, path, doc in requests:
            response = client.request(method, path)
            assert response.headers["content-type"] == "application/problem+json", (path, response.text)
            problem_type = response.json()["type"]
            prefix = PROBLEM_TYPE_URI.format(type="")
            assert problem_type.startswith(prefix), problem_type
            sent[problem_type.removeprefix(prefix)] = (response.status_code, doc)
    return sent


def test_every_problem_type_is_catalogued_with_the_status_the_api_sends() -> None:
    assert len(ERRORS) == len(set(all_subclasses(RegistryError))), "two error classes share a code"
    sent = sent_problems()
    # The API-level types the catalogue must hold, whatever else the walk above finds.
    assert {Unauthorized.type_, InternalError.type_, "constraint-violation", "idempotency-key-reused",
            "request-validation-failed"} <= set(sent)
    documented = {doc: documented_problems(doc) for doc in (REGISTRY_DOC, VERIFICATION_DOC, NETZERO_DOC, TRADING_DOC)}
    for code, (status, doc) in sorted(sent.items()):
        assert f"`urn:cir:problem:{code}`" in doc.read_text(encoding="utf-8"), f"{code} is not in {doc.name}"
        assert documented[doc].get(code) == status, \
            f"{doc.name} gives {code} status {documented[doc].get(code)}; the API sends {status}"
    stale = set().union(*documented.values()) - set(sent)
    assert not stale, f"catalogued but never sent: {sorted(stale)}"


def referenced_tests() -> list[tuple[Path, str, str]]:
    return [(doc, path, name) for doc in sorted(DOCS.rglob("*.md"))
            for path, name in TEST_REFERENCE.findall(doc.read_text(encoding="utf-8"))]


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")}


def test_every_test_the_docs_cite_exists() -> None:
    references = referenced_tests()
    cited_by = {doc for doc, _, _ in references}
    assert {REGISTRY_DOC, VERIFICATION_DOC, NETZERO_DOC} <= cited_by
    missing = []
    for doc, path, name in references:
        file = ROOT / path
        if not file.is_file() or name not in functions_in(file):
            missing.append(f"{doc.relative_to(ROOT)} cites {path}::{name}")
    assert not missing, "\n".join(missing)


def test_registry_events_list_the_entry_types_and_their_movement_rules() -> None:
    rows = {row[0]: row for row in table_rows(section(REGISTRY_DOC, "Events"))}
    assert set(rows) == {f"`{kind.value}`" for kind in EntryType}
    for kind, rule in MOVEMENT_RULES.items():
        _, command_id, takes, leaves, *_ = rows[f"`{kind.value}`"]
        assert command_id == f"`{rule.id_prefix}_`", kind
        assert takes == ", ".join(status.value for status in rule.from_statuses), kind
        assert leaves == rule.to_status.value, kind


# Where the action string sits in each recording call: record_event(session, subject, actor, action, …)
# and transition(session, report, allowed_from, to, actor, action, …).
ACTION_ARGUMENT = {"record_event": 3, "transition": 5, "_transition": 5}


def calls_outside_the_recorders(tree: ast.Module) -> list[ast.Call]:
    """Every call, except those inside `record_event` and `transition`, which pass `action` on."""
    calls: list[ast.Call] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef) and node.name in ACTION_ARGUMENT:
            continue
        if isinstance(node, ast.Call):
            calls.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return calls


def recorded_actions(package: str) -> set[str]:
    actions: set[str] = set()
    for path in sorted((ROOT / package).glob("*.py")):
        for node in calls_outside_the_recorders(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node.func, ast.Name | ast.Attribute):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            if name not in ACTION_ARGUMENT:
                continue
            position = ACTION_ARGUMENT[name]
            argument = next((k.value for k in node.keywords if k.arg == "action"),
                            node.args[position] if len(node.args) > position else None)
            assert isinstance(argument, ast.Constant) and isinstance(argument.value, str), \
                f"{path.name}:{node.lineno}: {name}() without a literal action"
            actions.add(argument.value)
    return actions


def test_verification_events_list_every_recorded_action() -> None:
    documented = {row[0].strip("`") for row in table_rows(section(VERIFICATION_DOC, "Events"))}
    assert documented == recorded_actions("verification")


def test_netzero_events_list_every_recorded_action() -> None:
    rows = table_rows(section(NETZERO_DOC, "Events"))
    assert {row[0].strip("`") for row in rows} == recorded_actions("netzero")
