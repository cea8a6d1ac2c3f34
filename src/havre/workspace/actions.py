"""Audited actions of project workspaces."""

from __future__ import annotations

from enum import StrEnum

from havre.audit import register


@register
class WorkspaceAction(StrEnum):
    BUILD = "workspace.build"
    REFRESH = "workspace.refresh"
    STATUS = "workspace.status"
    QUERY = "workspace.query"
    QUERY_START = "workspace.query_start"  # a query admitted, written while it runs
    PURGE = "workspace.purge"
    EVALUATE = "workspace.evaluate"  # the rows of an airlock output, for the airlock only
