"""Merkle tree over the audit entries, exactly as RFC 6962 §2.1 defines it.

Leaves are entry hashes: ``leaf = SHA-256(0x00 || entry_hash)``, nodes
``SHA-256(0x01 || left || right)``. ``Frontier`` is the compact form of a tree (the roots of
its perfect subtrees, left to right): it grows one leaf at a time in amortized O(1) hashes and
yields the root at any size, which is how verification recomputes every checkpoint's root in
one pass. ``MerkleTree`` answers proofs (RFC 6962 PATH and PROOF); its leaves may start after
an archived prefix known only by that prefix's frontier. Proof checks follow RFC 9162
§2.1.3.2 and §2.1.4.2, which need nothing but hashes: an outsider can run them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from havre.core.errors import NotFoundError, UsageError

_LEAF = b"\x00"
_NODE = b"\x01"
_sha256 = hashlib.sha256

EMPTY_ROOT = _sha256(b"").digest()


def leaf_hash(entry_hash: bytes) -> bytes:
    return _sha256(_LEAF + entry_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(_NODE + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def perfect_sizes(size: int) -> list[int]:
    """Sizes of the perfect subtrees a tree of ``size`` leaves decomposes into, left to right."""
    return [1 << bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]


@dataclass
class Frontier:
    """Roots of the perfect subtrees of a tree of ``size`` leaves, largest (leftmost) first."""

    size: int = 0
    nodes: list[bytes] = field(default_factory=list)

    def append(self, leaf: bytes) -> None:
        node = leaf
        nodes = self.nodes
        count = self.size
        # merge equal-sized subtrees: one merge per trailing 1-bit of the old size
        while count & 1:
            node = _sha256(_NODE + nodes.pop() + node).digest()
            count >>= 1
        nodes.append(node)
        self.size += 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append many leaves, hashing level by level (one list pass per level)."""
        if not leaves:
            return
        size = self.size
        nodes = self.nodes
        level = list(leaves)
        kept: list[bytes] = []  # the new frontier's nodes below the untouched ones, low first
        bit = 0
        while level:
            if size >> bit & 1:  # the old subtree of this height joins the level on its left
                level = [nodes.pop(), *level]
            if len(level) & 1:
                kept.append(level.pop())
            level = [
                _sha256(_NODE + a + b).digest()
                for a, b in zip(level[::2], level[1::2], strict=True)
            ]
            bit += 1
        nodes.extend(reversed(kept))
        self.size = size + len(leaves)

    def append_entry_hash(self, entry_hash: bytes) -> None:
        self.append(_sha256(_LEAF + entry_hash).digest())

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        nodes = self.nodes
        node = nodes[-1]
        for left in reversed(nodes[:-1]):
            node = _sha256(_NODE + left + node).digest()
        return node

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.nodes))

    def to_hex(self) -> list[str]:
        return [node.hex() for node in self.nodes]

    @classmethod
    def from_hex(cls, size: int, nodes: Sequence[str]) -> Frontier:
        if len(nodes) != bin(size).count("1"):
            raise UsageError(
                f"A Merkle frontier of size {size} has {bin(size).count('1')} nodes, "
                f"not {len(nodes)}."
            )
        return cls(size, [bytes.fromhex(node) for node in nodes])

    @classmethod
    def of(cls, leaves: Iterable[bytes]) -> Frontier:
        frontier = cls()
        for leaf in leaves:
            frontier.append(leaf)
        return frontier


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    return Frontier.of(leaves).root()


class MerkleTree:
    """A tree of ``prefix.size + len(leaves)`` leaves, the first ``prefix.size`` known only by
    their frontier (an archived, removed range). Proofs that need a hash inside that prefix
    other than a frontier node are refused: give the archive's leaves instead."""

    def __init__(self, leaves: Sequence[bytes], prefix: Frontier | None = None) -> None:
        self.prefix = prefix or Frontier()
        self.offset = self.prefix.size
        self.leaves = list(leaves)
        self.known: dict[tuple[int, int], bytes] = {}
        start = 0
        for size, node in zip(perfect_sizes(self.offset), self.prefix.nodes, strict=True):
            self.known[(start, start + size)] = node
            start += size
        self._cache: dict[tuple[int, int], bytes] = {}

    @property
    def size(self) -> int:
        return self.offset + len(self.leaves)

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for the ranges the RFC's recursion visits."""
        known = self.known.get((lo, hi))
        if known is not None:
            return known
        if hi - lo == 1:
            if lo >= self.offset:
                return self.leaves[lo - self.offset]
            raise NotFoundError(
                f"Entry {lo + 1} was archived and removed from the database.",
                hint="pass the archive file (--archive) to prove entries of an archived range",
            )
        cached = self._cache.get((lo, hi))
        if cached is not None:
            return cached
        if hi - lo == 0:
            return EMPTY_ROOT
        k = split_point(hi - lo)
        value = node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))
        # perfect subtrees recur across proofs and checkpoints; keep the big ones
        if hi - lo >= 64 and (hi - lo) & (hi - lo - 1) == 0:
            self._cache[(lo, hi)] = value
        return value

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self.subtree(0, size)

    def leaf(self, index: int) -> bytes:
        return self.subtree(index, index + 1)

    def inclusion_path(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 PATH(m, D[n])."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise UsageError(f"Leaf {index} is not in a tree of {size} leaves.")
        return self._path(index, 0, size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return [*self._path(m, lo, lo + k), self.subtree(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self.subtree(lo, lo + k)]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 6962 PROOF(m, D[n])."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 1 <= old_size <= new_size:
            raise UsageError(
                f"A consistency proof needs 1 <= old size <= new size; got {old_size}, {new_size}."
            )
        return self._subproof(old_size, 0, new_size, True)

    def _subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [self.subtree(lo, hi)]
        k = split_point(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, complete), self.subtree(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self.subtree(lo, lo + k)]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise UsageError(f"The log holds {self.size} entries; no tree of size {size}.")


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``path`` prove ``leaf`` at ``index`` in the tree ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    node = leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show the tree ``new_root`` extends ``old_root``?"""
    if not 1 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = node_hash(node, first)
            second = node_hash(node, second)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            second = node_hash(second, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == old_root and second == new_root
