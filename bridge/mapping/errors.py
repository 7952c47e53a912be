"""Problems found in ``mapping.yaml``, each pinned to a line, a column and a key path.

Every stage of loading (YAML, schema, semantics, environment, resolution) reports
:class:`MappingProblem` values instead of raising on the first one, so an admin
sees every mistake in one run, formatted like a compiler diagnostic::

    mapping.yaml:12:5 partners.alfa.pipline: unknown key — did you mean 'pipeline'?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_SIMILAR = 0.6

PathPart = str | int
KeyPath = tuple[PathPart, ...]


def dotted(path: KeyPath) -> str:
    """``("partners", "alfa", "rules", 0)`` → ``partners.alfa.rules[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


@dataclass(frozen=True, slots=True)
class MappingProblem:
    """One mistake: where it is and what would be right. ``line``/``col`` are 1-based."""

    file: str
    line: int
    col: int
    path: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        return f"{where} {self.path}: {self.message}"


class MappingInvalid(Exception):
    """``mapping.yaml`` has problems; fix every one listed, then run ``bridge check`` again."""

    def __init__(self, problems: Sequence[MappingProblem]) -> None:
        self.problems = tuple(sort_problems(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


def sort_problems(problems: Iterable[MappingProblem]) -> list[MappingProblem]:
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.file, p.line, p.col, p.path, p.message))


def closest(word: str, candidates: Iterable[str], limit: int = 5) -> list[str]:
    """Similar candidates first (most similar first), then the rest in their own order."""
    pool = list(dict.fromkeys(candidates))
    wanted = word.casefold()
    scores = {c: difflib.SequenceMatcher(None, wanted, c.casefold()).ratio() for c in pool}
    near = sorted((c for c in pool if scores[c] >= _SIMILAR), key=lambda c: -scores[c])
    return (near + [c for c in pool if c not in near])[:limit]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` or a list of what is allowed."""
    pool = list(dict.fromkeys(candidates))
    near = difflib.get_close_matches(word.casefold(), [c.casefold() for c in pool], 1, 0.6)
    if near:
        match = next(c for c in pool if c.casefold() == near[0])
        return f"did you mean '{match}'?"
    if not pool:
        return "remove it"
    return "expected one of: " + ", ".join(pool)


def quoted_list(names: Iterable[str]) -> str:
    return ", ".join(f"'{n}'" for n in names) or "(none)"
