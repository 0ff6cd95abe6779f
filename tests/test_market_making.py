"""The market maker: quote behaviour (GLFT kernel) and a paper run on real Binance captures."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from confluex._core.feed import BinanceParser, SymbolTable
from confluex._core.instrument import Instrument
from confluex._core.mm import GlftConfig, glft_quote
from confluex.cli import main
from confluex.market_making import (
    MarketMaker,
    MMConfig,
    MMReport,
    MMSymbolReport,
    _Symbol,
    replay_mm,
)
from confluex.trading.config import ConfigError, RiskConfig, load_config
from test_cli_errors import assert_one_error_line, run_cli

CFG = GlftConfig(gamma=0.05, order_lots=10, max_inventory_lots=50, alpha_gain=1.0)
BOOK = (1_000_000.5, 1_000_000, 1_000_001)  # mid, best bid, best ask (ticks)


def quote(inventory: int = 0, sigma: float = 40.0, score: float = 50.0, cfg: GlftConfig = CFG):
    return glft_quote(cfg, *BOOK, inventory, sigma, 2.0, 0.1, score)


def test_long_inventory_lowers_both_quotes_and_shrinks_the_bid() -> None:
    flat, long_, short = quote(0), quote(30), quote(-30)
    assert long_.reservation_ticks < flat.reservation_ticks < short.reservation_ticks
    assert long_.bid_ticks < flat.bid_ticks < short.bid_ticks
    assert long_.ask_ticks < flat.ask_ticks < short.ask_ticks
    # size: the side that adds to the inventory shrinks, the side that reduces it stays full
    assert long_.bid_lots < flat.bid_lots == long_.ask_lots == 10
    assert short.ask_lots < flat.ask_lots == short.bid_lots == 10
    assert long_.half_spread_ticks == flat.half_spread_ticks  # skew moves, never widens


def test_inventory_limit_stops_the_side_that_would_exceed_it() -> None:
    at_limit, near = quote(50), quote(45)
    assert at_limit.bid_lots == 0 and at_limit.ask_lots == 10
    assert near.bid_lots == 1  # 10 * (1 - 45/50) lots, and 45 + 1 <= 50
    assert quote(-50).ask_lots == 0


def test_quotes_widen_with_sigma() -> None:
    calm, wild = quote(sigma=10.0), quote(sigma=200.0)
    assert wild.half_spread_ticks > calm.half_spread_ticks
    assert wild.bid_ticks < calm.bid_ticks and wild.ask_ticks > calm.ask_ticks
    # and the inventory skew per order grows with sigma too
    assert wild.skew_ticks > calm.skew_ticks


def test_score_is_the_short_term_alpha_of_the_reservation_price() -> None:
    bull, neutral, bear = quote(score=90.0), quote(score=50.0), quote(score=10.0)
    assert neutral.alpha_ticks == 0.0
    assert bull.reservation_ticks > neutral.reservation_ticks > bear.reservation_ticks
    assert bull.alpha_ticks == pytest.approx(0.8 * 40.0)  # gain 1 * 0.8 * sigma * sqrt(1 s)
    assert math.isnan(quote(score=math.nan).alpha_ticks) is False  # NaN score: no alpha
    assert quote(score=math.nan).reservation_ticks == neutral.reservation_ticks


def test_quotes_never_cross_the_book() -> None:
    # a strong bullish alpha and a short inventory push the bid up: it stops below the ask
    q = glft_quote(CFG, *BOOK, -50, 400.0, 2.0, 0.1, 100.0)
    assert q.bid_ticks <= BOOK[2] - 1 and q.ask_ticks >= BOOK[1] + 1 and q.bid_ticks < q.ask_ticks


# ---------------------------------------------------------------------- a real capture


@pytest.fixture(scope="module")
def spot_run(hft_data: Path) -> tuple[Path, MMReport]:
    path = hft_data / "spot" / "btcusdt_20240808.gz"
    return path, replay_mm([path])


def _trades(path: Path) -> np.ndarray:
    import gzip

    table = SymbolTable()
    table.add("BTCUSDT", 0, Instrument("0.01", "0.00000001"))
    _, trades, _, _ = BinanceParser(table, False).parse_lines(gzip.open(path).read())
    return trades


def test_mm_on_a_real_capture_fills_only_where_real_trades_printed(
    spot_run: tuple[Path, MMReport],
) -> None:
    path, report = spot_run
    [s] = report.symbols
    assert s.symbol == "BTCUSDT" and s.maker_fee == 0.001  # Binance spot VIP 0 maker
    assert len(s.fills) >= 10 and s.orders_placed > len(s.fills)
    trades = _trades(path)
    by_ts: dict[int, list[tuple[float, int]]] = {}
    for t in trades:
        by_ts.setdefault(int(t["ts_ns"]), []).append((int(t["px_ticks"]) * 0.01, int(t["side"])))
    for f in s.fills:
        prints = by_ts[f.ts_ns]  # a fill happens on a trade message, never on the book alone
        if f.side == "buy":  # a sell aggressor (side 1) at or below our bid
            assert any(side == 1 and px <= f.price + 1e-9 for px, side in prints)
        else:
            assert any(side == 0 and px >= f.price - 1e-9 for px, side in prints)
        # a fill at our price (not through it) only after the queue ahead was traded
        assert f.queue_at_entry >= 0


def test_mm_on_a_real_capture_keeps_its_limits_and_its_books(
    spot_run: tuple[Path, MMReport],
) -> None:
    _, report = spot_run
    [s] = report.symbols
    limit = s.max_inventory + 1e-12
    assert -limit <= s.inventory_min <= s.inventory_max <= limit
    assert all(abs(v) <= limit for v in s.series["inventory"])
    assert s.identity_error < 1e-6
    assert s.fees == pytest.approx(sum(f.fee for f in s.fills))
    assert s.fees == pytest.approx(0.001 * s.volume)
    # every fill is a maker fill at our own price against the mid then
    assert s.spread_captured == pytest.approx(sum(f.captured for f in s.fills))
    move_1s, n_1s = s.adverse_ticks(0)
    assert n_1s >= len(s.fills) - 5 and math.isfinite(move_1s)
    assert s.sigma_ticks > 0 and s.intensity_k > 0 and s.intensity_a > 0
    assert 0 < s.quoting_s <= s.duration_s


def test_mm_replay_is_deterministic(spot_run: tuple[Path, MMReport]) -> None:
    path, report = spot_run
    again = replay_mm([path])
    assert [(f.ts_ns, f.side, f.price, f.qty) for f in again.symbols[0].fills] == [
        (f.ts_ns, f.side, f.price, f.qty) for f in report.symbols[0].fills
    ]


def test_worst_case_cancels_fill_no_more_than_pro_rata(spot_run: tuple[Path, MMReport]) -> None:
    path, report = spot_run  # the default: pro_rata
    worst = replay_mm([path], MMConfig(cancels="worst")).symbols[0]
    pro_rata = report.symbols[0]
    # the same quotes wait longer behind a queue that cancels never shorten: fewer fills at
    # our own price (fills through the price do not depend on the queue)
    at_price = [sum(not f.through for f in s.fills) for s in (worst, pro_rata)]
    assert at_price[0] <= at_price[1]
    assert worst.orders_placed > 0 and worst.identity_error < 1e-6


def test_cli_replay_strategy_mm_reports_and_draws(
    hft_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the USD-M pair: the first file holds the REST snapshot the book syncs from
    files = [str(hft_data / "usdm_2024-07" / f"btcusdt_2024071{d}.gz") for d in (8, 9)]
    code = main(["replay", *files, "--strategy", "mm", "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    for heading in ("market making", "pnl ", "fills ", "spread ", "adverse ", "inventory "):
        assert heading in out
    assert "1 s after the fills" in out and "5 s after the fills" in out
    report = json.loads((tmp_path / "mm_report.json").read_text())
    [sym] = report["symbols"]
    assert sym["symbol"] == "BTCUSDT" and sym["market_type"] == "swap"
    assert sym["maker_fee"] == 0.0002 and sym["fills"] > 0
    assert sym["net_pnl"] == pytest.approx(
        sym["realized_pnl"] + sym["unrealized_pnl"] - sym["fees"]
    )
    rows = (tmp_path / "mm_fills.csv").read_text().splitlines()
    assert len(rows) == sym["fills"] + 1
    series = (tmp_path / "mm_series.csv").read_text().splitlines()
    assert series[0] == "time_utc,symbol,mid,bid,ask,inventory,net_pnl,fees"
    assert len(series) > 4000  # 8 min sampled every 100 ms
    assert max(abs(float(r.split(",")[5])) for r in series[1:]) <= 0.02  # the inventory limit
    png = (tmp_path / "mm_chart.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_cli_strategy_mm_refuses_serve(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["replay", "--strategy", "mm", "--serve", "127.0.0.1:0", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--serve" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_mm_config_is_validated_naming_the_value() -> None:
    with pytest.raises(ValueError, match="gamma"):
        MMConfig(gamma=-1.0)
    with pytest.raises(ValueError, match="cancels"):
        MMConfig(cancels="fifo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_inventory_orders"):
        MMConfig(max_inventory_orders=0)
    with pytest.raises(ValueError, match="market_type"):
        MarketMaker(None, market_type="option")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the [mm] section


MM_TOML = """
[mm]
gamma = 0.5
order_notional = 300
max_inventory_orders = 3
requote_ms = 250
latency_ms = 20
cancels = "worst"
vol_half_life_s = 20
vol_sample_ms = 50
intensity_half_life_s = 45
intensity_buckets = 6
bucket_bps = 0.1
min_bucket_count = 3
alpha_gain = 0.25
alpha_horizon_s = 2
max_depth_bps = 4
warmup_s = 5
maker_fee = 0.0001
markouts_s = [2, 10]
sample_ms = 500
"""


def test_every_mm_config_field_is_an_mm_key_of_the_trading_config(tmp_path: Path) -> None:
    path = tmp_path / "mm.toml"
    path.write_text(MM_TOML)

    cfg = load_config(path).mm

    assert cfg == MMConfig(
        gamma=0.5,
        order_notional=300.0,
        max_inventory_orders=3,
        requote_ms=250.0,
        latency_ms=20.0,
        cancels="worst",
        vol_half_life_s=20.0,
        vol_sample_ms=50.0,
        intensity_half_life_s=45.0,
        intensity_buckets=6,
        bucket_bps=0.1,
        min_bucket_count=3.0,
        alpha_gain=0.25,
        alpha_horizon_s=2.0,
        max_depth_bps=4.0,
        warmup_s=5.0,
        maker_fee=0.0001,
        markouts_s=(2.0, 10.0),
        sample_ms=500.0,
    )
    # every field differs from its default, so none of them can be silently ignored
    assert all(getattr(cfg, f.name) != getattr(MMConfig(), f.name) for f in fields(MMConfig))


def test_cli_config_file_values_reach_the_market_maker(hft_data: Path, tmp_path: Path) -> None:
    (tmp_path / "mm.toml").write_text(MM_TOML)
    out = tmp_path / "out"
    capture = str(hft_data / "spot" / "btcusdt_20240808.gz")

    code = main(
        [
            "replay",
            capture,
            "--strategy",
            "mm",
            "--config",
            str(tmp_path / "mm.toml"),
            "--out",
            str(out),
            "--no-progress",
        ]
    )

    assert code == 0
    report = json.loads((out / "mm_report.json").read_text())
    assert report["config"] == {
        **load_config(tmp_path / "mm.toml").as_dict()["mm"],
        "maker_fee": 0.0001,
        "markouts_s": [2.0, 10.0],
    }
    [sym] = report["symbols"]
    # the file's fee replaces the market's, its horizons name the markout columns, its
    # order notional (300 at ~61 k) and inventory limit (3 orders) size the quotes
    assert sym["maker_fee"] == 0.0001 and "markout_10s_ticks" in sym
    assert sym["order_qty"] * sym["last_mid"] == pytest.approx(300, rel=0.02)
    assert sym["max_inventory"] == pytest.approx(3 * sym["order_qty"])
    header = (out / "mm_fills.csv").read_text().splitlines()[0]
    assert header.endswith("mid_after_2s,mid_after_10s")


BAD_MM = {
    "gamma_negative": ("gamma = -1", "mm.gamma", "was -1"),
    "gamma_nan": ("gamma = nan", "mm.gamma", "was nan"),
    "notional_string": ('order_notional = "200"', "mm.order_notional", "was '200'"),
    "inventory_zero": ("max_inventory_orders = 0", "mm.max_inventory_orders", "was 0"),
    "inventory_float": ("max_inventory_orders = 2.5", "mm.max_inventory_orders", "was 2.5"),
    "cancels_unknown": ('cancels = "fifo"', "mm.cancels", "was 'fifo'"),
    "latency_1e30": ("latency_ms = 1e30", "mm.latency_ms", "was 1e+30"),
    "buckets_64": ("intensity_buckets = 64", "mm.intensity_buckets", "was 64"),
    "maker_fee_50pct": ("maker_fee = 0.5", "mm.maker_fee", "was 0.5"),
    "markouts_empty": ("markouts_s = []", "mm.markouts_s", "was ()"),
    "markouts_negative": ("markouts_s = [1, -5]", "mm.markouts_s", "was (1.0, -5.0)"),
    "markouts_scalar": ("markouts_s = 5", "mm.markouts_s", "was 5"),
    "unknown_key": ("gama = 1", "mm.gama", "did you mean 'gamma'"),
}


@pytest.mark.parametrize(("line", "key", "shown"), list(BAD_MM.values()), ids=list(BAD_MM))
def test_cli_bad_mm_value_is_one_error_line_naming_the_key(
    tmp_path: Path, line: str, key: str, shown: str
) -> None:
    (tmp_path / "bad.toml").write_text(f"[mm]\n{line}\n")

    proc = run_cli("replay", "--strategy", "mm", "--config", str(tmp_path / "bad.toml"))

    err = assert_one_error_line(proc, 2, key, shown)
    assert err.startswith("confluex replay: ")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "bad.toml")
    assert info.value.key == key


# ---------------------------------------------------------------------- the [risk] limits


def _comparable(report: MMReport) -> dict[str, object]:
    out = report.to_dict()
    out.pop("risk")
    return out


def test_risk_path_leaves_the_replay_unchanged_when_no_limit_binds(
    spot_run: tuple[Path, MMReport],
) -> None:
    path, plain = spot_run
    # the paper preset's limits: 1 000 per order, 2 000 per symbol, 300 daily loss; the
    # maker's inventory limit (5 orders of ~200) and its loss stay well inside them
    risk = load_config(preset="paper").risk

    checked = replay_mm([path], risk=risk)

    assert plain.risk is None and checked.risk is not None
    assert _comparable(checked) == _comparable(plain)
    [a], [b] = plain.symbols, checked.symbols
    assert a.fills == b.fills and a.series == b.series
    assert b.quotes_refused == {}
    # the fills were booked into the risk manager: its daily PnL is the report's
    assert checked.risk["daily_pnl"] == pytest.approx(b.realized_pnl - b.fees, abs=1e-9)


def test_tight_symbol_notional_limit_caps_the_inventory(spot_run: tuple[Path, MMReport]) -> None:
    path, plain = spot_run
    limit = 450.0  # a bit more than two ~200 orders

    capped = replay_mm([path], risk=RiskConfig(max_symbol_notional=limit))

    [free], [s] = plain.symbols, capped.symbols
    top_px = max(f.price for f in free.fills)
    # unlimited, the inventory goes past the limit; capped, never (valued at the fills)
    assert max(-free.inventory_min, free.inventory_max) * top_px > limit * 1.2
    peak = max(-s.inventory_min, s.inventory_max)
    assert peak * max(f.price for f in s.fills) <= limit
    assert all(abs(v) * max(f.price for f in s.fills) <= limit for v in s.series["inventory"])
    assert s.max_inventory == free.max_inventory  # the [mm] limit alone did not change
    # refusals are counted and reported, by reason
    [(reason, n)] = s.quotes_refused.items()
    assert "max_symbol_notional" in reason and n > 100
    assert s.to_dict()["quotes_refused_total"] == n
    assert "quote placements refused" in capped.format()
    assert s.identity_error < 1e-6
    assert capped.risk is not None
    assert capped.risk["daily_pnl"] == pytest.approx(s.realized_pnl - s.fees, abs=1e-9)


@pytest.mark.parametrize(
    ("risk", "reason"),
    [
        (RiskConfig(kill_switch=True), "trading halted"),
        (RiskConfig(max_order_notional=100.0), "exceeds max_order_notional"),
        (RiskConfig(daily_loss_limit=5.0), "daily loss limit reached"),
        (RiskConfig(max_orders_per_window=50, order_window_s=10.0), "max_orders_per_window"),
    ],
    ids=("kill_switch", "order_notional", "daily_loss", "order_rate"),
)
def test_each_risk_limit_refuses_quotes_and_counts_them(
    spot_run: tuple[Path, MMReport], risk: RiskConfig, reason: str
) -> None:
    path, plain = spot_run

    report = replay_mm([path], risk=risk)

    [s], [free] = report.symbols, plain.symbols
    assert any(reason in k for k in s.quotes_refused), s.quotes_refused
    assert len(s.fills) < len(free.fills)
    assert report.risk is not None
    assert report.risk["daily_pnl"] == pytest.approx(s.realized_pnl - s.fees, abs=1e-9)
    if risk.kill_switch or risk.max_order_notional:  # nothing may open: no quote from flat
        assert s.orders_placed == 0 and s.fills == []
    elif risk.daily_loss_limit:  # quoting stopped adding risk once the loss was reached
        assert report.risk["daily_pnl"] <= -risk.daily_loss_limit
        assert s.orders_placed < free.orders_placed
    else:  # 50 orders per 10 s; only quotes that reduce the inventory may go past it
        windows = s.duration_s / risk.order_window_s + 1
        assert free.orders_placed > 2 * 50 * windows
        assert s.orders_placed <= 50 * windows


# ---------------------------------------------------------------------- two symbols, one account


def _two_symbol_replay(hft_data: Path, risk: RiskConfig | None) -> tuple[MMReport, dict[str, int]]:
    """One market maker quoting the spot capture and the USD-M capture at the same time.

    Both are real recordings, but three weeks apart: their messages are interleaved by the time
    to each one's last message (the recordings end together; each message keeps its recorded
    timestamp), so the two symbols quote side by side as one account would. Returns the
    report and each venue's last timestamp, the origin of that common time.
    """
    import gzip
    import heapq

    from confluex._core.session import FeedSession, Venue
    from confluex.engine import NO_SYMBOL, Engine
    from confluex.feeds.files import KNOWN_INSTRUMENTS

    feeds = [
        ("binance_spot", Venue.binance_spot, [hft_data / "spot" / "btcusdt_20240808.gz"]),
        (
            "binance_futures",
            Venue.binance_futures,
            [hft_data / "usdm_2024-07" / f"btcusdt_2024071{d}.gz" for d in (8, 9)],
        ),
    ]
    engine = Engine()
    mm = MarketMaker(engine, risk=risk)
    streams, ends = [], {}
    for venue, session_venue, files in feeds:
        session = FeedSession(engine, session_venue)
        session.add_symbol(
            "BTCUSDT",
            engine.add_symbol(
                f"{venue}:BTCUSDT", Instrument(*KNOWN_INSTRUMENTS[(venue, "BTCUSDT")])
            ),
        )
        lines = [ln for f in files for ln in gzip.open(f).read().splitlines() if ln]
        messages = [(int(ts), msg) for ts, _, msg in (ln.partition(b" ") for ln in lines)]
        end = ends[venue] = messages[-1][0]  # the two recordings end together
        streams.append([(ts - end, ts, msg, session) for ts, msg in messages])
    for _, ts, msg, session in heapq.merge(*streams, key=lambda m: m[0]):
        result = session.on_message(msg, ts)
        if result.ok and result.symbol_id != NO_SYMBOL:
            mm.on_raw(session, result, msg, ts)
    return mm.finish(), ends


def _most_open_positions(report: MMReport, ends: dict[str, int]) -> int:
    """The most symbols holding a non-zero position at once, from the fills (in replay order)."""
    events = []
    for i, s in enumerate(report.symbols):
        end = ends[s.venue]
        position = 0.0
        for k, f in enumerate(s.fills):
            position += f.sign * f.qty
            # the lot steps are 1e-8 (spot) and 1e-3 (USD-M): less than 1e-10 is flat
            events.append((f.ts_ns - end, i, k, abs(position) > 1e-10))
    held = [False] * len(ends)
    most = 0
    for _, i, _, open_ in sorted(events):
        held[i] = open_
        most = max(most, sum(held))
    return most


def _fill_keys(s: MMSymbolReport) -> list[tuple[int, str, float, float]]:
    return [(f.ts_ns, f.side, f.price, f.qty) for f in s.fills]  # mids_after may hold NaN


@pytest.fixture(scope="module")
def two_symbol_runs(hft_data: Path) -> dict[str, tuple[MMReport, dict[str, int]]]:
    return {
        "free": _two_symbol_replay(hft_data, None),
        "one_position": _two_symbol_replay(hft_data, RiskConfig(max_active_positions=1)),
        "two_positions": _two_symbol_replay(hft_data, RiskConfig(max_active_positions=2)),
        "gross_600": _two_symbol_replay(hft_data, RiskConfig(max_total_notional=600.0)),
    }


def test_max_active_positions_counts_the_quotes_of_flat_symbols(
    two_symbol_runs: dict[str, tuple[MMReport, dict[str, int]]],
) -> None:
    free, ends = two_symbol_runs["free"]
    capped, _ = two_symbol_runs["one_position"]
    # unlimited, both symbols hold an inventory at the same time
    assert [len(s.fills) > 0 for s in free.symbols] == [True, True]
    assert _most_open_positions(free, ends) == 2
    # with max_active_positions = 1, a symbol's live quotes count as its position could: a
    # flat symbol quoting takes the one slot, so the other's quotes were never placed beside
    # them and the two inventories never coexist (before the fix, quotes on both flat symbols
    # passed and filled together)
    assert _most_open_positions(capped, ends) == 1
    # first come keeps the slot: the USD-M recording starts 134 s before the spot one, so the
    # USD-M symbol quotes first and runs exactly as unlimited (its kept quotes pass their
    # re-checks); it never goes flat with no order live, so the spot symbol never quotes
    by_venue = {s.venue: s for s in capped.symbols}
    first, second = by_venue["binance_futures"], by_venue["binance_spot"]
    free_first = next(s for s in free.symbols if s.venue == "binance_futures")
    assert _fill_keys(first) == _fill_keys(free_first) and first.quotes_refused == {}
    assert second.orders_placed == 0 and second.fills == []
    assert second.quoting_s == 0.0


def test_refusals_for_the_other_symbols_quotes_are_counted_as_max_active_positions(
    two_symbol_runs: dict[str, tuple[MMReport, dict[str, int]]],
) -> None:
    capped, _ = two_symbol_runs["one_position"]
    [refused] = [s for s in capped.symbols if s.quotes_refused]
    assert refused.venue == "binance_spot"  # the symbol that came second
    [(reason, n)] = refused.quotes_refused.items()
    assert reason == "# active positions, max_active_positions is #"
    assert n > 1000  # every quote decision of the spot symbol, both sides
    assert refused.to_dict()["quotes_refused_total"] == n
    assert f"{n:,} quote placements refused" in capped.format()


def test_max_active_positions_that_does_not_bind_changes_no_symbol(
    two_symbol_runs: dict[str, tuple[MMReport, dict[str, int]]],
) -> None:
    # two slots for two symbols: every quote's worst case fits, nothing is refused
    free, _ = two_symbol_runs["free"]
    roomy, _ = two_symbol_runs["two_positions"]
    assert _comparable(roomy) == _comparable(free)
    for a, b in zip(free.symbols, roomy.symbols, strict=True):
        assert _fill_keys(a) == _fill_keys(b) and b.quotes_refused == {} and len(b.fills) > 0


def _peak_gross(report: MMReport, ends: dict[str, int]) -> float:
    """The largest sum over symbols of |inventory|, each valued at its symbol's highest fill
    price (at least its notional at any fill price), from the fills in replay order."""
    top = [max((f.price for f in s.fills), default=0.0) for s in report.symbols]
    events = sorted(
        (f.ts_ns - ends[s.venue], i, k, f.sign * f.qty)
        for i, s in enumerate(report.symbols)
        for k, f in enumerate(s.fills)
    )
    inventory = [0.0] * len(report.symbols)
    peak = 0.0
    for _, i, _, signed in events:
        inventory[i] += signed
        peak = max(peak, sum(abs(q) * px for q, px in zip(inventory, top, strict=True)))
    return peak


def test_max_total_notional_caps_the_two_symbols_inventories_together(
    two_symbol_runs: dict[str, tuple[MMReport, dict[str, int]]],
) -> None:
    free, ends = two_symbol_runs["free"]
    capped, _ = two_symbol_runs["gross_600"]
    # unlimited, the two inventories together reach about twice the cap; capped, never past
    # it, while each symbol still quotes and fills (the cap shares room, it is not a slot)
    assert _peak_gross(free, ends) > 1.5 * 600.0
    assert _peak_gross(capped, ends) <= 600.0
    for s in capped.symbols:
        assert len(s.fills) > 50
        [(reason, n)] = s.quotes_refused.items()
        assert reason == "total notional # would exceed max_total_notional #" and n > 100


def _two_symbol_mm(risk: RiskConfig) -> tuple[MarketMaker, _Symbol, _Symbol]:
    """A market maker under ``risk`` with two USD-M symbols (BTCUSDT, ETHUSDT; tick 0.1, lot
    0.001) and nothing live: for account states set by hand (synthetic: no market data)."""
    from confluex.engine import Engine

    engine = Engine()
    mm = MarketMaker(engine, risk=risk)
    a, b = (
        _Symbol(
            mm,
            engine.add_symbol(f"binance_futures:{n}", Instrument("0.1", "0.001")),
            "binance_futures",
            n,
            engine,
        )
        for n in ("BTCUSDT", "ETHUSDT")
    )
    mm._symbols = {a.sym: a, b.sym: b}
    return mm, a, b


def test_worst_case_rule_step_by_step_on_two_symbols() -> None:
    """The rule on account states set by hand (synthetic: no market data, no fills)."""
    mm, a, b = _two_symbol_mm(RiskConfig(max_active_positions=1))
    px = 600_000  # 60,000.0 (tick 0.1); 3 lots are 0.003, 180 at that price
    assert mm._worst_exposure(a) == 0.0
    assert not mm._refused(a, "buy", px, 3, 0)  # nothing live anywhere: a's bid passes
    bid = a.queue.place("buy", px, 3, 0)
    assert mm._worst_exposure(a) == pytest.approx(180.0)
    # a is flat but its bid can fill: a holds the one slot, b's quotes are refused...
    assert mm._refused(b, "buy", px, 3, 0) and mm._refused(b, "sell", px, 3, 0)
    # ...and a's own other side and its kept bid pass (the slot is a's)
    assert not mm._refused(a, "sell", px, 3, 0)
    assert not mm._refused(a, "buy", px, 3, 0, sending=False)
    # a canceled bid can still fill until its cancel takes effect, then the slot is free
    a.queue.cancel(bid.order_id, 0)
    assert mm._refused(b, "buy", px, 3, 0)
    a.queue.advance(a.queue.latency_ns, lambda side, p: 0.0)
    assert a.queue.orders == [] and mm._worst_exposure(a) == 0.0
    assert not mm._refused(b, "buy", px, 3, 0)
    assert b.refused == {"# active positions, max_active_positions is #": 3}
    assert a.refused == {}
    # the worst case per side: an adding side is the position at entry plus the quotes at
    # their prices; a side that closes the position first counts what it would open, at its
    # price; a side that cannot pass flat counts nothing (the position is then the worst)
    a.position, a.avg_px = 2, 59_000.0  # 0.002 long: 118 at entry
    a.queue.place("buy", px, 3, 0)
    assert mm._worst_exposure(a) == pytest.approx(118.0 + 180.0)
    a.queue.cancel(a.queue.orders[0].order_id, 0)
    a.queue.advance(10 * a.queue.latency_ns, lambda side, p: 0.0)
    a.queue.place("sell", 610_000, 3, 0)  # fills to 0.001 short: 61 < 118
    assert mm._worst_exposure(a) == pytest.approx(118.0)
    a.queue.place("sell", 610_000, 5, 0)  # 8 lots: 0.006 short at 61,000 is 366
    assert mm._worst_exposure(a) == pytest.approx(366.0)
    # an open position holds the slot as live quotes do; its exits pass, a's quotes do not
    for order in a.queue.orders:
        a.queue.cancel(order.order_id, 0)
    a.queue.advance(10 * a.queue.latency_ns, lambda side, p: 0.0)
    a.position, a.avg_px = 0, 0.0
    b.position, b.avg_px = -3, 60_000.0
    assert mm._refused(a, "buy", px, 3, 0) and mm._refused(a, "sell", px, 3, 0)
    assert not mm._refused(b, "buy", px, 3, 0)  # back to flat: an exit
    assert not mm._refused(b, "sell", px, 3, 0)  # adds to b's own inventory: b's slot
    assert a.refused == {"# active positions, max_active_positions is #": 2}


def test_max_total_notional_counts_every_symbols_worst_case() -> None:
    """The gross cap on account states set by hand (synthetic: no market data, no fills)."""
    # no per-symbol or count limit binds: only the sum over symbols can refuse
    mm, a, b = _two_symbol_mm(RiskConfig(max_total_notional=400.0))
    px = 600_000  # 60,000.0 (tick 0.1); 3 lots are 0.003, 180 at that price
    a.queue.place("buy", px, 3, 0)  # a is flat, its bid's worst case is 180
    # b's first bid: 180 + 180 = 360 <= 400 passes; a second one on b (b's side then holds
    # 6 lots, 360, and a's bid 180: 540) is refused, though b alone is far from any cap
    assert not mm._refused(b, "buy", px, 3, 0)
    b.queue.place("buy", px, 3, 0)
    assert mm._refused(b, "buy", px, 3, 3)
    # a's ask passing flat counts what it would open, beside b's worst case: 180 + 180
    assert not mm._refused(a, "sell", px, 3, 0)
    # an open inventory counts at average entry, as the Executor counts positions: a long
    # 0.005 at 59,000 (295) with its bid (180 more) leaves no room for b's bid (180)
    a.position, a.avg_px = 5, 59_000.0
    assert mm._worst_exposure(a) == pytest.approx(295.0 + 180.0)
    assert mm._refused(b, "buy", px, 3, 3)
    assert mm._refused(b, "sell", px, 3, 0)  # from flat b's ask opens a short: 475 + 180
    b.position, b.avg_px = 3, 60_000.0  # once b is long, that ask only reduces: it passes
    assert not mm._refused(b, "sell", px, 3, 0)
    assert b.refused == {"total notional # would exceed max_total_notional #": 3}
    assert a.refused == {}
