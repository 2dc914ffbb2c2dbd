"""Regression: undefined enum numbers (found by fuzzing) are malformed input, not crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genoma.errors import MalformedInputError
from genoma.io.phenopacket import read_phenopacket


@pytest.mark.parametrize("field", ["karyotypicSex", "sex"])
def test_undefined_enum_number_is_malformed(tmp_path: Path, field: str) -> None:
    doc = {"id": "x", "subject": {"id": "P1", field: -1},
           "metaData": {"created": "2024-01-01T00:00:00Z", "createdBy": "t",
                        "phenopacketSchemaVersion": "2.0"}}
    p = tmp_path / "p.json"
    p.write_text(json.dumps(doc, indent=1))
    with pytest.raises(MalformedInputError) as ei:
        read_phenopacket(p)
    assert "p.json" in str(ei.value)
