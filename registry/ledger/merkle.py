"""RFC 9162 tree arithmetic over stored *perfect subtrees*.

The log stores the hash of every complete, aligned subtree: node (level, index) covers leaves
[index·2^level, (index+1)·2^level). Every hash that a root, an inclusion proof or a consistency
proof needs is a right fold of such nodes, so each proof is one batched read of O(log n) rows.

Functions here return *plans* (which nodes, how to fold them) and evaluate them against a
mapping of node hashes; the caller fetches the nodes in one query in between.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from registry.ledger.verify import node_hash

EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162: the root of the tree of no leaves
Node = tuple[int, int]  # (level, index)
# A range hash is the right fold of its perfect nodes: h(n1, h(n2, … h(nk-1, nk))).
RangePlan = tuple[Node, ...]


def largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (RFC 9162's split point); n must be > 1."""
    return 1 << ((n - 1).bit_length() - 1)


def range_plan(start: int, size: int) -> RangePlan:
    """The perfect nodes whose fold is MTH(D[start:start+size]), as RFC 9162 splits it.

    `start` must be aligned so that the RFC's left parts are perfect, which holds for every range
    the root and proof recursions produce.
    """
    nodes: list[Node] = []
    while size > 0:
        if size & (size - 1) == 0:
            level = size.bit_length() - 1
            nodes.append((level, start >> level))
            break
        k = largest_power_of_two_below(size)
        level = k.bit_length() - 1
        nodes.append((level, start >> level))
        start, size = start + k, size - k
    return tuple(nodes)


def root_plan(tree_size: int) -> RangePlan:
    return range_plan(0, tree_size)


def inclusion_plan(index: int, tree_size: int) -> list[RangePlan]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), bottom-up, as range plans."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf {index} is not in a tree of size {tree_size}")
    path: list[RangePlan] = []
    start, size, m = 0, tree_size, index
    while size > 1:
        k = largest_power_of_two_below(size)
        if m < k:
            path.append(range_plan(start + k, size - k))
            size = k
        else:
            path.append(range_plan(start, k))
            start, size, m = start + k, size - k, m - k
    path.reverse()
    return path


def consistency_plan(old_size: int, new_size: int) -> list[RangePlan]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) as range plans, in proof order."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[RangePlan] = []
    start, size, m, complete = 0, new_size, old_size, True
    while m != size:
        k = largest_power_of_two_below(size)
        if m <= k:
            proof.append(range_plan(start + k, size - k))
            size = k
        else:
            proof.append(range_plan(start, k))
            start, size, m, complete = start + k, size - k, m - k, False
    if not complete:
        proof.append(range_plan(start, size))
    proof.reverse()
    return proof


def nodes_of(plans: Iterable[RangePlan]) -> set[Node]:
    return {node for plan in plans for node in plan}


def fold(plan: RangePlan, nodes: Mapping[Node, bytes]) -> bytes:
    result = nodes[plan[-1]]
    for node in reversed(plan[:-1]):
        result = node_hash(nodes[node], result)
    return result


def new_perfect_nodes(
    old_size: int, leaf_hashes: list[bytes], frontier: Mapping[Node, bytes]
) -> dict[Node, bytes]:
    """The perfect nodes completed by appending `leaf_hashes` to a tree of `old_size` leaves.

    `frontier` must hold the old tree's right-edge perfect nodes (those of `root_plan(old_size)`);
    the result includes the new leaves (level 0) and every node above them that they complete.
    """
    known: dict[Node, bytes] = dict(frontier)
    created: dict[Node, bytes] = {}
    for offset, leaf in enumerate(leaf_hashes):
        level, index, value = 0, old_size + offset, leaf
        created[(level, index)] = value
        known[(level, index)] = value
        while index & 1:
            value = node_hash(known[(level, index - 1)], value)
            level, index = level + 1, index >> 1
            created[(level, index)] = value
            known[(level, index)] = value
    return created
