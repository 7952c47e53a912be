"""Collects problems while walking a loaded file, pinning each to its line and column."""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.mapping.errors import KeyPath, MappingProblem, dotted
from bridge.mapping.yaml_loader import LoadedYaml


@dataclass
class Reporter:
    file: str
    loaded: LoadedYaml
    problems: list[MappingProblem] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # what ``--fix`` made in a CRM

    def note_created(self, what: str) -> None:
        self.created.append(what)

    def error(self, path: KeyPath, message: str, *, at_key: bool = False) -> None:
        self._add(self._make(path, message, at_key=at_key, warning=False))

    def warn(self, path: KeyPath, message: str, *, at_key: bool = False) -> None:
        self._add(self._make(path, message, at_key=at_key, warning=True))

    def _add(self, problem: MappingProblem) -> None:
        # Defaults are checked once per partner; say each thing once.
        if problem not in self.problems:
            self.problems.append(problem)

    def _make(self, path: KeyPath, message: str, *, at_key: bool, warning: bool) -> MappingProblem:
        line, col = self.loaded.mark_of(path, key=at_key)
        return MappingProblem(self.file, line, col, dotted(path), message, warning)

    @property
    def errors(self) -> list[MappingProblem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[MappingProblem]:
        return [p for p in self.problems if p.warning]
