"""The test vector in docs/ledger.md, recomputed with the registry's own code.

Every value is read from the page's labelled blocks (```` ```json vector:entry-0 ````, …) and
compared with what the code computes from the fixed key and entries, so that the page and the
code cannot drift apart unnoticed.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.ledger import merkle
from registry.ledger.entries import MOVEMENT_RULES, EntryType, canonical_json
from registry.ledger.signing import LogSigner
from registry.ledger.verify import (
    leaf_hash,
    main,
    node_hash,
    parse_verifier_key,
    verify_bundle,
    verify_checkpoint,
)
from registry.serials import parse_serial, serial_number

LEDGER_DOC = Path(__file__).resolve().parent.parent / "docs" / "ledger.md"
BLOCK = re.compile(r"^```[a-z]* (vector:[a-z0-9-]+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
RETIREMENT_LEAF = 3


def vector_blocks() -> dict[str, str]:
    """Each labelled block's text, up to and including the newline before its closing fence."""
    blocks: dict[str, str] = {}
    for label, text in BLOCK.findall(LEDGER_DOC.read_text(encoding="utf-8")):
        assert label not in blocks, f"{label} appears twice in {LEDGER_DOC.name}"
        blocks[label] = text
    return blocks


def assignments(text: str) -> dict[str, str]:
    """`name = value` lines; the value may itself hold '=' (base64 padding)."""
    pairs = (line.partition(" = ") for line in text.splitlines())
    return {name.strip(): value.strip() for name, _, value in pairs}


@pytest.fixture(scope="module")
def blocks() -> dict[str, str]:
    return vector_blocks()


@pytest.fixture(scope="module")
def key(blocks: dict[str, str]) -> dict[str, str]:
    return assignments(blocks["vector:key"])


@pytest.fixture(scope="module")
def signer(key: dict[str, str]) -> LogSigner:
    return LogSigner(key["name"], Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key["private_key"])))


@pytest.fixture(scope="module")
def entries(blocks: dict[str, str]) -> list[bytes]:
    labels = sorted((label for label in blocks if label.startswith("vector:entry-")), key=lambda s: int(s[13:]))
    assert labels == [f"vector:entry-{i}" for i in range(len(labels))] and 3 <= len(labels) <= 5
    texts = [blocks[label] for label in labels]
    assert all(text.endswith("}\n") and text.count("\n") == 1 for text in texts), "one line per entry"
    return [text[:-1].encode() for text in texts]


@pytest.fixture(scope="module")
def tree(entries: list[bytes]) -> dict[merkle.Node, bytes]:
    return merkle.new_perfect_nodes(0, [leaf_hash(entry) for entry in entries], {})


def test_the_key_is_the_stated_bytes_and_gives_the_stated_verifier_key(key: dict[str, str],
                                                                       signer: LogSigner) -> None:
    assert bytes.fromhex(key["private_key"]) == bytes(range(1, 33))
    assert key["name"] == "registry.example/log"
    assert signer.public_key_raw.hex() == key["public_key"]
    assert signer.key_id.hex() == key["key_id"]
    assert signer.verifier_key == key["verifier_key"]
    assert parse_verifier_key(key["verifier_key"]).key_id.hex() == key["key_id"]


def test_each_entry_is_canonical_json_in_the_documented_format(entries: list[bytes]) -> None:
    parsed = [json.loads(entry) for entry in entries]
    for entry, document in zip(entries, parsed, strict=True):
        assert canonical_json(document) == entry
        kind = EntryType(document["type"])
        assert document["v"] == 1
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", document["time"])
        prefix = "iss" if kind == EntryType.ISSUE else MOVEMENT_RULES[kind].id_prefix
        assert document["id"].startswith(prefix + "_")
        units = document["units"]
        assert sum(u["last_unit"] - u["first_unit"] + 1 for u in units) == document["quantity_kg"]
        for unit in units:
            serial = parse_serial(unit["serial"])
            assert (serial.first_unit, serial.last_unit) == (unit["first_unit"], unit["last_unit"])
            assert serial_number(serial.prefix, serial.first_unit, serial.last_unit) == unit["serial"]
    assert {"issue", "transfer", "retire"} <= {d["type"] for d in parsed}
    assert parsed[RETIREMENT_LEAF]["type"] == "retire"


def test_leaf_hashes_and_root_match_the_code(blocks: dict[str, str], entries: list[bytes],
                                              tree: dict[merkle.Node, bytes]) -> None:
    hashes = assignments(blocks["vector:hashes"])
    leaves = [leaf_hash(entry) for entry in entries]
    assert [hashes[f"leaf {i}"] for i in range(len(entries))] == [leaf.hex() for leaf in leaves]
    root = merkle.fold(merkle.root_plan(len(entries)), tree)
    assert hashes["root"] == root.hex()
    assert hashes["root (base64)"] == base64.b64encode(root).decode()
    assert len(leaves) == 5, "the page spells out the shape of a five-leaf tree"
    assert root == node_hash(node_hash(node_hash(leaves[0], leaves[1]), node_hash(leaves[2], leaves[3])), leaves[4])


def test_the_checkpoint_is_the_signed_note_of_the_whole_tree(blocks: dict[str, str], key: dict[str, str],
                                                            signer: LogSigner, entries: list[bytes],
                                                            tree: dict[merkle.Node, bytes]) -> None:
    root = merkle.fold(merkle.root_plan(len(entries)), tree)
    note = blocks["vector:checkpoint"]
    assert note == signer.sign_checkpoint(len(entries), root, 0, merkle.EMPTY_ROOT)  # the log's first checkpoint
    checkpoint = verify_checkpoint(note, parse_verifier_key(key["verifier_key"]))
    assert (checkpoint.origin, checkpoint.tree_size, checkpoint.root_hash) == (key["name"], len(entries), root)
    assert checkpoint.previous == (0, merkle.EMPTY_ROOT)


def expected_bundle(blocks: dict[str, str], entries: list[bytes], tree: dict[merkle.Node, bytes]) -> dict[str, Any]:
    size = len(entries)
    path = [merkle.fold(plan, tree) for plan in merkle.inclusion_plan(RETIREMENT_LEAF, size)]
    return {
        "entry": entries[RETIREMENT_LEAF].decode(),
        "leaf_index": RETIREMENT_LEAF,
        "inclusion": {"leaf_index": RETIREMENT_LEAF, "tree_size": size,
                      "hashes": [base64.b64encode(h).decode() for h in path]},
        "checkpoint": blocks["vector:checkpoint"],
    }


def test_the_retirement_bundle_is_the_one_the_code_builds_and_verifies(
    blocks: dict[str, str], key: dict[str, str], entries: list[bytes], tree: dict[merkle.Node, bytes]
) -> None:
    bundle = json.loads(blocks["vector:bundle"])
    assert bundle == expected_bundle(blocks, entries, tree)
    entry = verify_bundle(bundle, parse_verifier_key(key["verifier_key"]))
    assert entry["type"] == "retire" and entry["to"] == "acct_retirement"


def test_the_one_file_verifier_accepts_the_bundle_and_refuses_one_changed_byte(
    blocks: dict[str, str], key: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = json.loads(blocks["vector:bundle"])
    path = tmp_path / "bundle.json"
    path.write_text(blocks["vector:bundle"], encoding="utf-8")
    assert main([str(path), key["verifier_key"]]) == 0
    assert "VERIFIED" in capsys.readouterr().out

    entry = bundle["entry"].encode()
    position = entry.index(b",", entry.index(b'"quantity_kg":')) - 1  # the quantity's last digit
    changed = entry[:position] + bytes([entry[position] ^ 1]) + entry[position + 1:]  # 1823890 kg → 1823891 kg
    assert sum(a != b for a, b in zip(entry, changed, strict=True)) == 1
    path.write_text(json.dumps({**bundle, "entry": changed.decode()}, ensure_ascii=False), encoding="utf-8")
    assert main([str(path), key["verifier_key"]]) == 1
    assert "NOT VERIFIED" in capsys.readouterr().err
