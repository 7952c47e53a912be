"""Find CRM objects by the name (or id) an admin wrote; say what exists when nothing matches."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bridge.mapping.errors import closest, quoted_list
from bridge.model import EnumOption, FieldDef, Pipeline, Semantics, Stage

_SEMANTIC_WORDS = {"won": Semantics.WON, "lost": Semantics.LOST}


def _same(a: str, b: str) -> bool:
    return a.casefold().strip() == b.casefold().strip()


def find_pipeline(pipelines: Sequence[Pipeline], wanted: str) -> Pipeline | None:
    return next((p for p in pipelines if p.id == wanted or _same(p.name, wanted)), None)


def find_stage(pipeline: Pipeline, wanted: str) -> Stage | None:
    """By name, then id; the words ``won``/``lost`` mean the pipeline's won/lost stage."""
    found = pipeline.stage_by_name(wanted) or pipeline.stage_by_id(wanted)
    semantics = _SEMANTIC_WORDS.get(wanted.casefold().strip())
    if found is None and semantics is not None:
        found = next((s for s in pipeline.stages if s.semantics is semantics), None)
    return found


def find_field(fields: Sequence[FieldDef], wanted: str) -> FieldDef | None:
    """By id, then code (``UF_CRM_…``), then name."""
    for match in (
        lambda f: f.id == wanted,
        lambda f: f.code is not None and _same(f.code, wanted),
        lambda f: _same(f.name, wanted),
    ):
        found = next((f for f in fields if match(f)), None)
        if found is not None:
            return found
    return None


def find_option(field: FieldDef, wanted: str) -> EnumOption | None:
    return field.option_by_value(wanted) or next((o for o in field.options if o.id == wanted), None)


def not_found(what: str, wanted: str, names: Iterable[str]) -> str:
    """``stage 'X' does not exist — existing, closest first: 'Y', 'Z'``."""
    pool = list(names)
    if not pool:
        return f"{what} '{wanted}' does not exist — there are none"
    return f"{what} '{wanted}' does not exist — existing, closest first: " + quoted_list(
        closest(wanted, pool, limit=8)
    )
