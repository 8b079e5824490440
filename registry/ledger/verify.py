"""Offline verification of the registry's log: everything an auditor needs, in one file.

Depends on the Python standard library and `cryptography` only, on purpose: an auditor should
be able to read this module in ten minutes and run it without trusting anything else of ours.

What it checks:
- RFC 9162 Merkle hashes: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right);
- inclusion proofs (RFC 9162 §2.1.3.2) and consistency proofs (§2.1.4.2);
- C2SP signed notes with Ed25519 keys, given as verifier key strings
  `<name>+<hex key id>+<base64(0x01 || public key)>`;
- C2SP tlog-checkpoint bodies: origin line, tree size, base64 root hash;
- a retirement proof bundle: {"entry", "leaf_index", "inclusion", "checkpoint"};
- a net-zero certificate bundle: {"checkpoint", "entries": [certificate, retirement, …]}, where the
  certificate commits to each retirement's leaf hash and every offset line lies in those retirements.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HASH_SIZE = 32
ED25519_SIGNATURE_TYPE = b"\x01"
SIGNATURE_LINE_PREFIX = "\u2014 "  # em dash and a space, C2SP signed-note
# Our checkpoints' one extension line: `previous <tree size> <base64 root>` of the checkpoint before.
PREVIOUS_CHECKPOINT_PREFIX = "previous "


class VerificationError(Exception):
    """The data does not prove what it claims. The message says what failed."""


# --- RFC 9162 hashing -------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """Recompute the root a proof claims (RFC 9162 §2.1.3.2); raises when the path is malformed."""
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn = index, size - 1
    result = leaf
    for sibling in proof:
        if len(sibling) != HASH_SIZE:
            raise VerificationError("a proof hash is not 32 bytes")
        if sn == 0:
            raise VerificationError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof is shorter than the tree is deep")
    return result


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise VerificationError("inclusion proof does not lead to the checkpoint's root hash")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: the tree of `new_size` extends the tree of `old_size`."""
    if not 0 <= old_size <= new_size:
        raise VerificationError(f"cannot prove size {old_size} consistent with size {new_size}")
    if any(len(h) != HASH_SIZE for h in proof):
        raise VerificationError("a proof hash is not 32 bytes")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise VerificationError("equal sizes need an empty proof and equal roots")
        return
    if old_size == 0:
        if proof:
            raise VerificationError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise VerificationError("consistency proof is empty")
    if old_size & (old_size - 1) == 0:  # old tree is a complete subtree: its root starts the path
        proof = [old_root, *proof]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first, second = proof[0], proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            first = node_hash(c, first)
            second = node_hash(c, second)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or first != old_root or second != new_root:
        raise VerificationError("consistency proof does not match the two root hashes")


# --- C2SP signed notes and checkpoints --------------------------------------------------------


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def ed25519_key_id(name: str, public_key_raw: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519_SIGNATURE_TYPE + public_key_raw).digest()[:4]


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse `<name>+<hex key id>+<base64(0x01 || 32-byte key)>` and check the key id."""
    parts = text.strip().split("+", 2)  # the base64 key itself may contain '+'
    if len(parts) != 3 or not parts[0]:
        raise VerificationError("a verifier key has the form <name>+<hex key id>+<base64 key>")
    name, key_id_hex, key_b64 = parts
    try:
        key_id = bytes.fromhex(key_id_hex)
        key_bytes = base64.b64decode(key_b64, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise VerificationError("the verifier key's id or key is not valid hex/base64") from exc
    if len(key_id) != 4 or len(key_bytes) != 33 or key_bytes[:1] != ED25519_SIGNATURE_TYPE:
        raise VerificationError("the verifier key is not an Ed25519 signed-note key")
    if ed25519_key_id(name, key_bytes[1:]) != key_id:
        raise VerificationError("the verifier key's id does not match its name and public key")
    return VerifierKey(name, key_id, Ed25519PublicKey.from_public_bytes(key_bytes[1:]))


def verify_note(note: str, key: VerifierKey) -> str:
    """Return the note's text once a signature by `key` verifies over it."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise VerificationError("not a signed note: no blank line before the signature lines")
    text += "\n"
    found = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_LINE_PREFIX):
            raise VerificationError("malformed signature line in the note")
        name, _, sig_b64 = line[len(SIGNATURE_LINE_PREFIX) :].partition(" ")
        try:
            sig = base64.b64decode(sig_b64, validate=True)
        except binascii.Error as exc:
            raise VerificationError("a note signature is not valid base64") from exc
        if name != key.name or sig[:4] != key.key_id:
            continue  # another key's signature (a witness, say): not ours to judge
        try:
            key.public_key.verify(sig[4:], text.encode())
        except InvalidSignature as exc:
            raise VerificationError("the note's signature does not verify with the given key") from exc
        found = True
    if not found:
        raise VerificationError(f"the note carries no signature by key {key.name}")
    return text


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    # The checkpoint before this one (size, root), from the `previous` extension line, if any.
    previous: tuple[int, bytes] | None = None


def _size(text: str) -> int:
    if not text.isdigit() or (text != "0" and text.startswith("0")):
        raise VerificationError("a checkpoint's tree size is not a decimal number")
    return int(text)


def _root(text: str) -> bytes:
    try:
        root = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise VerificationError("a checkpoint's root hash is not base64") from exc
    if len(root) != HASH_SIZE:
        raise VerificationError("a checkpoint's root hash is not 32 bytes")
    return root


def parse_checkpoint(text: str) -> Checkpoint:
    """Origin, tree size and root hash lines, then extension lines (C2SP tlog-checkpoint)."""
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0] or lines[-1] != "":
        raise VerificationError("a checkpoint has an origin, a tree size and a root hash line")
    previous = None
    for extension in lines[3:-1]:
        if extension.startswith(PREVIOUS_CHECKPOINT_PREFIX):
            size_text, _, root_b64 = extension[len(PREVIOUS_CHECKPOINT_PREFIX):].partition(" ")
            previous = (_size(size_text), _root(root_b64))
    return Checkpoint(lines[0], _size(lines[1]), _root(lines[2]), previous)


def verify_checkpoint(note: str, key: VerifierKey) -> Checkpoint:
    return parse_checkpoint(verify_note(note, key))


# --- Retirement proof bundle ------------------------------------------------------------------


def verify_bundle(bundle: dict[str, Any], key: VerifierKey) -> dict[str, Any]:
    """Check a proof bundle end to end; return the entry it proves, parsed.

    The entry travels as its canonical JSON text: its UTF-8 bytes are the Merkle leaf, so no
    re-canonicalisation (and no JSON library beyond `json.loads` for display) is needed here.
    """
    try:
        entry_text: str = bundle["entry"]
        leaf_index = int(bundle["leaf_index"])
        inclusion = bundle["inclusion"]
        proof_size = int(inclusion["tree_size"])
        hashes = [base64.b64decode(h, validate=True) for h in inclusion["hashes"]]
        note: str = bundle["checkpoint"]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise VerificationError(f"malformed proof bundle: {exc!r}") from exc
    checkpoint = verify_checkpoint(note, key)
    if checkpoint.origin != key.name:
        raise VerificationError("the checkpoint's origin is not the key's log")
    if proof_size != checkpoint.tree_size:
        raise VerificationError("the inclusion proof is for another tree size than the checkpoint")
    verify_inclusion(leaf_index, proof_size, leaf_hash(entry_text.encode()), hashes, checkpoint.root_hash)
    entry: dict[str, Any] = json.loads(entry_text)
    return entry


# --- Net-zero certificate bundle --------------------------------------------------------------


def verify_certificate_bundle(bundle: dict[str, Any], key: VerifierKey
                              ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Check a certificate bundle: every entry is in the signed log, the first is a net-zero
    certificate, the others are exactly the retirements it names (by leaf hash, in order), and its
    offset lines are units of those retirements adding up to the covered total, which covers the
    residual. Returns the certificate and the retirements, parsed."""
    try:
        note: str = bundle["checkpoint"]
        items = [(item["entry"], int(item["leaf_index"]), item["inclusion"]) for item in bundle["entries"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"malformed certificate bundle: {exc!r}") from exc
    if not items:
        raise VerificationError("the bundle holds no entries")
    entries = [verify_bundle({"entry": text, "leaf_index": index, "inclusion": inclusion, "checkpoint": note}, key)
               for text, index, inclusion in items]
    certificate, retirements = entries[0], entries[1:]
    if certificate.get("type") != "net_zero_certificate":
        raise VerificationError("the bundle's first entry is not a net-zero certificate")
    try:
        committed = [(r["id"], r["leaf_hash"]) for r in certificate["retirements"]]
        proved = [(entry["id"], leaf_hash(text.encode()).hex())
                  for entry, (text, _, _) in zip(retirements, items[1:], strict=True)]
        if committed != proved or any(entry.get("type") != "retire" for entry in retirements):
            raise VerificationError("the retirements in the bundle are not exactly those the certificate names")
        units_of = {entry["id"]: [(u["issuance"], u["first_unit"], u["last_unit"]) for u in entry["units"]]
                    for entry in retirements}
        counted: dict[str, int] = {entry["id"]: 0 for entry in retirements}
        for line in certificate["offsets"]:
            if not any(issuance == line["issuance"] and first <= line["first_unit"] <= line["last_unit"] <= last
                       for issuance, first, last in units_of.get(line["retirement"], [])):
                raise VerificationError(f"offset line {line['serial']} is not among the units of {line['retirement']}")
            counted[line["retirement"]] += line["last_unit"] - line["first_unit"] + 1
        for entry in retirements:
            if counted[entry["id"]] != entry["quantity_kg"]:
                raise VerificationError(f"the offset lines of {entry['id']} do not add up to what it retired")
        covered = sum(counted.values())
        removals = sum(line["last_unit"] - line["first_unit"] + 1 for line in certificate["offsets"]
                       if line["kind"] == "removal")
        if covered != certificate["covered_kg"] or removals != certificate["removals_kg"] or (
                covered - removals != certificate["reductions_kg"]):
            raise VerificationError("the certificate's covered, reduction and removal totals are not its lines' sums")
        if covered < certificate["emissions_kg"]["residual"]:
            raise VerificationError("the offsets do not cover the certified residual emissions")
    except (KeyError, TypeError) as exc:
        raise VerificationError(f"malformed certificate entry: {exc!r}") from exc
    return certificate, retirements


def _tonnes(kg: int) -> str:
    return f"{kg // 1000:,}.{kg % 1000:03d} t"


def _print_certificate(certificate: dict[str, Any], retirements: list[dict[str, Any]], log_name: str) -> None:
    facility, period, emissions = certificate["facility"], certificate["period"], certificate["emissions_kg"]
    print(f"VERIFIED: net-zero certificate {certificate['number']} and its {len(retirements)} retirement(s) are in "
          f"the log signed by {log_name}")
    print(f"  facility: {facility['name']} ({facility['id']}), {facility['region']}, boundary type "
          f"{facility['boundary']}")
    print(f"  reporting period: {period['start']} to {period['end']}; valid {certificate['valid_from']} to "
          f"{certificate['valid_until']}")
    print(f"  residual emissions: {_tonnes(emissions['residual'])} (scope 1 {_tonnes(emissions['scope1'])}, "
          f"scope 2 market-based {_tonnes(emissions['scope2_market'])}, location-based "
          f"{_tonnes(emissions['scope2_location'])}, scope 3 {_tonnes(emissions['scope3'])})")
    print(f"  covered: {_tonnes(certificate['covered_kg'])} (reductions {_tonnes(certificate['reductions_kg'])}, "
          f"removals {_tonnes(certificate['removals_kg'])}; from other regions "
          f"{_tonnes(certificate['cross_regional_kg'])})")
    for line in certificate["offsets"]:
        share = line["share_bp"]
        print(f"  {line['serial']}  {line['kind']}  {line['methodology']['id']}  {line['region']}  vintage "
              f"{line['vintage']}  {_tonnes(line['quantity_kg'])}  {share // 100}.{share % 100:02d} %"
              f"{'  cross-regional' if line['cross_regional'] else ''}  ({line['retirement']})")


def main(argv: list[str] | None = None) -> int:
    """`python -m registry.ledger.verify BUNDLE.json KEY` — the same check as `cir verify-proof`."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m registry.ledger.verify BUNDLE.json '<verifier key>'", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as f:
            bundle = json.load(f)
        key = parse_verifier_key(args[1])
        if isinstance(bundle, dict) and "entries" in bundle:
            _print_certificate(*verify_certificate_bundle(bundle, key), key.name)
            return 0
        entry = verify_bundle(bundle, key)
    except (OSError, ValueError, VerificationError) as exc:
        print(f"NOT VERIFIED: {exc}", file=sys.stderr)
        return 1
    print(f"VERIFIED: the entry is leaf {bundle['leaf_index']} of the log signed by {args[1].split('+')[0]}")
    moved = f"from {entry['from']} " if entry.get("from") else ""
    print(f"  {entry.get('type')} {entry.get('id')}: {entry.get('quantity_kg')} kg CO2e {moved}to {entry.get('to')}")
    if entry.get("type") == "retire":
        period = entry.get("claim_period", {})
        print(f"  beneficiary: {entry['beneficiary']['name']} ({entry['beneficiary']['type']})")
        print(f"  purpose: {entry.get('purpose')}; claim period {period.get('start')} to {period.get('end')}")
    for units in entry.get("units", []):
        print(f"  serial {units['serial']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
