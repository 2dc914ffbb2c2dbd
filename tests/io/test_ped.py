"""genoma.io.ped: PED pedigrees."""

from __future__ import annotations

import pytest

from genoma.errors import InputMissingError, MalformedInputError
from genoma.io.ped import read_ped
from genoma.model.subject import PedigreeMember

TRIO = """# family trio
F1 kid dad mom 2 2
F1\tdad\t0\t0\t1\t1

F1 mom 0 0 2 -9
F2 solo 0 0 0 0
"""


def test_trio(tmp_path):
    p = tmp_path / "t.ped"
    p.write_text(TRIO)
    members = read_ped(p)
    assert members == (
        PedigreeMember(family_id="F1", individual_id="kid", paternal_id="dad",
                       maternal_id="mom", sex="FEMALE", affected=True),
        PedigreeMember(family_id="F1", individual_id="dad", sex="MALE", affected=False),
        PedigreeMember(family_id="F1", individual_id="mom", sex="FEMALE", affected=None),
        PedigreeMember(family_id="F2", individual_id="solo", sex="UNKNOWN_SEX",
                       affected=None),
    )


@pytest.mark.parametrize("text,line,problem", [
    ("F1 a 0 0 1\n", 1, "expected 6 columns"),
    ("# c\nF1 a 0 0 1 2 AA\n", 2, "found 7"),
    ("F1 a 0 0 3 2\n", 1, "sex code '3'"),
    ("F1 a 0 0 1 5\n", 1, "phenotype '5'"),
    ("F1 a 0 0 1 2\nF1 a 0 0 1 2\n", 2, "already defined on line 1"),
    ("F1 a a 0 1 2\n", 1, "its own parent"),
    ("F1 a 0 0 1 2\nF1 b a a 1 2\n", 2, "same person"),
    ("F1 kid dad 0 1 2\n", 1, "father 'dad'"),
    ("F1 kid dad 0 1 2\nF2 dad 0 0 1 1\n", 1, "not in family 'F1'"),
    ("F1 kid dad 0 1 2\nF1 dad 0 0 2 1\n", 1, "recorded as female"),
    ("F1 kid 0 mom 1 2\nF1 mom 0 0 1 1\n", 1, "recorded as male"),
    ("F1 0 0 0 1 2\n", 1, "reserved"),
    ("# only comments\n\n", None, "no person"),
])
def test_errors_name_the_line(tmp_path, text, line, problem):
    p = tmp_path / "bad.ped"
    p.write_text(text)
    with pytest.raises(MalformedInputError) as ei:
        read_ped(p)
    assert ei.value.line == line and problem in ei.value.problem
    assert ei.value.path == str(p) and ei.value.exit_code == 4


def test_missing(tmp_path):
    with pytest.raises(InputMissingError):
        read_ped(tmp_path / "nope.ped")
    with pytest.raises(InputMissingError):
        read_ped(tmp_path)
