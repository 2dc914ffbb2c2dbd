"""English ordinals used in percentile wording."""

from __future__ import annotations

import pytest

from genoma.model.findings import ordinal


@pytest.mark.parametrize(
    ("n", "text"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"),
     (21, "21st"), (82, "82nd"), (99, "99th"), (111, "111th"), (0, "0th"), (49.6, "50th")],
)
def test_ordinal(n: float, text: str) -> None:
    assert ordinal(n) == text
