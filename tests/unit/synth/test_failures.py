"""Bad input gives a clear error and exit code 2; nothing half-written is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from havre.core.errors import UsageError
from havre.synth import SynthOptions, generate
from havre.synth import delivery as generate_module


def options(out: Path, **values: object) -> SynthOptions:
    base: dict[str, object] = {"persons": 200, "seed": 1, "out": out, "workers": 1}
    base.update(values)
    return SynthOptions(**base)  # type: ignore[arg-type]


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_bad_arguments_write_nothing(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        generate(options(tmp_path / "out", persons=0))
    with pytest.raises(UsageError):
        generate(options(tmp_path / "deep" / "out", formats=("snds", "csv")))
    assert leftovers(tmp_path) == []


def test_a_non_empty_folder_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        generate(options(target))
    # --force replaces earlier synthetic output only, never a folder of other files.
    with pytest.raises(UsageError, match=r"synth-manifest\.json"):
        generate(options(target, force=True))
    assert leftovers(target) == ["notes.txt"]
    assert leftovers(tmp_path) == ["out"]


def test_force_replaces_a_previous_delivery(tmp_path: Path) -> None:
    target = tmp_path / "out"
    generate(options(target, seed=1))
    (target / "stale.txt").write_text("old")
    manifest = generate(options(target, seed=2, force=True))
    assert manifest.document["arguments"]["seed"] == 2
    assert not (target / "stale.txt").exists()
    assert leftovers(tmp_path) == ["out"]


def test_an_empty_folder_is_used(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    generate(options(target))
    assert (target / "synth-manifest.json").exists()
    assert oct(target.stat().st_mode & 0o777) != oct(0o700)


def test_an_unwritable_place_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UsageError, match="cannot"):
        generate(options(blocker / "out"))
    with pytest.raises(UsageError, match="not a folder"):
        generate(options(blocker))
    assert leftovers(tmp_path) == ["file"]


def test_a_failure_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> object:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(generate_module, "make_chunk", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        generate(options(tmp_path / "new" / "out"))
    assert leftovers(tmp_path) == []
