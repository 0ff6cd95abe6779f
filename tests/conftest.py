"""Shared pytest configuration: hypothesis profiles and paths to the real recorded data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CONFLUEX_SHARED", REPO.parent / "shared"))
HFT_DATA = SHARED / "data" / "hftbacktest"


@pytest.fixture(scope="session")
def hft_data() -> Path:
    """Directory of the real Binance captures (shared/data/hftbacktest)."""
    if not HFT_DATA.is_dir():
        pytest.fail(f"real data not found at {HFT_DATA}; set CONFLUEX_SHARED")
    return HFT_DATA
