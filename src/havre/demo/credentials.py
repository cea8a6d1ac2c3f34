"""``--keep``: the kept demo hub's people, so that a tester can act as each of them.

Each person creates an API token for a day from their signed-in session, as they would with
``havre token create``; the file holds it with their password and TOTP secret (a demo hub
only: these are the secrets of invented people) and is readable by its owner alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from havre.demo.cast import Cast
from havre.demo.projects import ProjectStory
from havre.hub import Hub

FILE_NAME = "demo-credentials.json"
TOKEN_DAYS = 1


def user_entries(hub: Hub, cast: Cast) -> list[dict[str, Any]]:
    admin = cast.actor("admin")
    users: list[dict[str, Any]] = []
    for member in cast.members.values():
        made = hub.identity.create_token(
            cast.actor(member.key), name="demo tester (havre demo --keep)", days=TOKEN_DAYS
        )
        view = hub.identity.show_user(admin, member.user_id)
        roles = sorted({g.role.value for g in view.grants if g.state == "active"})
        users.append(
            {
                "email": member.character.email,
                "name": member.character.name,
                "part": member.character.part,
                "roles": roles,
                "projects": list(member.projects),
                "totp_secret": member.totp_secret,
                "password": member.password,
                "token": made.token,
                "token_expires_at": made.info.expires_at.isoformat(),
            }
        )
    return users


def write(home: Path, hub: Hub, cast: Cast, stories: list[ProjectStory]) -> Path:
    document = {
        "hub": str(home.resolve()),
        "how": "HAVRE_HOME=<hub> havre <command> --token <token> (or HAVRE_TOKEN=<token>)",
        "users": user_entries(hub, cast),
        "projects": [
            {"id": s.project_id, "title": s.title, "access_level": s.access_level} for s in stories
        ],
    }
    path = home / FILE_NAME
    path.unlink(missing_ok=True)
    # created 0600 from the start: the secrets are never readable by others, not even briefly
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
    return path
