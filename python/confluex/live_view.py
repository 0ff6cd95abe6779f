"""The ``confluex live`` command: a terminal view over a :class:`~confluex.feeds.LiveFeed`.

The feed (:mod:`confluex.feeds.live`) streams a venue into the engine; this module only
shows it: :func:`render_view` draws one screen (a row per symbol, plus latency and feed
state), redrawn with plain ANSI escapes, and :func:`add_live_arguments` / :func:`run_live`
are the command's options and entry point (with the optional Prometheus endpoint of
:mod:`confluex.metrics`).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from .engine import engine_config, engine_from_config, session_config
from .feeds.live import EXCHANGES, LiveFeed
from .feeds.live_sharded import ShardedLiveFeed
from .feeds.rest_poll import RestPollConfig
from .markets import format_price
from .trading.config import load_config

if TYPE_CHECKING:
    from .cache import ConfluenceHFTCache

__all__ = ["add_live_arguments", "render_view", "run_live"]


@dataclass
class _Rate:
    frames: int = 0
    mono: float = 0.0
    rate: float = 0.0


def _rate(rates: dict[str, _Rate] | None, sym: str, frames: int, now: float) -> float:
    """Messages per second of a symbol, refreshed at most once a second."""
    if rates is None:
        return 0.0
    r = rates.setdefault(sym, _Rate(frames, now))
    if now - r.mono >= 1.0:
        r.rate = (frames - r.frames) / (now - r.mono)
        r.frames, r.mono = frames, now
    return r.rate


def render_view(
    feed: LiveFeed, rates: dict[str, _Rate] | None = None, now: float | None = None
) -> str:
    """One screen of the live view: a row per symbol, plus the feed's latency and state."""
    now = time.monotonic() if now is None else now
    if isinstance(feed, ShardedLiveFeed):
        return _render_sharded(feed, rates, now)
    lat = feed.session.latency()["total"]
    header = (
        f"confluex live  {feed.spec.name}  connections={feed.connections}"
        f" reconnects={feed.reconnects}"
        f"  total latency p50={lat['p50'] / 1e3:.1f}us p99={lat['p99'] / 1e3:.1f}us"
    )
    cols = (
        f"{'symbol':<16}{'score':>7}{'raw':>7}{'conf':>6}{'rel':>6}{'bid':>14}{'ask':>14}"
        f"  {'phase':<18}{'msg/s':>8}{'desync':>7}{'tick ok/chk':>13}{'stale':>6}"
    )
    rows = [header, cols, "-" * len(cols)]
    for sym, st in feed.by_symbol.items():
        sid = st.symbol_id
        h = feed.session.health(sid)
        res = feed.engine.result(sid)
        inst = feed.engine.instrument(sid)
        bid, ask = feed.engine.best_bid(sid), feed.engine.best_ask(sid)
        bid_s = format_price(inst, bid[0]) if bid else "-"
        ask_s = format_price(inst, ask[0]) if ask else "-"
        rate = _rate(rates, sym, st.frames, now)
        phase_s = h.phase.name
        checks, mism = h.ticker_checks, h.ticker_mismatches
        rows.append(
            f"{sym:<16}{res.score:>7.1f}{res.score_raw:>7.1f}{res.confidence:>6.2f}{res.reliability:>6.2f}"
            f"{bid_s:>14}{ask_s:>14}  {phase_s:<18}{rate:>8.0f}{h.desyncs:>7}"
            f"{f'{checks - mism}/{checks}':>13}{st.stale_resyncs:>6}"
        )
    if feed.last_error:
        rows.append(f"last error: {feed.last_error}")
    return "\n".join(rows)


def _render_sharded(feed: ShardedLiveFeed, rates: dict[str, _Rate] | None, now: float) -> str:
    """The view of a feed on engine threads: each symbol's latest score record (the engines
    are not read from the event loop while their threads run)."""
    header = (
        f"confluex live  {feed.spec.name}  threads={feed.sharded.shards}"
        f"  connections={feed.connections} reconnects={feed.reconnects}"
        f"  frames={feed.frames_pushed} dropped={feed.frames_dropped}"
    )
    cols = (
        f"{'symbol':<16}{'score':>7}{'raw':>7}{'conf':>6}{'rel':>6}{'mid':>14}"
        f"  {'phase':<18}{'msg/s':>8}{'overflow':>9}{'stale':>6}"
    )
    rows = [header, cols, "-" * len(cols)]
    for sym, st in feed.by_symbol.items():
        rec = feed.latest.get(st.symbol_id)
        rate = _rate(rates, sym, st.frames, now)
        if rec is None:
            vals = f"{'-':>7}{'-':>7}{'-':>6}{'-':>6}{'-':>14}"
        else:
            mid = float(rec["mid_px"])
            vals = (
                f"{float(rec['score']):>7.1f}{float(rec['score_raw']):>7.1f}"
                f"{float(rec['confidence']):>6.2f}{float(rec['reliability']):>6.2f}"
                f"{'-' if math.isnan(mid) else f'{mid:.8g}':>14}"
            )
        rows.append(
            f"{sym:<16}{vals}  {feed.sharded.phase(st.symbol_id).name:<18}{rate:>8.0f}"
            f"{feed.overflow_resyncs.get(st.symbol_id, 0):>9}{st.stale_resyncs:>6}"
        )
    if feed.last_error:
        rows.append(f"last error: {feed.last_error}")
    return "\n".join(rows)


async def _view_loop(feed: LiveFeed, out: TextIO, interval: float) -> None:
    rates: dict[str, _Rate] = {}
    while True:
        if feed.by_symbol:
            out.write("\x1b[H\x1b[2J" + render_view(feed, rates) + "\n")
            out.flush()
        await asyncio.sleep(interval)


# ---------------------------------------------------------------------------------------------
# CLI


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``confluex live`` options to a parser."""
    parser.add_argument("--exchange", choices=sorted(EXCHANGES), default="binance")
    parser.add_argument(
        "--symbols",
        default="BTC/USDT",
        help="comma-separated ccxt unified symbols (BTC/USDT, BTC/USDT:USDT)",
    )
    parser.add_argument("--ws-url", default=None, help="stream URL override (no query string)")
    parser.add_argument(
        "--rest-url", default=None, help="REST base URL override (scheme://host:port)"
    )
    parser.add_argument(
        "--stale-seconds", type=float, default=10.0, help="resync a silent symbol after this"
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument(
        "--no-view", action="store_true", help="no live terminal view; print a summary"
    )
    parser.add_argument(
        "--refresh", type=float, default=0.5, help="view refresh interval in seconds"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve Prometheus metrics on http://HOST:PORT/metrics (0 picks a free port)",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address of the metrics endpoint (default 127.0.0.1)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="run the engines on N threads (symbols sharded, frames through lock-free rings)",
    )
    parser.add_argument(
        "--wait",
        choices=("spin_yield", "busy_poll", "blocking"),
        default=None,
        help="with --threads: how an idle engine thread waits for the next frame (default "
        "spin_yield: polls, then yields the core, so the shard is hot when a frame comes; "
        "busy_poll keeps a core per shard; blocking sleeps, the lowest CPU)",
    )
    parser.add_argument(
        "--config", metavar="PATH", help="config TOML: component weights and signal thresholds"
    )
    parser.add_argument("--preset", metavar="NAME", help="config preset, e.g. conservative")

    parser.add_argument(
        "--redis",
        metavar="URL",
        help="share the latest scores (hash per symbol, TTL 1 s) and signals (a stream) in "
        "Redis, e.g. redis://127.0.0.1:6379/0 (needs confluex[redis])",
    )
    parser.add_argument(
        "--record",
        default=None,
        metavar="FILE",
        help="write every frame and REST snapshot to FILE ('<ns> <json>' lines, gzip if .gz);"
        " 'confluex replay FILE' replays the session bit for bit",
    )
    parser.add_argument(
        "--no-rest-poll",
        action="store_true",
        help="skip the REST warm-up (OHLCV history, funding/OI/long-short history) and the"
        " scheduled funding / open-interest / long-short polls",
    )


def _check_live_args(args: argparse.Namespace) -> None:
    for name, positive in (("refresh", True), ("duration", True), ("stale_seconds", False)):
        value = getattr(args, name, None)
        if value is None:
            continue
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            rule = "> 0" if positive else ">= 0"
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be a finite number {rule}, was {value:g}")
    port = getattr(args, "metrics_port", None)
    if port is not None and not 0 <= port <= 65535:
        raise ValueError(f"--metrics-port must be in [0, 65535], was {port}")
    threads = getattr(args, "threads", None)
    if threads is not None and not 1 <= threads <= 64:
        raise ValueError(f"--threads must be in [1, 64], was {threads}")
    wait = getattr(args, "wait", None)
    if wait is not None and threads is None:
        raise ValueError(f"--wait sets how engine threads wait: it needs --threads, was {wait}")


def _feed_from_args(args: argparse.Namespace) -> LiveFeed:
    symbols = [s.strip() for s in str(args.symbols).split(",") if s.strip()]
    # The one config: its weights score, its thresholds signal (as in `confluex replay`).
    config = load_config(getattr(args, "config", None), preset=getattr(args, "preset", None))
    threads = getattr(args, "threads", None)
    rest_poll = None if getattr(args, "no_rest_poll", False) else RestPollConfig()
    if threads is not None:
        return ShardedLiveFeed(
            args.exchange,
            symbols,
            threads=threads,
            wait=getattr(args, "wait", None) or "spin_yield",
            ws_url=args.ws_url,
            rest_url=args.rest_url,
            stale_seconds=args.stale_seconds,
            engine_config=engine_config(config),
            session_config=session_config(config),
            record=getattr(args, "record", None),
            rest_poll=rest_poll,
        )
    return LiveFeed(
        args.exchange,
        symbols,
        ws_url=args.ws_url,
        rest_url=args.rest_url,
        stale_seconds=args.stale_seconds,
        engine=engine_from_config(config),
        session_config=session_config(config),
        record=getattr(args, "record", None),
        rest_poll=rest_poll,
    )


async def _run_feed(
    feed: LiveFeed, args: argparse.Namespace, out: TextIO, err: TextIO | None = None
) -> None:
    view: asyncio.Task[None] | None = None
    metrics = None
    if getattr(args, "metrics_port", None) is not None:
        from .metrics import LiveMetrics

        metrics = LiveMetrics(feed)
        port = await metrics.serve(args.metrics_host, args.metrics_port)
        shown = f"[{args.metrics_host}]" if ":" in args.metrics_host else args.metrics_host
        (sys.stderr if err is None else err).write(
            f"confluex live: metrics on http://{shown}:{port}/metrics\n"
        )
        (sys.stderr if err is None else err).flush()
    if not args.no_view:
        view = asyncio.ensure_future(_view_loop(feed, out, args.refresh))
    timer = None
    if args.duration is not None:
        timer = asyncio.get_running_loop().call_later(args.duration, feed.stop)
    try:
        await feed.run()
    finally:
        if timer is not None:
            timer.cancel()
        if view is not None:
            view.cancel()
            await asyncio.gather(view, return_exceptions=True)
        if metrics is not None:
            await metrics.close()


def _attach_redis(feed: LiveFeed, args: argparse.Namespace) -> ConfluenceHFTCache | None:
    """``--redis``: every score update of the feed into the shared cache (started here).

    A single-threaded feed publishes its engine's result after each update (``on_update``);
    a threaded feed (``--threads``) publishes the shards' ``score`` records (``on_record``):
    the same hash fields and crossings, its engines are not read from the event loop."""
    if not getattr(args, "redis", None):
        return None
    from .cache import ConfluenceHFTCache, EngineScorePublisher

    cache = ConfluenceHFTCache(args.redis)
    th = load_config(getattr(args, "config", None), preset=getattr(args, "preset", None))
    publisher = EngineScorePublisher(
        cache.start(),
        None if isinstance(feed, ShardedLiveFeed) else feed.engine,
        long_threshold=th.confluence.thresholds.long,
        short_threshold=th.confluence.thresholds.short,
        symbol_id=feed.symbol_id,
    )
    if isinstance(feed, ShardedLiveFeed):
        feed.on_record = publisher.on_record
    else:
        feed.on_update = publisher.on_update
    return cache


def run_live(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Runs ``confluex live`` until --duration or Ctrl-C; returns the exit code.

    The view and the final summary go to ``out`` (stdout), errors to ``err`` (stderr), one
    line each. Ctrl-C cancels the feed, which closes its socket, background tasks and ccxt
    client before the final summary is printed (exit code 130). Bad options exit with 2.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        _check_live_args(args)
        feed = _feed_from_args(args)
    except ValueError as exc:
        err.write(f"confluex live: {exc}\n")
        return 2
    try:
        cache = _attach_redis(feed, args)
    except ValueError as exc:  # a bad --redis URL
        err.write(f"confluex live: {exc}\n")
        return 2
    code = 0
    try:
        asyncio.run(_run_feed(feed, args, out, err))
    except KeyboardInterrupt:
        code = 130
    except OSError as exc:  # the metrics port is taken
        err.write(f"confluex live: {exc.strerror or exc}\n")
        return 2
    except ValueError as exc:  # unknown symbol, bad market precision, bad URL
        err.write(f"confluex live: {exc}\n")
        return 2
    except Exception as exc:  # e.g. ccxt could not load the markets: no traceback for users
        err.write(f"confluex live: {type(exc).__name__}: {exc}\n")
        return 1
    finally:
        if cache is not None:
            cache.close()
    out.write(render_view(feed) + "\n")
    if cache is not None:
        from .cache import format_cache_stats

        out.write(format_cache_stats(cache) + "\n")
    return code


if __name__ == "__main__":  # manual testing until the CLI wires `confluex live`
    _parser = argparse.ArgumentParser(prog="python -m confluex.live_view")
    add_live_arguments(_parser)
    from confluex.cli import configure_logging

    configure_logging("WARNING")
    raise SystemExit(run_live(_parser.parse_args()))
