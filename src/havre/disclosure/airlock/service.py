"""``Airlock`` (``hub.airlock``): release requests from creation to download. Its parts are
mixins over ``AirlockBase``:

- ``requesting``: create (outputs computed and checked at once), check again or rework,
  submit, withdraw;
- ``reviewing``: two blind reviews, consolidation (approve, return, reject);
- ``releasing``: release with provenance, download, a checker's inspection;
- ``reading``: show, list, the privacy budget.
"""

from __future__ import annotations

from havre.disclosure.airlock.reading import ReadingMixin
from havre.disclosure.airlock.releasing import ReleasingMixin
from havre.disclosure.airlock.requesting import RequestingMixin
from havre.disclosure.airlock.reviewing import ReviewingMixin


class Airlock(RequestingMixin, ReviewingMixin, ReleasingMixin, ReadingMixin):
    """What leaves the hub: checked automatically, judged by two independent checkers."""
