"""``IdentityService``: accounts, sign-in, sessions and tokens, roles, access reviews.

One class for the faces and the other services to hold (``hub.identity``); its parts live in
their own modules, each a mixin over ``IdentityBase``:

- ``authentication`` and ``bearer``: sign-in, sessions, ``actor_from_token``;
- ``api_tokens``: create, list, revoke API tokens;
- ``grants``: grant, four-eyes approval, revoke; ``grant_within`` for other services;
- ``accounts``: add, attest, suspend, reinstate, unlock, passwords, TOTP reset, recovery codes;
- ``reviews``: access reviews, inactivity suspension, review campaigns.
"""

from __future__ import annotations

from havre.governance.identity.reviews import ReviewsMixin


class IdentityService(ReviewsMixin):
    """Who is who, and who may do what."""
