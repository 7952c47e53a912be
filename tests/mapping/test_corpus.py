"""Every broken file under ``broken/`` states the exact problems it must produce.

Each file starts with ``# Broken: what is wrong`` and one ``# expect: LINE:COL path:
message`` line per problem; the test checks the validator reports exactly those
(no more, no fewer), formatted ``<file>:LINE:COL path: message``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.mapping.errors import MappingInvalid
from bridge.mapping.validate import load_mapping, validate_text
from tests.mapping.conftest import fixed_env

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))


def test_the_corpus_is_large_enough() -> None:
    assert len(BROKEN) >= 30


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_file_reports_exactly_its_problems(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    expected = [
        f"{path.name}:{line.removeprefix('# expect: ')}"
        for line in text.splitlines()
        if line.startswith("# expect: ")
    ]
    assert expected, "a corpus file must state at least one expected problem"
    spec, problems = validate_text(text, path.name, fixed_env())
    assert spec is None
    assert sorted(str(p) for p in problems if not p.warning) == sorted(expected)


def test_load_mapping_raises_with_every_problem(tmp_path: Path) -> None:
    source = (Path(__file__).parent / "broken" / "unknown_partner_key.yaml").read_text()
    target = tmp_path / "mapping.yaml"
    target.write_text(source, encoding="utf-8")
    with pytest.raises(MappingInvalid) as caught:
        load_mapping(target, fixed_env())
    assert [p.path for p in caught.value.problems] == [
        "partners.alfa.pipeline",
        "partners.alfa.pipline",
    ]
    assert str(caught.value).startswith(f"{target}:30:3 partners.alfa.pipeline: required key")
