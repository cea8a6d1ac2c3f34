"""Opening the hub for a command, and who the command acts as."""

from __future__ import annotations

from typing import Annotated

import typer

from havre.core.actor import Actor
from havre.core.config import load_settings
from havre.hub import Hub

TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="HAVRE_TOKEN",
        help="Act as the person this token belongs to (from 'havre login' or 'havre token "
        "create'; also read from HAVRE_TOKEN). Without it: the local operator.",
    ),
]


def open_hub() -> Hub:
    return Hub.open(load_settings())


def actor_for(
    hub: Hub,
    token: str | None,
    *,
    project: str | None = None,
    justification: str | None = None,
) -> Actor:
    """The person behind ``token``; without a token, the local operator.

    The operator is whoever has shell access to the hub's home and its master key. Services
    give it only custodial powers (seat the first administrators, suspend, unlock, revoke,
    read reviews) and refuse it anything that needs a named person's decision.
    """
    if token:
        return hub.identity.actor_from_token(token, project_id=project, justification=justification)
    return Actor.operator(justification).for_project(project)
