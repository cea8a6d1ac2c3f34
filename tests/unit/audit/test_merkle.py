"""RFC 6962 Merkle tree: the iterative code against the RFC's recursive definitions."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from havre.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


# -- the RFC's definitions, written as literally as possible -------------------------------------
def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def _flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 1]) + value[1:]


# -- properties --------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=140))
def test_roots_match_the_rfc(n: int) -> None:
    leaves = _leaves(n)
    frontier = Frontier()
    for i, leaf in enumerate(leaves):
        frontier.append(leaf)
        if i % 7 == 0 or i == n - 1:
            assert frontier.root() == mth(leaves[: i + 1])
    assert MerkleTree(leaves).root() == mth(leaves)
    if n == 0:
        assert frontier.root() == EMPTY_ROOT


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_inclusion_proof_verifies_and_tampering_fails(data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=120))
    leaves = _leaves(n)
    tree = MerkleTree(leaves)
    root = tree.root()
    for m in range(n):
        proof = tree.inclusion_path(m)
        assert proof == path(m, leaves)
        assert verify_inclusion(leaves[m], m, n, proof, root)
    m = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = tree.inclusion_path(m)
    assert not verify_inclusion(_flip(leaves[m]), m, n, proof, root)
    assert not verify_inclusion(leaves[m], m, n, proof, _flip(root))
    if n > 1:
        assert not verify_inclusion(leaves[m], (m + 1) % n, n, proof, root)
        bad = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        assert not verify_inclusion(
            leaves[m], m, n, [*proof[:bad], _flip(proof[bad]), *proof[bad + 1 :]], root
        )
        assert not verify_inclusion(leaves[m], m, n, proof[:-1], root)
        assert not verify_inclusion(leaves[m], m, n, [*proof, proof[0]], root)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_consistency_proofs_between_any_sizes(data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=130))
    m = data.draw(st.integers(min_value=1, max_value=n))
    leaves = _leaves(n)
    tree = MerkleTree(leaves)
    old_root, new_root = tree.root(m), tree.root(n)
    proof = tree.consistency_proof(m, n)
    assert proof == subproof(m, leaves, True)
    assert verify_consistency(m, n, old_root, new_root, proof)
    assert not verify_consistency(m, n, _flip(old_root), new_root, proof)
    assert not verify_consistency(m, n, old_root, _flip(new_root), proof)
    if proof:
        bad = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        tampered = [*proof[:bad], _flip(proof[bad]), *proof[bad + 1 :]]
        assert not verify_consistency(m, n, old_root, new_root, tampered)
        assert not verify_consistency(m, n, old_root, new_root, proof[:-1])
    if m < n:
        assert not verify_consistency(m, n, old_root, new_root, [])
        other = leaves[:m] + [_flip(x) for x in leaves[m:]]
        assert not verify_consistency(m, n, old_root, MerkleTree(other).root(), proof)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_archived_prefix_known_by_its_frontier(data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=150))
    b = data.draw(st.integers(min_value=0, max_value=n))
    leaves = _leaves(n)
    full = MerkleTree(leaves)
    partial = MerkleTree(leaves[b:], prefix=Frontier.of(leaves[:b]))
    assert partial.root() == full.root()
    for size in range(max(b, 1), n + 1):
        assert partial.root(size) == full.root(size)
        assert partial.consistency_proof(size, n) == full.consistency_proof(size, n)
    for m in range(b, n):
        assert partial.inclusion_path(m) == full.inclusion_path(m)


def test_frontier_round_trips_as_hex() -> None:
    frontier = Frontier.of(_leaves(11))
    again = Frontier.from_hex(11, frontier.to_hex())
    assert again.root() == frontier.root()
    again.append(_leaves(12)[11])
    assert again.root() == mth(_leaves(12))


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, 300), chunks=st.lists(st.integers(0, 200), min_size=1, max_size=6))
def test_frontier_extend_matches_one_leaf_at_a_time(start: int, chunks: list[int]) -> None:
    leaves = _leaves(start + sum(chunks))
    one_by_one = Frontier.of(leaves[:start])
    in_bulk = Frontier.of(leaves[:start])
    position = start
    for size in chunks:
        for leaf in leaves[position : position + size]:
            one_by_one.append(leaf)
        in_bulk.extend(leaves[position : position + size])
        position += size
        assert (in_bulk.size, in_bulk.nodes) == (one_by_one.size, one_by_one.nodes)
        assert in_bulk.root() == mth(leaves[:position])
