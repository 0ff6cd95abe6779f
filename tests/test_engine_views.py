"""The six views in the engine: bars from trades, the bar-based components, profiles, the CLI.

Data used here:

- the real Binance USD-M capture ``usdm_2024-07/btcusdt_20240718.gz`` (BTCUSDT, 2024-07-18
  23:57-00:00 UTC, about 3 minutes);
- warm-up bars and funding that are REAL but of another symbol and date, with their
  timestamps SHIFTED so that they end just before the capture: freqtrade's Binance USD-M
  XRP/USDT 5-minute bars of 2021-11 and XRP/USDT 8-hourly funding rates of 2021-11/12
  (tests/data/freqtrade). Written to tmp files named ``*_SHIFTED_*``. They are consistent in
  time with the capture (the engine requires that) but are not BTC's history: they prove the
  wiring (every component has data, reliability 1.0), not a trading signal;
- synthetic trades, named as such, where a test needs bars of a known shape.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from pathlib import Path

import confluex
import numpy as np
import pytest
from confluex import Engine, Instrument, InvalidConfig, InvalidEvent
from confluex.cli import main
from confluex.engine import HFT_ULTRA_FAST_WEIGHTS, engine_config, engine_from_config
from confluex.feeds.files import replay
from confluex.history_inputs import HistoryInputError, load_ohlcv, warm_up
from confluex.sentiment_inputs import load_funding
from confluex.trading.config import ConfigError, load_config

DATA = Path(__file__).resolve().parent / "data"
FREQTRADE = DATA / "freqtrade"
CAPTURE = "usdm_2024-07/btcusdt_20240718.gz"
CAPTURE_START_MS = 1_721_347_020_984  # first record of the capture (ns prefix / 1e6)
NAMES = confluex.COMPONENT_NAMES
MIN = 60_000_000_000

# Written against the reference system's formula (profile "reference"), not the default.
REFERENCE = engine_config(profile="reference")


def _shifted_history(tmp_path: Path) -> Path:
    """XRP/USDT 5m bars (real, 2021-11) shifted to end 5 minutes before the capture."""
    rows = json.loads(
        gzip.decompress((FREQTRADE / "xrp_usdt_usdt_5m_futures.json.gz").read_bytes())
    )
    end = CAPTURE_START_MS // 300_000 * 300_000 - 300_000  # open of the last bar
    shift = end - rows[-1][0]
    assert shift % 300_000 == 0
    out = tmp_path / "xrp_usdt_5m_SHIFTED_to_2024-07-18.json.gz"
    out.write_bytes(gzip.compress(json.dumps([[r[0] + shift, *r[1:]] for r in rows]).encode()))
    return out


def _shifted_funding(tmp_path: Path) -> Path:
    """XRP/USDT funding (real, 2021-11/12) shifted so the last rate is 1 h before the capture."""
    rows = json.loads(
        gzip.decompress((FREQTRADE / "xrp_usdt_usdt_8h_funding_rate.json.gz").read_bytes())
    )
    shift = CAPTURE_START_MS - 3_600_000 - rows[-1][0]
    out = tmp_path / "xrp_usdt_funding_SHIFTED_to_2024-07-18.json.gz"
    out.write_bytes(gzip.compress(json.dumps([[r[0] + shift, r[1]] for r in rows]).encode()))
    return out


def _replay(hft_data: Path, history: list[Path], funding: Path | None, profile: str = "standard"):
    rows = [load_ohlcv(p) for p in history]
    fund = load_funding(funding) if funding else []

    def prepare(engine: Engine, sym: int, name: str) -> None:
        warm_up(engine, sym, history=rows, funding=fund)

    return replay([hft_data / CAPTURE], engine=engine_from_config(profile=profile), prepare=prepare)


# --- the engine owns the bars and computes the views -----------------------------------------


def _synthetic_trades(engine: Engine, sym: int, minutes: int, t0_ns: int) -> None:
    """SYNTHETIC: one trade a second, a slow sine on a rising drift, alternating aggressor."""
    for i in range(minutes * 60):
        px = 100_000 + 50 * i // 60 + int(200 * math.sin(i / 300.0))
        engine.push_trade(sym, t0_ns + i * 1_000_000_000, px, 10 + i % 7, i % 2)


def test_trades_build_bars_and_the_bar_views_get_data_without_history() -> None:
    engine = Engine(REFERENCE)
    sym = engine.add_symbol("SYN", Instrument("0.1", "0.001"))
    t0 = 1_700_000_000 * 1_000_000_000 // MIN * MIN
    _synthetic_trades(engine, sym, 40, t0)
    assert engine.bars_closed(sym, MIN) == 39  # the 40th minute is still forming
    assert engine.bars_closed(sym, 1_000_000_000) == 40 * 60 - 1
    r = engine.result(sym)
    tech = engine.component(sym, "technical")
    assert tech.has_data  # 39 one-minute bars >= MACD's 34
    assert set(tech.sub) == {"rsi", "macd", "ao", "williams_r", "atr", "cci"}
    assert engine.component(sym, "price_structure").has_data
    vol = engine.component(sym, "volume")
    assert vol.has_data and "trade_flow" in vol.sub
    assert vol.weights["trade_flow"] == pytest.approx(0.4)
    # volume = .6 x bar view + .4 x trade flow: the score is the weighted mean of its parts
    mean = sum(vol.sub[k] * w for k, w in vol.weights.items()) / sum(vol.weights.values())
    assert vol.score == pytest.approx(mean)
    # no sentiment input: excluded, and the reliability says so
    assert not engine.component(sym, "sentiment").has_data
    assert r.reliability == pytest.approx(1.0 - 0.20 - 0.07)  # no book, no sentiment


def test_funding_gives_sentiment_data_and_a_stale_rate_does_not() -> None:
    engine = Engine()
    sym = engine.add_symbol("SYN", Instrument("0.1", "0.001"))
    t0 = 1_700_000_000 * 1_000_000_000 // MIN * MIN
    engine.on_funding(sym, t0 - 10 * 3600 * 1_000_000_000, 0.0001)  # older than the 9 h max age
    _synthetic_trades(engine, sym, 2, t0)
    assert not engine.component(sym, "sentiment").has_data
    engine.on_funding(sym, t0, -0.0005)
    sent = engine.component(sym, "sentiment")
    assert (
        sent.has_data and sent.sub["funding_rate"] > 50
    )  # negative funding reads contrarian-bullish
    with pytest.raises(InvalidEvent):
        engine.on_funding(sym, t0 - 1, 0.0001)  # before the previous sample


def test_load_history_must_come_first_and_names_bad_rows(tmp_path: Path) -> None:
    engine = Engine()
    sym = engine.add_symbol("X", Instrument("0.0001", "0.1"))
    with pytest.raises(InvalidEvent):
        engine.load_history(sym, np.array([[1_000.0, 1, 1, 1, 1, 1]]))  # one row: no spacing
    rows = load_ohlcv(_shifted_history(tmp_path))
    assert engine.load_history(sym, rows) == 300_000_000_000  # inferred 5m
    assert engine.bars_closed(sym, 14_400_000_000_000) >= 34
    engine.push_trade(sym, int(rows[-1, 0]) * 1_000_000 + 600_000_000_000, 11_000, 10, 0)
    with pytest.raises(InvalidEvent):
        engine.load_history(sym, rows)  # after live data


def test_history_csv_equals_json(tmp_path: Path) -> None:
    rows = load_ohlcv(_shifted_history(tmp_path))
    path = tmp_path / "h.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "open", "high", "low", "close", "volume"])
        w.writerows([[int(r[0]), *r[1:]] for r in rows[:50]])
    assert np.array_equal(load_ohlcv(path), rows[:50])
    bad = tmp_path / "bad.json"
    bad.write_text("[[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]]")
    with pytest.raises(HistoryInputError, match="strictly increasing"):
        load_ohlcv(bad)


# --- profiles ------------------------------------------------------------------------------


def test_profiles_from_python_and_config(tmp_path: Path) -> None:
    ref = engine_config(profile="reference")
    assert ref.bar_views and ref.aggregator.rule == "reference"
    assert ref.aggregator.weights == pytest.approx(
        {
            "orderflow": 0.30,
            "orderbook": 0.20,
            "volume": 0.18,
            "price_structure": 0.15,
            "technical": 0.10,
            "sentiment": 0.07,
        }
    )
    std = engine_config(profile="standard")
    assert std.bar_views and std.aggregator.rule == "graded"
    fitted = engine_config(profile="fitted_1s")
    assert not fitted.bar_views and fitted.aggregator.weights == std.aggregator.weights
    assert engine_config(profile="fitted_5s").aggregator.weights != std.aggregator.weights
    hft = engine_config(profile="hft_ultra_fast")
    assert not hft.bar_views and hft.book_signals.dwi_levels == 5
    assert hft.aggregator.weights == pytest.approx(HFT_ULTRA_FAST_WEIGHTS)
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[confluence]\nprofile = "hft_ultra_fast"\n')
    config = load_config(cfg_file)
    assert not engine_config(config).bar_views
    assert engine_config(config, profile="standard").bar_views  # the argument wins
    cfg_file.write_text('[confluence]\nprofile = "fast"\n')
    with pytest.raises(ConfigError, match="'fast'"):
        load_config(cfg_file)
    with pytest.raises(InvalidConfig, match="'fast'"):
        engine_config(profile="fast")


def test_hft_ultra_fast_scores_book_and_trades_only(hft_data: Path) -> None:
    res = replay([hft_data / CAPTURE], engine=engine_from_config(profile="hft_ultra_fast"))
    (rep,) = res.symbols.values()
    has = {n for n, c in rep.components.items() if c.has_data}
    assert has == {"orderflow", "orderbook", "volume"}
    assert rep.result.reliability == pytest.approx(1.0)
    assert "trade_flow" not in rep.components["volume"].sub  # trades only, no bar view
    off = engine_from_config(profile="hft_ultra_fast")
    s = off.add_symbol("A", Instrument("0.1", "0.001"))
    with pytest.raises(InvalidConfig, match="bar views are off"):
        off.on_funding(s, 0, 0.0001)


# --- Done: a real capture with history and funding ------------------------------------------


def test_replay_with_history_and_funding_has_all_six_components(
    hft_data: Path, tmp_path: Path
) -> None:
    res = _replay(hft_data, [_shifted_history(tmp_path)], _shifted_funding(tmp_path))
    (rep,) = res.symbols.values()
    missing = [n for n, c in rep.components.items() if not c.has_data]
    assert missing == []
    assert rep.result.reliability == pytest.approx(1.0)
    assert rep.components["sentiment"].sub["funding_rate"] > 0
    # the series carries each component; all six have data at the end
    last = res.series[-1]["components"]
    assert not np.isnan(last).any()


def test_replay_without_sentiment_inputs_lists_sentiment_as_no_data(
    hft_data: Path, tmp_path: Path
) -> None:
    res = _replay(hft_data, [_shifted_history(tmp_path)], None, profile="reference")
    (rep,) = res.symbols.values()
    assert [n for n, c in rep.components.items() if not c.has_data] == ["sentiment"]
    assert rep.result.reliability == pytest.approx(0.93)  # 1 - sentiment's reference weight


def test_cli_replay_standard_profile_prints_six_components_and_writes_them(
    hft_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    code = main(
        [
            "replay",
            str(hft_data / CAPTURE),
            "--no-progress",
            "--profile",
            "standard",
            "--history",
            str(_shifted_history(tmp_path)),
            "--funding",
            str(_shifted_funding(tmp_path)),
            "--extras",
            "--out",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "reliability 1.00" in text and "no data" not in text
    for name in NAMES:
        assert f"    {name}" in text
    assert "rsi" in text and "funding_rate" in text and "order_blocks" in text
    # The reference extras (issue 10 item 6), asked for with --extras, are computed and shown;
    # standard does not weight them (its fitted weights): listed apart from the weighted ones.
    lines = {ln.split()[0]: ln for ln in text.splitlines() if ln.startswith("    ")}
    flow_unw = lines["orderflow"].split("unweighted [")[1]
    book_unw = lines["orderbook"].split("unweighted [")[1]
    assert "stacked_imbalance" in flow_unw
    assert "absorption_exhaustion" in book_unw and "liquidity" in book_unw
    with (out / "scores.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert set(NAMES) <= set(rows[0])
    assert all(rows[-1][n] != "" for n in NAMES)
    assert (out / "chart.png").stat().st_size > 0


def test_cli_replay_without_funding_says_no_data_sentiment(
    hft_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "replay",
            str(hft_data / CAPTURE),
            "--no-progress",
            "--history",
            str(_shifted_history(tmp_path)),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "no data: sentiment" in text


def test_cli_bad_history_file_is_a_usage_error(
    hft_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "one_row.json"
    bad.write_text("[[1721347000000, 1, 1, 1, 1, 1]]")
    code = main(["replay", str(hft_data / CAPTURE), "--no-progress", "--history", str(bad)])
    assert code == 2
    assert "one_row.json" in capsys.readouterr().err
    code = main(
        [
            "replay",
            str(hft_data / CAPTURE),
            "--no-progress",
            "--profile",
            "hft_ultra_fast",
            "--history",
            str(_shifted_history(tmp_path)),
        ]
    )
    assert code == 2
    assert "hft_ultra_fast" in capsys.readouterr().err


# --- recorded derivative streams replay with no flag -----------------------------------------


def _mark_line(ts_ns: int, rate: str) -> bytes:
    """SYNTHETIC markPrice@1s message, written from Binance's documented schema (no capture
    of this stream exists in tests/data)."""
    data = {
        "e": "markPriceUpdate",
        "E": ts_ns // 1_000_000,
        "s": "BTCUSDT",
        "p": "64000.10000000",
        "i": "63990.00000000",
        "P": "63995.00000000",
        "r": rate,
        "T": ts_ns // 1_000_000 + 3_600_000,
    }
    msg = {"stream": "btcusdt@markPrice@1s", "data": data}
    return f"{ts_ns} {json.dumps(msg, separators=(',', ':'))}".encode()


def test_recorded_mark_price_stream_feeds_sentiment_with_no_flag(
    hft_data: Path, tmp_path: Path
) -> None:
    lines = gzip.decompress((hft_data / CAPTURE).read_bytes()).splitlines()
    out: list[bytes] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i % 2000 == 100:  # a synthetic markPrice line among the real ones, same time
            out.append(_mark_line(int(line.split(b" ", 1)[0]), "-0.00050000"))
    mixed = tmp_path / "btcusdt_20240718_with_SYNTHETIC_markPrice.gz"
    mixed.write_bytes(gzip.compress(b"\n".join(out) + b"\n"))
    rows = load_ohlcv(_shifted_history(tmp_path))

    def prepare(engine: Engine, sym: int, name: str) -> None:
        warm_up(engine, sym, history=[rows])

    res = replay([mixed], engine=engine_from_config(), prepare=prepare)
    (rep,) = res.symbols.values()
    assert res.parser_errors.get("UnknownStream", 0) == 0
    sent = rep.components["sentiment"]
    assert sent.has_data and sent.sub["funding_rate"] > 50  # -0.05 % funding: contrarian-bullish
    assert rep.result.reliability == pytest.approx(1.0)
    # the same file without the synthetic lines: sentiment has no data
    plain = replay([hft_data / CAPTURE], engine=engine_from_config(), prepare=prepare)
    assert not next(iter(plain.symbols.values())).components["sentiment"].has_data
