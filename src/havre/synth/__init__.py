"""Synthetic source-shaped deliveries: SNDS-like claims, a hospital group's FHIR export (and,
on request, its OMOP CDM export) and opt-out registers, for the same coherent synthetic
population (see docs/synth.md).

``synth`` never calls the hub: the hub ingests its files through the same door as any real
source. The generator's heavy imports (Arrow, DuckDB) load on first use, so that the
``havre`` command starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from havre.synth.options import SCALES, SynthOptions

if TYPE_CHECKING:
    from havre.synth.delivery import Progress, generate
    from havre.synth.manifest import SynthManifest

__all__ = ["SCALES", "Progress", "SynthManifest", "SynthOptions", "generate"]


def __getattr__(name: str) -> Any:
    if name in ("Progress", "generate"):
        from havre.synth import delivery

        return getattr(delivery, name)
    if name == "SynthManifest":
        from havre.synth.manifest import SynthManifest

        return SynthManifest
    raise AttributeError(f"module 'havre.synth' has no attribute {name!r}")
