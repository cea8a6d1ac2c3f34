"""The array type of the generator's columns."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy.typing as npt

Array: TypeAlias = npt.NDArray[Any]
"""A NumPy column: one value per person, event or row."""
