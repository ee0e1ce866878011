"""Where a kernel's inputs appear: each competition, dataset and kernel output mounted under the input root.

Kaggle has two layouts: `nested` (today's: `competitions/<slug>`, `datasets/<owner>/<slug>`,
`notebooks/<owner>/<slug>`) and `flat` (the classic one: `<slug>` for everything). `kk run-kernel --layout` and
the emulator choose one; the kernel runtime finds its inputs in either.

Example:
    >>> [m.target for m in input_mounts({"digit-recognizer": Path("d")}, {"alice/w": Path("w")})]
    ['competitions/digit-recognizer', 'datasets/alice/w']
    >>> [m.target for m in input_mounts({"digit-recognizer": Path("d")}, layout=InputLayout.FLAT)]
    ['digit-recognizer']
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from kaggle_kit.errors import KKError


class InputLayout(str, Enum):
    """How sources are laid out under the input root."""

    NESTED = "nested"
    FLAT = "flat"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Mount:
    """Mirror folder `source` at `<input root>/<target>` (target e.g. `competitions/digit-recognizer`)."""

    source: Path | str
    target: str


def input_mounts(competitions: dict[str, Path] | None = None, datasets: dict[str, Path] | None = None,
                 kernels: dict[str, Path] | None = None, layout: InputLayout | str = InputLayout.NESTED
                 ) -> list[Mount]:
    """Where Kaggle mounts each source under the input root.

    Keys are the competition slug or `owner/slug`; values the local folders holding the files.
    """
    try:
        nested = InputLayout(str(layout)) is InputLayout.NESTED
    except ValueError:
        raise KKError(f"input layout {layout!r}: choose {' or '.join(x.value for x in InputLayout)}") from None
    mounts = []
    for slug, folder in (competitions or {}).items():
        mounts.append(Mount(folder, f"competitions/{slug}" if nested else slug))
    for kind, sources in (("datasets", datasets or {}), ("notebooks", kernels or {})):
        for ref, folder in sources.items():
            owner, _, slug = ref.partition("/")
            mounts.append(Mount(folder, f"{kind}/{owner}/{slug}" if nested else slug))
    targets = [m.target for m in mounts]
    clash = sorted({t for t in targets if targets.count(t) > 1})
    if clash:
        raise KKError(f"two inputs would be mounted at {clash[0]!r} in the flat layout; use layout nested")
    return mounts
