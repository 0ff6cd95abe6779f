"""``confluex replay --hft`` on the real Binance captures: the printed composite, the
scores.csv columns, the streaming policy during the replay, the hft_ultra_fast profile and
the ``hft_scores`` WebSocket channel (a real websockets client on loopback)."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from confluex import hft
from confluex.cli import main
from confluex.engine import engine_from_config
from confluex.feeds.files import replay
from confluex.hft.replay_hook import HFT_CSV_COLUMNS, HFTReplayScorer, format_hft
from confluex.trading import load_config
from serve_client import serve_replay

DATA = Path(__file__).resolve().parent / "data" / "hftbacktest"
SPOT = DATA / "spot" / "btcusdt_20240808.gz"
USDM = DATA / "usdm_2024-07" / "btcusdt_20240718.gz"
FIELDS = (
    "directional_bias",
    "execution_urgency",
    "risk_adjusted_opportunity",
    "inventory_impact",
)


class Recording(HFTReplayScorer):
    """The hook, recording every message's (symbol, kind, time) and every recalculation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[int, str, int]] = []
        self.recalculated: set[int] = set()  # indices in ``seen`` of the messages that did
        self._current: int | None = None
        self.ranking_before_perp: dict[str, Any] | None = None  # at the USD-M file's start

    def on_parsed(self, session: object, result: Any, ts_ns: int) -> None:
        if result.symbol_id == 1 and self.ranking_before_perp is None:
            self.ranking_before_perp = self.portfolio({})
        self.seen.append((result.symbol_id, result.kind.name, ts_ns))
        self._current = len(self.seen) - 1
        super().on_parsed(session, result, ts_ns)
        self._current = None

    def recalculate(self, sym: int, ts_ns: int) -> Any:
        if self._current is not None:
            self.recalculated.add(self._current)
        return super().recalculate(sym, ts_ns)


@pytest.fixture(scope="module")
def two_symbols() -> tuple[Recording, Any]:
    """The library path of ``--hft`` over spot + USD-M (two venues, two symbols), with the
    CLI's default config."""
    engine = engine_from_config(load_config())
    scorer = Recording(engine)
    res = replay([SPOT, USDM], engine=engine, on_parsed=scorer.on_parsed)
    return scorer, res


def _printed(out: str, label: str) -> dict[str, float]:
    """The four composite values printed for one symbol."""
    block = out.split(f"\n{label}  [recalculated/seen:", 1)[1]
    values = {}
    for field, key in zip(
        FIELDS,
        ("directional bias", "execution urgency", "risk-adjusted opportunity", "inventory impact"),
        strict=True,
    ):
        m = re.search(rf"^  {key}\s+([-+]?\d+\.\d+)", block, re.MULTILINE)
        assert m, block[:800]
        values[field] = float(m.group(1))
    return values


def test_final_composite_equals_a_direct_computation_from_the_engine_state(
    two_symbols: tuple[Recording, Any],
) -> None:
    scorer, res = two_symbols
    finals = scorer.finish()
    assert set(finals) == {r.symbol_id for r in res.symbols.values()} and len(finals) == 2
    direct_scorer = hft.HFTScoringEngine()
    for sym, score in finals.items():
        vol = scorer.volatility(sym)
        assert vol > 0  # std of 1 s mid returns over minutes of real data
        inputs = hft.inputs_from_engine(res.engine, sym, volatility=vol)
        direct = direct_scorer.calculate_composite_score(inputs)
        for f in FIELDS:
            assert getattr(score, f) == getattr(direct, f), f
        assert hft.HFTScoringEngine.breakdown(score) == hft.HFTScoringEngine.breakdown(direct)
        assert abs(score.directional_bias) > 0  # a real replay leans one way or the other


def test_streaming_policy_runs_during_the_replay(two_symbols: tuple[Recording, Any]) -> None:
    scorer, res = two_symbols
    # Which messages recalculated, against a plain reading of the policy: book messages
    # always; trades and bookTickers when 100 ms of data time passed since the symbol's last
    # recalculation (whatever triggered it).
    last: dict[int, int] = {}
    expected = set()
    for i, (sym, kind, ts) in enumerate(scorer.seen):
        if kind in ("Depth", "Snapshot") or (
            kind in ("Trade", "BookTicker") and ts - last.get(sym, -(1 << 62)) >= 100_000_000
        ):
            expected.add(i)
            last[sym] = ts
    assert scorer.recalculated == expected
    kinds = {k for _, k, _ in scorer.seen}
    assert {"Depth", "Trade", "BookTicker"} <= kinds
    for rep in res.symbols.values():
        c = scorer.counters(rep.symbol_id)
        h = rep.health
        assert h is not None
        assert c["orderbook"][0] == c["orderbook"][1] >= h.depth_messages
        assert c["trade"][0] == h.trade_messages and c["quote"][0] == h.ticker_messages
        assert c["trade"][1] + c["quote"][1] < (c["trade"][0] + c["quote"][0]) / 10
    series = scorer.series()
    assert len(series) > 1000
    for sym in (0, 1):
        ts = series["ts_ns"][series["symbol_id"] == sym]
        # one point per symbol per 100 ms interval: the last composite of the interval
        buckets = ts // 100_000_000
        assert len(buckets) == len(set(buckets.tolist())) > 100


def test_cli_replay_hft_prints_the_composite_and_a_portfolio_ranking(
    two_symbols: tuple[Recording, Any],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    scorer, res = two_symbols
    finals = scorer.finish()
    code = main(["replay", "--no-progress", "--hft", "--out", str(tmp_path), str(SPOT), str(USDM)])
    out = capsys.readouterr().out
    assert code == 0
    # The printed section is that of the library run: same data, same composites.
    assert format_hft(scorer, finals, res.names) in out
    for sym in finals:
        printed = _printed(out, res.names[sym])
        direct = hft.HFTScoringEngine().calculate_composite_score(
            hft.inputs_from_engine(res.engine, sym, volatility=scorer.volatility(sym))
        )
        for f in FIELDS:
            assert printed[f] == pytest.approx(getattr(direct, f), abs=5e-5), f
    ranking = out.split("HFT portfolio ranking", 1)[1].splitlines()[1:3]
    assert sorted(line.split()[0] for line in ranking) == ["BTCUSDT", "BTCUSDT-PERP"]
    assert [int(line.split()[1]) for line in ranking] == [1, 2]
    expected = scorer.portfolio(res.names)
    assert [line.split()[0] for line in ranking] == list(expected)
    # the ranking is live: re-ranked on every recalculation, here of the spot symbol only
    # while the spot file replayed; at the end that of the final composites
    assert scorer.ranking_before_perp is not None
    assert list(scorer.ranking_before_perp) == ["binance_spot:BTCUSDT"]
    fresh = hft.PortfolioHFTScoring(list(expected))
    for sym, score in finals.items():
        inputs = hft.inputs_from_engine(res.engine, sym)
        liquidity = min(inputs.bid_depth, inputs.ask_depth)
        fresh.update(res.names[sym], score.confluence, scorer.volatility(sym), liquidity)
    assert fresh.score_portfolio_opportunities() == expected

    # scores.csv gains the composite columns: each row holds its symbol's last composite
    with (tmp_path / "scores.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and set(HFT_CSV_COLUMNS) <= set(rows[0])
    series = scorer.series()
    for name, sym in ((n, s) for s, n in res.names.items()):
        mine = [r for r in rows if r["symbol"] == name]
        filled = [r for r in mine if r["hft_directional_bias"]]
        assert len(filled) > 0.9 * len(mine)
        pts = series[series["symbol_id"] == sym]
        for r in filled[:: max(1, len(filled) // 50)]:
            last = pts[pts["ts_ns"] <= int(r["ts_ns"])][-1]
            for f in FIELDS:
                assert float(r[f"hft_{f}"]) == pytest.approx(float(last[f]), abs=1e-6)
            assert r["hft_flags"] == "|".join(hft.flag_names(int(last["flags"])))


def test_cli_replay_without_hft_keeps_scores_csv_and_summary_as_they_were(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["replay", "--no-progress", "--out", str(tmp_path), str(USDM)]) == 0
    assert "HFT composite" not in capsys.readouterr().out
    with (tmp_path / "scores.csv").open() as fh:
        header = next(csv.reader(fh))
    assert not set(HFT_CSV_COLUMNS) & set(header)


def test_hft_ultra_fast_runs_through_the_replay(capsys: pytest.CaptureFixture[str]) -> None:
    engine = engine_from_config(load_config())
    scorer = HFTReplayScorer(engine, profile="hft_ultra_fast")
    res = replay([USDM], engine=engine, on_parsed=scorer.on_parsed)
    weights = res.engine.result(0).weights
    # The profile's .60/.35/.05, each scaled by its component's warm-up (the default engine's
    # graded rule lets the 300 s volume window enter as it fills).
    warm = {
        c: w * res.engine.component(0, c).warmup
        for c, w in {"orderbook": 0.60, "orderflow": 0.35, "volume": 0.05}.items()
    }
    assert weights["orderbook"] == pytest.approx(warm["orderbook"] / sum(warm.values()))
    assert weights["orderflow"] == pytest.approx(warm["orderflow"] / sum(warm.values()))
    assert scorer.streaming.min_trade_interval_ns == 100_000_000
    finals = scorer.finish()
    direct = hft.HFTScoringEngine().calculate_composite_score(
        hft.inputs_from_engine(res.engine, 0, volatility=scorer.volatility(0))
    )
    assert finals[0].directional_bias == direct.directional_bias

    assert main(["replay", "--no-progress", "--hft-profile", "hft_ultra_fast", str(USDM)]) == 0
    out = capsys.readouterr().out
    assert "HFT composite (profile hft_ultra_fast" in out
    assert format_hft(scorer, finals, res.names) in out


def test_unknown_hft_profile_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"HFT profile must be one of .* was 'fastest'"):
        HFTReplayScorer(engine_from_config(load_config()), profile="fastest")


def test_hft_scores_channel_over_websocket_with_a_symbol_filter() -> None:
    params = {"symbols": ["BTC/USDT:USDT"]}
    served = serve_replay(["--hft", str(SPOT), str(USDM)], ["hft_scores"], params)
    messages = served.messages

    assert served.returncode == 0, served.stderr
    assert "hft_scores" in served.hello["channels"]
    out = served.stdout
    assert "\nBTCUSDT  [recalculated" in out  # the spot symbol was scored too ...
    data = [msg for msg in messages if msg.get("channel") == "hft_scores"]
    assert len(data) > 100
    assert {msg["symbol"] for msg in data} == {"BTC/USDT:USDT"}  # ... but filtered out
    assert all(msg["event"] == "update" for msg in data)
    last = data[-1]["data"]
    assert set(last) >= {*FIELDS, "confluence", "flags", "ts_ns", "profile", "volatility"}
    assert [d["data"]["ts_ns"] for d in data] == sorted(d["data"]["ts_ns"] for d in data)
    # the last message is the final composite the summary prints
    printed = _printed(out, "BTCUSDT-PERP")
    for f in FIELDS:
        assert last[f]["value"] == pytest.approx(printed[f], abs=5e-5)


def test_inventory_is_the_paper_venues_position() -> None:
    """With --paper the composite's inventory is the paper venue's open position."""
    import argparse

    from confluex.cli import _hft_scorer
    from confluex.replay_trader import PaperTrader
    from test_replay_trader import ACTIVE

    config = load_config({**ACTIVE, "risk": {"max_symbol_notional": 50_000.0}})
    engine = engine_from_config(config)
    trader = PaperTrader(engine, config)
    args = argparse.Namespace(hft_profile=None, series_ms=100.0)
    scorer = _hft_scorer(args, engine, trader, config)
    held: list[tuple[float, float]] = []  # (signed position, inventory impact) when holding

    def on_parsed(session: object, result: Any, ts_ns: int) -> None:
        scorer.on_parsed(session, result, ts_ns)
        pos = (trader.executor.positions if trader.executor else {}).get("BTC/USDT:USDT")
        score = scorer.score(0)
        if pos is not None and score is not None and scorer.messages % 50 == 0:
            amount = pos.amount if pos.direction == "long" else -pos.amount
            held.append((amount, score.inventory_impact))

    try:
        replay([USDM], engine=engine, on_message=trader.on_message, on_parsed=on_parsed)
        assert trader.finish().fills
    finally:
        trader.close()
    assert held
    mid = 64_000.0  # BTCUSDT on 2024-07-18: the limit is 50 000 USDT / mid in BTC
    for amount, impact in held:
        assert impact == pytest.approx(-amount * mid / 50_000.0, rel=0.05, abs=1e-3)
    assert any(abs(impact) > 0.01 for _, impact in held)


def test_batch_ingested_symbols_are_scored_at_the_end_and_bybit_during_the_replay(
    capsys: pytest.CaptureFixture[str],
) -> None:
    nautilus = DATA.parent / "nautilus_trader"
    tardis = nautilus / "tardis" / "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    bybit = nautilus / "bybit" / "xrpusdt-ob500.data.zip"
    assert main(["replay", "--no-progress", "--hft", str(tardis), str(bybit)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\nBTC-PERPETUAL  \[recalculated/seen: [^\n]*batch-ingested", out)
    m = re.search(r"\nXRPUSDT  \[recalculated/seen: [^\n]*orderbook (\d+)/(\d+)", out)
    assert m and int(m.group(1)) == int(m.group(2)) > 0
    assert "HFT portfolio ranking" in out


@pytest.mark.parametrize(
    ("hft_profile", "profile", "expected"),
    [
        (None, None, "default"),
        (None, "hft_ultra_fast", "hft_ultra_fast"),  # --hft --profile hft_ultra_fast
        (None, "conservative", "default"),  # an engine-only profile
        ("default", "hft_ultra_fast", "default"),  # --hft-profile wins
    ],
)
def test_the_hft_profile_follows_the_engine_profile_name(
    hft_profile: str | None, profile: str | None, expected: str
) -> None:
    import argparse

    from confluex.cli import _hft_scorer

    config = load_config()
    args = argparse.Namespace(hft_profile=hft_profile, profile=profile, series_ms=100.0)
    assert _hft_scorer(args, engine_from_config(config), None, config).profile == expected
