import pytest

from havre.core.actor import Actor
from havre.core.errors import PermissionDenied
from havre.governance.identity import (
    Role,
    require_any_role,
    require_distinct,
    require_not_member,
    require_person,
    require_role,
)


def person(roles: set[str], project: str | None = None, user_id: str = "usr_a") -> Actor:
    return Actor(user_id=user_id, name="A Person", roles=frozenset(roles), project_id=project)


def test_operator_is_not_a_person() -> None:
    with pytest.raises(PermissionDenied, match="operator"):
        require_person(Actor.operator(), "approve a project")
    with pytest.raises(PermissionDenied, match="operator"):
        require_role(Actor.operator(), Role.ADMIN)
    assert require_person(person(set()), "x") == "usr_a"


def test_require_role_global_and_on_project() -> None:
    assert require_role(person({"admin"}), Role.ADMIN) == "usr_a"
    with pytest.raises(PermissionDenied, match="'reviewer'"):
        require_role(person({"researcher"}, "prj_a"), Role.REVIEWER, "prj_a")
    assert require_role(person({"researcher"}, "prj_a"), Role.RESEARCHER, "prj_a")
    # roles of an actor opened for prj_a say nothing about prj_b
    with pytest.raises(PermissionDenied, match="prj_a, not prj_b"):
        require_role(person({"researcher"}, "prj_a"), Role.RESEARCHER, "prj_b")
    # an actor opened without a project carries hub-wide roles, valid on every project
    assert require_role(person({"checker"}), Role.CHECKER, "prj_b")
    # a project role never comes without the project
    with pytest.raises(PermissionDenied):
        require_role(person(set()), Role.RESEARCHER, "prj_a")
    # hub-wide roles still count on another project's actor
    assert require_any_role(person({"admin"}, "prj_a"), [Role.ADMIN], "prj_b")


def test_not_member_and_distinct_name_the_rule() -> None:
    reviewer = person({"reviewer"})
    with pytest.raises(PermissionDenied, match=r"Separation of duties.*review"):
        require_not_member(reviewer, {"usr_a", "usr_b"}, "review")
    assert require_not_member(reviewer, {"usr_b"}, "review") == "usr_a"
    with pytest.raises(PermissionDenied, match=r"Separation of duties.*check their own release"):
        require_distinct("usr_a", "usr_a", "check their own release")
    require_distinct("usr_a", "usr_b", "check their own release")
    with pytest.raises(PermissionDenied, match="operator"):
        require_distinct(None, "usr_b", "approve")
