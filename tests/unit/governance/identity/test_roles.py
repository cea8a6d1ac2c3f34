import pytest

from havre.core.errors import PermissionDenied, UsageError
from havre.governance.identity.roles import (
    DATA_ROLES,
    FOUR_EYES,
    Role,
    check_combination,
    check_scope,
    parse_role,
)


def test_roles_are_the_seven_of_the_issue() -> None:
    assert {r.value for r in Role} == {
        "researcher",
        "project_lead",
        "data_steward",
        "reviewer",
        "checker",
        "auditor",
        "admin",
    }
    assert {Role.ADMIN, Role.DATA_STEWARD} == FOUR_EYES
    assert Role.REVIEWER not in DATA_ROLES and Role.AUDITOR not in DATA_ROLES
    assert Role.CHECKER in DATA_ROLES


def test_parse_role_names_the_accepted_values() -> None:
    assert parse_role(" Researcher ") is Role.RESEARCHER
    with pytest.raises(UsageError) as caught:
        parse_role("superuser")
    assert "researcher" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("role", "project", "ok"),
    [
        (Role.RESEARCHER, "prj_a", True),
        (Role.RESEARCHER, None, False),
        (Role.PROJECT_LEAD, None, False),
        (Role.ADMIN, None, True),
        (Role.ADMIN, "prj_a", False),
        (Role.AUDITOR, "prj_a", False),
        (Role.CHECKER, None, True),
        (Role.CHECKER, "prj_a", True),
        (Role.REVIEWER, "prj_a", True),
    ],
)
def test_scope(role: Role, project: str | None, ok: bool) -> None:
    if ok:
        check_scope(role, project)
    else:
        with pytest.raises(UsageError):
            check_scope(role, project)


def test_auditor_and_admin_are_never_combined() -> None:
    with pytest.raises(PermissionDenied, match=r"Separation of duties.*auditor.*admin"):
        check_combination([(Role.ADMIN, None)], Role.AUDITOR, None)
    with pytest.raises(PermissionDenied, match="Separation of duties"):
        check_combination([(Role.AUDITOR, None)], Role.ADMIN, None)
    with pytest.raises(PermissionDenied):
        check_combination([(Role.AUDITOR, None)], Role.DATA_STEWARD, None)
    check_combination([(Role.ADMIN, None)], Role.DATA_STEWARD, None)
    check_combination([(Role.AUDITOR, None), (Role.RESEARCHER, "prj_a")], Role.REVIEWER, None)


def test_judges_of_a_project_are_not_on_its_team() -> None:
    team = [(Role.RESEARCHER, "prj_a")]
    with pytest.raises(PermissionDenied, match="prj_a"):
        check_combination(team, Role.REVIEWER, "prj_a")
    with pytest.raises(PermissionDenied):
        check_combination(team, Role.CHECKER, "prj_a")
    with pytest.raises(PermissionDenied):
        check_combination([(Role.CHECKER, "prj_a")], Role.PROJECT_LEAD, "prj_a")
    # another project is fine
    check_combination(team, Role.CHECKER, "prj_b")
    check_combination([(Role.REVIEWER, "prj_b")], Role.RESEARCHER, "prj_a")
