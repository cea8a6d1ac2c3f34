"""``ProjectService``: applications, their review, permits, closure, calls for projects and
the public register (``hub.projects``; enforcement in ``hub.projects.permits``).

One class for the faces and the other services to hold; its parts live in their own
modules, each a mixin over ``ProjectsBase``:

- ``drafting``: create, update, submit, withdraw, amend (the applicant);
- ``review``: completeness, ethics opinion, authorisation (the reviewers);
- ``lifecycle``: issue, activate, refresh, suspend, reinstate, expire (the permit's life);
- ``assessing``: re-identification risk of the terms (at review, on demand, at issue);
- ``closure``: close (crypto-shredding the workspace key), results;
- ``calls``, ``register``, ``reading``.
"""

from __future__ import annotations

from havre.governance.projects.calls import CallsMixin
from havre.governance.projects.closure import ClosureMixin
from havre.governance.projects.drafting import DraftingMixin
from havre.governance.projects.lifecycle import LifecycleMixin
from havre.governance.projects.reading import ReadingMixin
from havre.governance.projects.register import RegisterMixin
from havre.governance.projects.review import ReviewMixin


class ProjectService(
    DraftingMixin,
    ReviewMixin,
    LifecycleMixin,
    ClosureMixin,
    CallsMixin,
    RegisterMixin,
    ReadingMixin,
):
    """Research projects, from application to closure, and the permits they hold."""
