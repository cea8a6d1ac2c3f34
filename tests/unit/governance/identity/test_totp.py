import datetime as dt

import pyotp

from havre.governance.identity.totp import code_at, matching_step, provisioning_uri, step_of

SECRET = pyotp.random_base32()
NOW = dt.datetime(2027, 3, 1, 9, 0, 10, tzinfo=dt.UTC)


def test_code_matches_its_step_within_one_step_of_drift() -> None:
    step = step_of(NOW)
    assert matching_step(SECRET, code_at(SECRET, NOW), NOW) == step
    earlier = NOW - dt.timedelta(seconds=30)
    assert matching_step(SECRET, code_at(SECRET, earlier), NOW) == step - 1
    later = NOW + dt.timedelta(seconds=30)
    assert matching_step(SECRET, code_at(SECRET, later), NOW) == step + 1
    too_old = NOW - dt.timedelta(seconds=90)
    assert matching_step(SECRET, code_at(SECRET, too_old), NOW) is None


def test_malformed_codes_never_match() -> None:
    for code in ("", "12345", "1234567", "abcdef", "12 34 5x"):
        assert matching_step(SECRET, code, NOW) is None
    spaced = code_at(SECRET, NOW)
    assert matching_step(SECRET, f"{spaced[:3]} {spaced[3:]}", NOW) == step_of(NOW)


def test_provisioning_uri_names_issuer_and_account() -> None:
    uri = provisioning_uri(SECRET, "marie.dupont@chu-lyon.fr")
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == SECRET
    assert parsed.issuer == "Havre"
    assert parsed.name == "marie.dupont@chu-lyon.fr"
