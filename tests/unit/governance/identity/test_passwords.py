import pytest

from havre.core.errors import UsageError
from havre.governance.identity import passwords
from havre.governance.identity.passwords import check_password, common_passwords

EMAIL = "marie.dupont@chu-lyon.fr"
NAME = "Marie Dupont"


def test_common_list_is_shipped_and_lower_case() -> None:
    words = common_passwords()
    assert len(words) >= 2000
    assert {"password", "azerty", "123456", "motdepasse", "qwertyuiop"} <= words
    assert all(w == w.lower() for w in words)


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Kp9#short", "too short"),
        ("Password2024!", "common"),
        ("P@ssw0rd12345", "common"),
        ("azertyuiop123", "common"),
        ("motdepasse!2027", "common"),
        ("1234567890123", "only digits"),
        ("abababababab", "different characters"),
        ("Qwerqwerqwer12", "common"),
        ("monkey-monkey-monkey", "common"),
        ("passwordpassword", "common"),
        ("marie.dupont-2027", "e-mail name or the person's name"),
        ("ilovedupontforever", "e-mail name or the person's name"),
        ("x" * 300, "longer"),
    ],
)
def test_weak_passwords_are_refused_naming_the_rule(password: str, rule: str) -> None:
    with pytest.raises(UsageError) as caught:
        check_password(password, email=EMAIL, name=NAME)
    assert rule in caught.value.message
    assert password not in caught.value.message


@pytest.mark.parametrize(
    "password", ["correct horse battery staple", "Falaise-Etretat-brume-42", "k7#Vq9!mZ2@wLp"]
)
def test_good_passwords_pass(password: str) -> None:
    check_password(password, email=EMAIL, name=NAME)


def test_hash_is_argon2id_and_verifies() -> None:
    digest = passwords.hash_password("correct horse battery staple")
    assert digest.startswith("$argon2id$")
    assert "correct" not in digest
    assert passwords.verify_password(digest, "correct horse battery staple")
    assert not passwords.verify_password(digest, "correct horse battery stapler")
    assert not passwords.verify_password("not a hash", "x")
    assert not passwords.verify_password(passwords.dummy_hash(), "")
