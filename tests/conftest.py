"""Shared fixtures: the real data folder, isolated GENOMA_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No timing limits in tests (a loaded CI machine must not fail a correct test), and a
# fixed example sequence under CI so that a red run can be reproduced.
settings.register_profile(
    "genoma",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=os.environ.get("CI", "").lower() == "true",
)
settings.load_profile("genoma")

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$GENOMA_SHARED/data`` or ``../shared/data`` beside the checkout."""
    base = os.environ.get("GENOMA_SHARED")
    return (Path(base) if base else REPO.parent / "shared") / "data"


def require_shared(*parts: str) -> Path:
    """Path under the shared data folder; skip (or fail under CI=true) when absent."""
    p = shared_data_dir().joinpath(*parts)
    if not p.exists():
        msg = f"real data not found: {p} (set GENOMA_SHARED to the folder holding data/)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " — required in CI")
        pytest.skip(msg)
    return p


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder (skips, or fails in CI, when it is absent)."""
    return require_shared()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """GENOMA_HOME is a per-session temporary folder (shared by the tests of one session, so
    derived caches such as the HPO index are built once), or GENOMA_TEST_HOME if set.
    Tests that install knowledge point GENOMA_HOME at their own tmp_path."""
    if "GENOMA_TEST_HOME" in os.environ:
        monkeypatch.setenv("GENOMA_HOME", os.environ["GENOMA_TEST_HOME"])
    else:
        monkeypatch.setenv("GENOMA_HOME", str(tmp_path_factory.getbasetemp() / "genoma-home"))
    from genoma.kb import base

    base.reset_cache()
    yield
    base.reset_cache()
