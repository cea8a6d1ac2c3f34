"""Random streams: one per (seed, purpose, chunk), so output depends on the arguments only.

Each purpose has its own stream, so a change in how care is simulated does not reshuffle who
is born where; chunks of a fixed size get their own streams, so the number of processes that
generate them never matters.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    IDENTITY = 1
    HISTORY = 2
    CARE = 3
    STAYS = 4
    FHIR = 5
    DEFECTS = 6
    CLAIMS = 7
    OMOP = 8


def generator(seed: int, stream: Stream, chunk: int) -> np.random.Generator:
    sequence = np.random.SeedSequence(seed, spawn_key=(int(stream), chunk))
    return np.random.Generator(np.random.PCG64(sequence))
