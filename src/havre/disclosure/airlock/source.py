"""What the airlock needs from the workspace room, as a protocol: the person-level rows of an
output, computed in the project's sandbox (``WorkspaceService.evaluate_output``). The hub hands
the service in: the workspace room already imports this room's policy, so importing it back
would make a circle between rooms."""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa

from havre.core.actor import Actor


class OutputRowsLike(Protocol):
    @property
    def table(self) -> pa.Table: ...

    @property
    def workspace_version(self) -> int: ...

    @property
    def permit_version(self) -> int: ...

    @property
    def permit_sha256(self) -> str: ...

    @property
    def dataset(self) -> str: ...

    @property
    def data_version(self) -> int: ...

    @property
    def data_version_id(self) -> str: ...

    @property
    def sql_sha256(self) -> str: ...


class OutputSource(Protocol):
    def evaluate_output(
        self,
        actor: Actor,
        project_id: str,
        sql: str,
        *,
        person_column: str,
        request_id: str,
        output_name: str,
    ) -> OutputRowsLike: ...
