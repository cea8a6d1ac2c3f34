"""Inclusion and consistency proofs as self-contained JSON documents, and their checks.

An outsider needs only the document, the hub's public key (``havre audit public-key``) and
this module (or any RFC 6962 implementation): the entry's hash is recomputed from its content,
its leaf is walked up to the checkpoint's root, and the checkpoint's signature is checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from havre.audit.checkpoints import Checkpoint
from havre.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from havre.audit.rows import EntryRow, canonical_bytes, from_dict, to_dict
from havre.audit.signing import TrustedKeys
from havre.core.errors import HavreError, UsageError

INCLUSION_FORMAT = "havre-audit-inclusion-proof/1"
CONSISTENCY_FORMAT = "havre-audit-consistency-proof/1"


@dataclass
class ProofCheck:
    ok: bool
    kind: str
    checks: dict[str, bool] = field(default_factory=dict)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "kind": self.kind, "checks": self.checks, "message": self.message}


def inclusion_document(row: EntryRow, path: list[bytes], checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "format": INCLUSION_FORMAT,
        "entry": to_dict(row),
        "leaf_index": row.seq - 1,
        "leaf_hash": leaf_hash(bytes.fromhex(row.entry_hash)).hex(),
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "path": [node.hex() for node in path],
        "checkpoint": checkpoint.to_dict(),
    }


def consistency_document(
    old_size: int,
    old_root: bytes,
    proof: list[bytes],
    new: Checkpoint,
    old: Checkpoint | None,
) -> dict[str, Any]:
    return {
        "format": CONSISTENCY_FORMAT,
        "old_size": old_size,
        "old_root": old_root.hex(),
        "new_size": new.tree_size,
        "new_root": new.root_hash,
        "proof": [node.hex() for node in proof],
        "old_checkpoint": None if old is None else old.to_dict(),
        "new_checkpoint": new.to_dict(),
    }


def verify_document(
    document: dict[str, Any],
    keys: TrustedKeys,
    held_checkpoint: dict[str, Any] | None = None,
) -> ProofCheck:
    """Check a proof document; ``held_checkpoint`` is an old checkpoint the verifier kept."""
    kind = document.get("format") if isinstance(document, dict) else None
    try:
        if kind == INCLUSION_FORMAT:
            return _check_inclusion(document, keys)
        if kind == CONSISTENCY_FORMAT:
            return _check_consistency(document, keys, held_checkpoint)
    except (KeyError, TypeError, ValueError, HavreError) as exc:
        return ProofCheck(False, str(kind), message=f"The proof document is malformed ({exc}).")
    raise UsageError(
        f"Unknown proof format {kind!r}.",
        hint="give a file written by 'havre audit proof' or 'havre audit consistency'",
    )


def _check_inclusion(document: dict[str, Any], keys: TrustedKeys) -> ProofCheck:
    row = from_dict(document["entry"])
    recomputed = hashlib.sha256(bytes.fromhex(row.prev_hash) + canonical_bytes(row)).hexdigest()
    checkpoint = Checkpoint.from_dict(document["checkpoint"])
    leaf = leaf_hash(bytes.fromhex(row.entry_hash))
    path = [bytes.fromhex(node) for node in document["path"]]
    checks = {
        "entry_hash": recomputed == row.entry_hash,
        "leaf_hash": leaf.hex() == document["leaf_hash"],
        "leaf_index": int(document["leaf_index"]) == row.seq - 1,
        "checkpoint_matches": document["root_hash"] == checkpoint.root_hash
        and int(document["tree_size"]) == checkpoint.tree_size,
        "inclusion": verify_inclusion(
            leaf, row.seq - 1, checkpoint.tree_size, path, bytes.fromhex(checkpoint.root_hash)
        ),
        "signature": checkpoint.verify_signature(keys),
    }
    ok = all(checks.values())
    message = (
        f"Entry {row.seq} is in the log signed at checkpoint {checkpoint.number} "
        f"({checkpoint.tree_size} entries, {checkpoint.key_id})."
        if ok
        else "The proof does not hold: " + ", ".join(k for k, v in checks.items() if not v) + "."
    )
    return ProofCheck(ok, "inclusion", checks, message)


def _check_consistency(
    document: dict[str, Any], keys: TrustedKeys, held: dict[str, Any] | None
) -> ProofCheck:
    new = Checkpoint.from_dict(document["new_checkpoint"])
    old_size, old_root = int(document["old_size"]), str(document["old_root"])
    proof = [bytes.fromhex(node) for node in document["proof"]]
    checks = {
        "new_checkpoint_matches": new.tree_size == int(document["new_size"])
        and new.root_hash == document["new_root"],
        "new_signature": new.verify_signature(keys),
        "consistency": verify_consistency(
            old_size,
            new.tree_size,
            bytes.fromhex(old_root),
            bytes.fromhex(new.root_hash),
            proof,
        ),
    }
    for name, data in (("old_checkpoint", document.get("old_checkpoint")), ("held", held)):
        if data is not None:
            old = Checkpoint.from_dict(data)
            checks[f"{name}_signature"] = old.verify_signature(keys)
            checks[f"{name}_matches"] = old.tree_size == old_size and old.root_hash == old_root
    ok = all(checks.values())
    message = (
        f"The log of {new.tree_size} entries (checkpoint {new.number}) extends the log of "
        f"{old_size} entries with root {old_root[:16]}..."
        if ok
        else "The proof does not hold: " + ", ".join(k for k, v in checks.items() if not v) + "."
    )
    return ProofCheck(ok, "consistency", checks, message)
