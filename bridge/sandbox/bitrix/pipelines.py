"""Deal pipelines (categories) and their stages, as ``crm.status`` rows.

Stage ids follow Bitrix24: bare codes in pipeline 0, ``C<N>:<CODE>`` elsewhere,
``STATUS_ID`` cut at 21 characters. Pure state, no I/O.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from typing import Any

STATUS_ID_MAX = 21
DEFAULT_STAGES: tuple[tuple[str, str, str], ...] = (
    ("NEW", "Новая", "P"),
    ("PREPARATION", "Подготовка документов", "P"),
    ("PREPAYMENT_INVOICE", "Счёт на предоплату", "P"),
    ("EXECUTING", "В работе", "P"),
    ("FINAL_INVOICE", "Финальный счёт", "P"),
    ("WON", "Сделка успешна", "S"),
    ("LOSE", "Сделка провалена", "F"),
    ("APOLOGY", "Анализ причины провала", "F"),
)
_SYSTEM_CODES = frozenset({"NEW", "WON", "LOSE"})
_COLORS = {"P": "#39A8EF", "S": "#7BD500", "F": "#FF5752"}
_EXTRA = {"P": "process", "S": "success", "F": "failure"}


@dataclass(slots=True)
class Category:
    id: int
    name: str
    sort: int
    origin_id: str = ""
    originator_id: str = ""

    def render(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "sort": self.sort,
            "entityTypeId": 2,
            "isDefault": "Y" if self.id == 0 else "N",
        }
        if self.id:
            row |= {"originId": self.origin_id, "originatorId": self.originator_id}
        return row


@dataclass(slots=True)
class Pipelines:
    """Every deal category and its ordered stages."""

    rng: random.Random = field(default_factory=lambda: random.Random(7))
    categories: dict[int, Category] = field(default_factory=dict)
    stages: list[dict[str, Any]] = field(default_factory=list)
    _next_status_row: int = 101
    _next_category: int = 1

    def __post_init__(self) -> None:
        if not self.categories:
            self.add_category("Общая", with_defaults=True, category_id=0, sort=300)

    # ---- categories ----------------------------------------------------------

    def add_category(
        self,
        name: str,
        *,
        with_defaults: bool = True,
        category_id: int | None = None,
        sort: int = 200,
    ) -> Category:
        new_id = self._next_category if category_id is None else category_id
        self._next_category = max(self._next_category, new_id + 1)
        category = Category(new_id, name, sort)
        self.categories[new_id] = category
        if with_defaults:
            for code, stage_name, semantics in DEFAULT_STAGES:
                self._append_stage(new_id, code, stage_name, semantics, system=True)
        return category

    def rename_category(self, category_id: int, name: str) -> None:
        self.categories[category_id].name = name

    # ---- stages --------------------------------------------------------------

    @staticmethod
    def entity_id(category_id: int) -> str:
        return "DEAL_STAGE" if category_id == 0 else f"DEAL_STAGE_{category_id}"

    @staticmethod
    def status_id(category_id: int, code: str) -> str:
        full = code if category_id == 0 else f"C{category_id}:{code}"
        return full[:STATUS_ID_MAX]

    def _append_stage(
        self, category_id: int, code: str, name: str, semantics: str, *, system: bool
    ) -> dict[str, Any]:
        existing = self.of_category(category_id)
        sort = (max(int(s["SORT"]) for s in existing) + 10) if existing else 10
        return self._insert(category_id, code, name, semantics, sort, system=system)

    def _insert(
        self, category_id: int, code: str, name: str, semantics: str, sort: int, *, system: bool
    ) -> dict[str, Any]:
        color = _COLORS.get(semantics, _COLORS["P"])
        extra = "apology" if code == "APOLOGY" else _EXTRA.get(semantics, "process")
        row = {
            "ID": str(self._next_status_row),
            "ENTITY_ID": self.entity_id(category_id),
            "STATUS_ID": self.status_id(category_id, code),
            "NAME": name,
            "NAME_INIT": name if system and code in _SYSTEM_CODES else "",
            "SORT": str(sort),
            "SYSTEM": "Y" if system and code in _SYSTEM_CODES else "N",
            "CATEGORY_ID": None if category_id == 0 else str(category_id),
            "COLOR": color,
            "SEMANTICS": None if semantics == "P" else semantics,
            "EXTRA": {"SEMANTICS": extra, "COLOR": color},
        }
        self._next_status_row += 2
        self.stages.append(row)
        return row

    def define_stages(self, category_id: int, stages: list[tuple[str, str, str]]) -> None:
        """Replace a category's stages with ``(code, name, semantics)`` rows."""
        self.stages = [s for s in self.stages if s["ENTITY_ID"] != self.entity_id(category_id)]
        for code, name, semantics in stages:
            self._append_stage(category_id, code, name, semantics, system=True)

    def add_stage(self, category_id: int, name: str, semantics: str = "P") -> str:
        """A custom ``UC_XXXXXX`` stage; open stages go before the final ones."""
        return str(self.add_status(category_id, name, semantics)["STATUS_ID"])

    def add_status(
        self,
        category_id: int,
        name: str,
        semantics: str = "P",
        *,
        code: str | None = None,
        sort: int | None = None,
    ) -> dict[str, Any]:
        if category_id not in self.categories:
            raise KeyError(f"no deal category {category_id}")
        if code is None:
            code = "UC_" + "".join(self.rng.choices(string.ascii_uppercase + string.digits, k=6))
        if self.stage(self.status_id(category_id, code)) is not None:
            raise ValueError(f"stage {code} already exists")
        existing = self.of_category(category_id)
        if sort is None:
            opens = [int(s["SORT"]) for s in existing if s["SEMANTICS"] is None]
            finals = [int(s["SORT"]) for s in existing if s["SEMANTICS"] is not None]
            if semantics == "P" and finals:
                sort = (max(opens) if opens else 0) + 1
            else:
                sort = max(int(s["SORT"]) for s in existing) + 10 if existing else 10
        return self._insert(category_id, code, name, semantics, sort, system=False)

    def row(self, row_id: int) -> dict[str, Any] | None:
        return next((s for s in self.stages if s["ID"] == str(row_id)), None)

    def category_for_entity(self, entity_id: str) -> int | None:
        """``DEAL_STAGE`` → 0, ``DEAL_STAGE_7`` → 7 (if that pipeline exists)."""
        if entity_id == "DEAL_STAGE":
            return 0
        suffix = entity_id.removeprefix("DEAL_STAGE_")
        if suffix != entity_id and suffix.isdigit() and int(suffix) in self.categories:
            return int(suffix)
        return None

    def stage(self, status_id: str) -> dict[str, Any] | None:
        return next((s for s in self.stages if s["STATUS_ID"] == status_id), None)

    def of_category(self, category_id: int) -> list[dict[str, Any]]:
        wanted = self.entity_id(category_id)
        rows = [s for s in self.stages if s["ENTITY_ID"] == wanted]
        return sorted(rows, key=lambda s: (int(s["SORT"]), int(s["ID"])))

    def category_of(self, status_id: str) -> int | None:
        row = self.stage(status_id)
        if row is None:
            return None
        return int(row["CATEGORY_ID"] or 0)

    def first_stage(self, category_id: int) -> str:
        rows = self.of_category(category_id)
        if not rows:
            raise KeyError(f"deal category {category_id} has no stages")
        return str(rows[0]["STATUS_ID"])

    def semantics(self, status_id: str) -> str:
        row = self.stage(status_id)
        return "P" if row is None or row["SEMANTICS"] is None else str(row["SEMANTICS"])

    def rename_stage(self, status_id: str, name: str) -> None:
        row = self.stage(status_id)
        if row is None:
            raise KeyError(f"no stage {status_id}")
        row["NAME"] = name

    def delete_stage(self, status_id: str) -> None:
        row = self.stage(status_id)
        if row is None:
            raise KeyError(f"no stage {status_id}")
        self.stages.remove(row)
