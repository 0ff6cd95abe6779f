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
DATA = REPO / "tests" / "data"  # real recorded data shipped with the repository (licences inside)
HFT_DATA = DATA / "hftbacktest"


@pytest.fixture(scope="session")
def hft_data() -> Path:
    """Directory of the real Binance captures (tests/data/hftbacktest)."""
    if not HFT_DATA.is_dir():
        pytest.fail(f"real data not found at {HFT_DATA}: the repository checkout is incomplete")
    return HFT_DATA
