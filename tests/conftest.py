"""Shared pytest configuration: hypothesis profiles and paths to the real recorded data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from redis_server import RedisServer, redis_server_fixture

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


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, stopped after the test (redis_server.py)."""
    yield from redis_server_fixture(tmp_path)


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[Any]:
    """A redis-py client of ``redis_server`` (decoded responses)."""
    import redis  # the redis extra: only the tests that use a server need it

    c = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield c
    c.close()
