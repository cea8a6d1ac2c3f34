from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from havre.core.errors import UsageError
from havre.synth import SCALES, SynthOptions
from havre.synth.options import parse_formats


def options(**values: object) -> SynthOptions:
    base: dict[str, object] = {"persons": 10, "seed": 1, "out": Path("x")}
    base.update(values)
    return SynthOptions(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"persons": 0}, "at least 1"),
        ({"persons": -5}, "at least 1"),
        ({"seed": -1}, "--seed"),
        ({"start": dt.date(2020, 1, 1), "end": dt.date(2019, 12, 31)}, "not after"),
        ({"start": dt.date(2020, 1, 1), "end": dt.date(2020, 1, 1)}, "not after"),
        ({"start": dt.date(1900, 1, 1)}, "outside"),
        ({"formats": ("snds", "hl7v2")}, "hl7v2"),
        ({"formats": ()}, "no format"),
        ({"file_format": "xlsx"}, "xlsx"),
        ({"optout_rate": 1.5}, "--optout-rate"),
        ({"dirty_rate": -0.1}, "--dirty-rate"),
        ({"workers": -1}, "workers"),
    ],
)
def test_bad_arguments_are_usage_errors(values: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        options(**values).validated()
    assert caught.value.exit_code == 2


def test_formats_are_normalised_in_a_fixed_order() -> None:
    assert parse_formats(" FHIR,snds ") == ("snds", "fhir")
    assert options(formats=("fhir",)).validated().formats == ("fhir",)


def test_omop_is_a_format_asked_for_by_name() -> None:
    assert parse_formats("omop,snds,fhir") == ("snds", "fhir", "omop")
    assert options(formats=("omop",)).validated().formats == ("omop",)
    # the default stays SNDS and FHIR: existing deliveries keep their bytes
    assert options().validated().formats == ("snds", "fhir")


def test_scales_are_the_documented_presets() -> None:
    assert SCALES == {"small": 1_000, "medium": 100_000, "large": 1_000_000}
    assert SynthOptions.for_scale("medium", seed=1, out=Path("x")).persons == 100_000
    with pytest.raises(UsageError, match="huge"):
        SynthOptions.for_scale("huge", seed=1, out=Path("x"))


def test_manifest_arguments_leave_out_the_machine() -> None:
    arguments = options(workers=2, force=True).validated().arguments()
    assert arguments == {
        "persons": 10,
        "seed": 1,
        "start": "2015-01-01",
        "end": "2024-12-31",
        "formats": ["snds", "fhir"],
        "optout_rate": 0.01,
        "dirty_rate": 0.0,
        "file_format": "csv",
    }
