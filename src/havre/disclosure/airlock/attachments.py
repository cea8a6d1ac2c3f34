"""Files a researcher attaches to outputs: figures (PNG or SVG) and model artefacts.

The hub cannot read a figure's pixels, so it checks what it can (the format, the size, that
an SVG carries no script or external reference that would run or fetch when it is opened) and
a checker compares the figure with its underlying table. A model file is opaque: its size is
bounded and the checker sees it with its degrees-of-freedom check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath

from havre.core.errors import DataValidationError, UsageError
from havre.core.hashing import sha256_bytes
from havre.disclosure.airlock.spec import ReleaseSpec

MAX_FIGURE_BYTES = 20 << 20
MAX_MODEL_BYTES = 200 << 20
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# what would make an SVG act when opened: scripts, event handlers, embedded documents, links
# to anything outside the file
_SVG_ACTIVE = re.compile(
    rb"<\s*script|<\s*foreignObject|\son[a-z]+\s*=|javascript:|(?:xlink:)?href\s*=\s*[\"']"
    rb"(?!#|data:image/(?:png|jpeg);base64,)|<!ENTITY|<\s*iframe|<\s*embed|<\s*object",
    re.IGNORECASE,
)
_SVG_ROOT = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>\s*)?"
    rb"(?:<!--.*?-->\s*)*<svg[\s>/]",
    re.DOTALL,
)


@dataclass(frozen=True)
class Attachment:
    name: str  # the file name as released: <output>.<ext>
    media_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.data)


def check_attachments(spec: ReleaseSpec, files: Mapping[str, bytes]) -> dict[str, Attachment]:
    """The attached file of every figure and model, checked; refuses missing or extra files."""
    wanted = {o.name: o for o in spec.outputs if o.file is not None}
    extra = sorted(set(files) - set(wanted))
    if extra:
        raise UsageError(f"Files were given for outputs that take none: {', '.join(extra)}")
    checked: dict[str, Attachment] = {}
    for name, output in wanted.items():
        data = files.get(name)
        if data is None:
            raise UsageError(f"Output {name!r} names the file {output.file!r}, which was not given")
        suffix = PurePath(output.file or "").suffix.lower()
        if output.kind == "figure":
            checked[name] = _figure(name, suffix, data)
        else:
            if len(data) > MAX_MODEL_BYTES:
                raise DataValidationError(
                    f"The model file of output {name!r} takes {len(data)} bytes (at most "
                    f"{MAX_MODEL_BYTES})",
                    hint="release the coefficients and a compact model description",
                )
            extension = suffix if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) else ".bin"
            checked[name] = Attachment(f"{name}.model{extension}", "application/octet-stream", data)
    return checked


def _figure(name: str, suffix: str, data: bytes) -> Attachment:
    if len(data) > MAX_FIGURE_BYTES:
        raise DataValidationError(
            f"The figure of output {name!r} takes {len(data)} bytes (at most {MAX_FIGURE_BYTES})"
        )
    if data.startswith(PNG_MAGIC):
        return Attachment(f"{name}.png", "image/png", data)
    if _SVG_ROOT.match(data[:4096]):
        if _SVG_ACTIVE.search(data):
            raise DataValidationError(
                f"The SVG figure of output {name!r} holds a script, an event handler, an "
                "embedded document or a link to another file",
                hint="export the figure as a plain SVG or as PNG",
            )
        return Attachment(f"{name}.svg", "image/svg+xml", data)
    raise DataValidationError(
        f"The file of figure {name!r} ({suffix or 'no extension'}) is neither PNG nor SVG",
        hint="export the figure as PNG or SVG",
    )
