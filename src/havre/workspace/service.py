"""``WorkspaceService`` (``hub.workspaces``): build, refresh, status, queries and purge of
project workspaces. Its parts are mixins over ``WorkspaceBase``:

- ``building``: build, refresh (extraction, publishing), purge after closure;
- ``querying``: sandboxed queries, aggregate-only checks, the loaded-workspace cache;
- ``outputs``: the person-level rows of an airlock output, handed to the airlock only;
- ``reading``: status.
"""

from __future__ import annotations

from havre.workspace.building import BuildingMixin
from havre.workspace.outputs import OutputsMixin
from havre.workspace.querying import QueryingMixin
from havre.workspace.reading import ReadingMixin


class WorkspaceService(BuildingMixin, OutputsMixin, QueryingMixin, ReadingMixin):
    """Each project's sealed workspace: what its permit grants, and nothing else."""
