"""``generate(options)``: a whole synthetic delivery, written safely.

Output goes to a temporary folder beside the target and is renamed into place at the end:
a failure or an interruption leaves nothing half-written. Chunks are made by worker
processes when there are several and written in chunk order, so the bytes never depend on
the number of processes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from havre.core.errors import UsageError
from havre.synth import manifest as manifest_module
from havre.synth import omop, omop_csv, params
from havre.synth.arrays import Array
from havre.synth.calendar import date_of, day
from havre.synth.chunk import ChunkOutput, Plan, make_chunk, omop_part
from havre.synth.options import SynthOptions
from havre.synth.population import Identities, identities
from havre.synth.seeds import Stream, generator
from havre.synth.truth import Truth, report
from havre.synth.writer import DeliveryWriter, layout


@dataclass(frozen=True)
class Progress:
    persons_done: int
    persons_total: int
    rows_written: int


ProgressCallback = Callable[[Progress], None]


def generate(
    options: SynthOptions, progress: ProgressCallback | None = None
) -> manifest_module.SynthManifest:
    """Write the delivery described by ``options`` and return its manifest."""
    options = options.validated()
    target = options.out.expanduser().absolute()
    created = _check_target(target, options.force)
    try:
        temporary = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".synth-tmp", dir=target.parent)
        )
    except OSError as error:
        _remove_created(created)
        raise UsageError(
            f"cannot write in {target.parent}: {error.strerror or error}",
            hint="choose an output folder you can write to",
        ) from error
    try:
        # mkdtemp makes a private folder; the delivery gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        temporary.chmod(0o777 & ~umask)
        document = _generate_into(temporary, options, progress)
        if target.exists():
            shutil.rmtree(target)
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        _remove_created(created)
        raise
    return manifest_module.SynthManifest(target / manifest_module.MANIFEST_NAME, document)


def _check_target(target: Path, force: bool) -> list[Path]:
    """Refuse a target that is a file, or a non-empty folder (unless ``force`` and it holds a
    previous synthetic delivery). Returns the parent folders it had to create."""
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder", hint="choose another --out")
    if target.is_dir() and any(target.iterdir()):
        if not force:
            raise UsageError(
                f"{target} is not empty", hint="choose a new folder, or add --force to replace it"
            )
        if not (target / manifest_module.MANIFEST_NAME).exists():
            # --force replaces earlier output, never a folder of other files.
            raise UsageError(
                f"{target} is not empty and holds no {manifest_module.MANIFEST_NAME}: "
                "--force only replaces a previous synthetic delivery",
                hint="choose a new or empty folder",
            )
    created: list[Path] = []
    parent = target.parent
    missing = []
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except OSError as error:
            _remove_created(created)
            raise UsageError(f"cannot create {folder}: {error.strerror or error}") from error
        created.append(folder)
    return created


def _remove_created(created: list[Path]) -> None:
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _plan(options: SynthOptions) -> Plan:
    return Plan(
        seed=options.seed,
        persons=options.persons,
        start=day(options.start),
        end=day(options.end),
        formats=options.formats,
        file_format=options.file_format,
        dirty_rate=options.dirty_rate,
    )


def _generate_into(
    root: Path, options: SynthOptions, progress: ProgressCallback | None
) -> dict[str, Any]:
    plan = _plan(options)
    people = identities(plan.seed, plan.persons, plan.start, plan.end, options.optout_rate)
    years = list(range(options.start.year, options.end.year + 1))
    writer = DeliveryWriter(root, layout(plan.formats, plan.file_format, years))
    truth = Truth()
    done = rows = chunks = 0
    communes: list[Array] = []
    sites: list[Array] = []
    try:
        for output in _chunks(plan, people, options.process_count):
            for part in output.parts:
                writer.write(part)
            truth.merge(output.truth)
            communes.append(output.communes)
            sites.append(output.sites)
            chunks += 1
            done += output.persons
            rows += output.rows
            if progress is not None:
                progress(Progress(done, plan.persons, rows))
        if "omop" in plan.formats:
            # the places are written once, after every chunk has named the ones it uses
            rng = generator(plan.seed, Stream.OMOP, chunks)
            places = omop.shared_rows(_union(communes), _union(sites))
            for data in places:
                writer.write(omop_part(rng, data, plan, None))
    except BaseException:
        writer.abort()
        raise
    stats = writer.close()
    stamp = f"{date_of(plan.end + 1).isoformat()}T00:00:00Z"
    if "snds" in plan.formats:
        manifest_module.write_json(
            root / "snds" / "delivery.json", manifest_module.delivery_json(stats, stamp)
        )
    if "fhir" in plan.formats:
        manifest_module.write_json(
            root / "fhir" / "manifest.json", manifest_module.export_manifest(stats, stamp)
        )
    if "omop" in plan.formats:
        (root / omop.FOLDER / "cdm_source.csv").write_bytes(
            omop_csv.cdm_source(date_of(plan.end + 1))
        )
    manifest_module.write_defects(root / manifest_module.DEFECTS_NAME, writer.defects.table())
    document = manifest_module.document(options.arguments(), stats, report(truth))
    manifest_module.write_json(root / manifest_module.MANIFEST_NAME, document)
    return document


def _union(parts: list[Array]) -> Array:
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)


def _slices(plan: Plan, people: Identities) -> Iterator[tuple[int, Identities]]:
    for index, first in enumerate(range(0, plan.persons, params.CHUNK_PERSONS)):
        yield index, people.slice(first, min(first + params.CHUNK_PERSONS, plan.persons))


def _chunks(plan: Plan, people: Identities, processes: int) -> Iterator[ChunkOutput]:
    """Chunk outputs in chunk order, made here or by worker processes."""
    count = -(-plan.persons // params.CHUNK_PERSONS)
    if processes <= 1 or count <= 1:
        for index, part in _slices(plan, people):
            yield make_chunk(plan, index, part)
        return
    # Spawned (not forked) workers: the parent may hold threads of Arrow or DuckDB.
    context = multiprocessing.get_context("spawn")
    pending: list[Future[ChunkOutput]] = []
    with ProcessPoolExecutor(max_workers=min(processes, count), mp_context=context) as pool:
        try:
            for index, part in _slices(plan, people):
                pending.append(pool.submit(make_chunk, plan, index, part))
                # Bounded look-ahead keeps memory flat: a few chunks in flight at most.
                if len(pending) > processes:
                    yield pending.pop(0).result()
            while pending:
                yield pending.pop(0).result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
