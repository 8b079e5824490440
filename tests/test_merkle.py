"""The tree, its proofs and the offline verifier against RFC 6962/9162 reference vectors."""

import hashlib

import pytest

from registry.ledger import merkle
from registry.ledger.verify import (
    VerificationError,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

# Reference data of the Certificate Transparency project (RFC 6962 test vectors).
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
REFERENCE_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
REFERENCE_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
REFERENCE_CONSISTENCY = {
    (2, 8): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


def build_nodes(leaves: list[bytes]) -> dict[merkle.Node, bytes]:
    return merkle.new_perfect_nodes(0, [leaf_hash(x) for x in leaves], {})


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert hashlib.sha256(b"").hexdigest() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_reference(size: int) -> None:
    nodes = build_nodes(REFERENCE_LEAVES[:size])
    assert merkle.fold(merkle.root_plan(size), nodes).hex() == REFERENCE_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size"), list(REFERENCE_INCLUSION))
def test_inclusion_proofs_match_reference(index: int, size: int) -> None:
    nodes = build_nodes(REFERENCE_LEAVES)
    proof = [merkle.fold(p, nodes) for p in merkle.inclusion_plan(index, size)]
    assert [h.hex() for h in proof] == REFERENCE_INCLUSION[(index, size)]
    root = bytes.fromhex(REFERENCE_ROOTS[size - 1])
    verify_inclusion(index, size, leaf_hash(REFERENCE_LEAVES[index]), proof, root)


@pytest.mark.parametrize(("old", "new"), list(REFERENCE_CONSISTENCY))
def test_consistency_proofs_match_reference(old: int, new: int) -> None:
    nodes = build_nodes(REFERENCE_LEAVES)
    proof = [merkle.fold(p, nodes) for p in merkle.consistency_plan(old, new)]
    assert [h.hex() for h in proof] == REFERENCE_CONSISTENCY[(old, new)]
    verify_consistency(
        old, new, bytes.fromhex(REFERENCE_ROOTS[old - 1]), bytes.fromhex(REFERENCE_ROOTS[new - 1]), proof
    )


def naive_root(leaf_hashes: list[bytes]) -> bytes:
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = merkle.largest_power_of_two_below(len(leaf_hashes))
    return node_hash(naive_root(leaf_hashes[:k]), naive_root(leaf_hashes[k:]))


LEAVES_40 = [hashlib.sha256(bytes([i])).digest() for i in range(40)]
NODES_40 = merkle.new_perfect_nodes(0, [leaf_hash(x) for x in LEAVES_40], {})
ROOTS_40 = [b""] + [naive_root([leaf_hash(x) for x in LEAVES_40[:n]]) for n in range(1, 41)]


def test_incremental_appends_equal_building_at_once() -> None:
    nodes: dict[merkle.Node, bytes] = {}
    size = 0
    for batch in (1, 2, 5, 3, 13, 16):
        frontier = {n: nodes[n] for n in merkle.root_plan(size)} if size else {}
        batch_leaves = [leaf_hash(x) for x in LEAVES_40[size : size + batch]]
        nodes.update(merkle.new_perfect_nodes(size, batch_leaves, frontier))
        size += batch
        assert merkle.fold(merkle.root_plan(size), nodes) == ROOTS_40[size]
    assert nodes == {k: v for k, v in NODES_40.items() if (k[1] + 1) << k[0] <= size}


def test_every_inclusion_proof_verifies_and_tampering_fails() -> None:
    for size in range(1, 41):
        for index in range(size):
            proof = [merkle.fold(p, NODES_40) for p in merkle.inclusion_plan(index, size)]
            leaf = leaf_hash(LEAVES_40[index])
            verify_inclusion(index, size, leaf, proof, ROOTS_40[size])
            if size > 1:
                with pytest.raises(VerificationError):
                    verify_inclusion((index + 1) % size, size, leaf, proof, ROOTS_40[size])
            if proof:
                bad = [*proof[:-1], bytes(32)]
                with pytest.raises(VerificationError):
                    verify_inclusion(index, size, leaf, bad, ROOTS_40[size])
                with pytest.raises(VerificationError):
                    root_from_inclusion_proof(index, size, leaf, proof[:-1])


def test_every_consistency_proof_verifies_and_tampering_fails() -> None:
    for new in range(1, 41):
        for old in range(0, new + 1):
            proof = [merkle.fold(p, NODES_40) for p in merkle.consistency_plan(old, new)]
            verify_consistency(old, new, ROOTS_40[old], ROOTS_40[new], proof)
            if proof:
                with pytest.raises(VerificationError):
                    verify_consistency(old, new, ROOTS_40[old], ROOTS_40[new], [*proof[:-1], bytes(32)])
                with pytest.raises(VerificationError):
                    verify_consistency(old, new, ROOTS_40[old], ROOTS_40[new], proof[1:])
            if 0 < old < new:
                with pytest.raises(VerificationError):
                    verify_consistency(old, new, ROOTS_40[old - 1], ROOTS_40[new], proof)


def test_proof_plans_reject_impossible_requests() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_plan(8, 8)
    with pytest.raises(ValueError):
        merkle.consistency_plan(5, 3)
