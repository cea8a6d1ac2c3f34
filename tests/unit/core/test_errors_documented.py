from pathlib import Path

from havre.core.errors import ALL_ERRORS

DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def test_every_error_is_in_docs_with_its_exit_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    for error in ALL_ERRORS:
        assert f"`{error.code}`" in text, f"{error.__name__} missing from docs/cli.md"
        assert f"| {error.exit_code} |" in text


def test_exit_codes_are_distinct_except_subclasses() -> None:
    codes: dict[int, type] = {}
    for error in ALL_ERRORS:
        if error.exit_code in codes:
            assert issubclass(error, codes[error.exit_code])
        else:
            codes[error.exit_code] = error
