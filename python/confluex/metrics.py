"""Prometheus metrics of a live session: ``confluex live --metrics-port PORT``.

:class:`LiveMetrics` exposes a :class:`~confluex.feeds.live.LiveFeed` (and, through its ``on_order``
/ ``on_fill`` hooks, an :class:`~confluex.trading.execution.Executor`) in the Prometheus text
format at ``http://HOST:PORT/metrics``.

Most values are read from the feed *when scraped* (a custom collector), so the hot path pays
nothing for them; only the per-message latency histogram is observed as messages arrive. The
endpoint is an aiohttp server on the feed's own event loop: a scrape reads the session from
the thread that writes it, so no lock is needed and the figures of one scrape are consistent.

Metrics (labels in braces):

- ``confluex_frames_total{symbol}``: frames received (message rate: ``rate(...[1m])``);
  ``confluex_messages_total{symbol,kind}``: depth / trade / book_ticker / snapshot messages;
  ``confluex_parse_errors_total{symbol}``.
- ``confluex_message_latency_seconds{exchange}``: histogram of the time from a received
  frame to its updated score (parse, book, signals), measured around ``on_message``;
  ``confluex_stage_latency_seconds{stage,quantile}``: the native per-stage percentiles
  (parse, apply, recompute, total; 0.5, 0.99, 0.999) since the start, as a summary.
- Book health: ``confluex_book_synced{symbol}`` (1 synced, 0 not), ``confluex_book_desyncs_total``,
  ``confluex_book_resyncs_total`` (snapshots applied after the first),
  ``confluex_stale_resyncs_total``, ``confluex_ticker_checks_total``,
  ``confluex_ticker_mismatches_total``, ``confluex_score{symbol}``.
- ``confluex_ring_dropped_total{symbol}``: depth records dropped by the bounded pre-sync
  buffer; ``confluex_reconnects_total``, ``confluex_connections_total``,
  ``confluex_snapshot_errors_total{symbol}``.
- The threaded feed (``confluex live --threads N``,
  :class:`~confluex.feeds.live_sharded.ShardedLiveFeed`) exports the same families, with the
  book health its shards publish (after each batch of frames; see
  :meth:`confluex.pipeline.ShardedEngine.health`), the score of each symbol's latest
  ``score`` record, and as message latency the time from a frame's push into its shard's
  ring to its score record on the event loop. Instead of the native stage summary (the stage
  histograms live on the engine threads) it exports each shard's counters:
  ``confluex_shard_frames_total{shard}``, ``confluex_shard_input_dropped_total`` (frames
  refused by the full ring), ``confluex_shard_overflow_resyncs_total``,
  ``confluex_shard_output_dropped_total``, ``confluex_shard_errors_total``,
  ``confluex_shard_sleeps_total``, ``confluex_shard_wakeups_total``,
  ``confluex_shard_warm_passes_total``, ``confluex_shard_symbols``; and per symbol
  ``confluex_overflow_resyncs_total{symbol}``.
- ``confluex_orders_total{symbol,status}`` and ``confluex_fills_total{symbol,side,trade_type}``,
  ``confluex_filled_notional_total{symbol}`` (quote), from the executor hooks.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ._core.session import SyncPhase

if TYPE_CHECKING:
    from aiohttp import web

    from .feeds.live import LiveFeed
    from .feeds.live_sharded import ShardedLiveFeed
    from .trading.execution import FillEvent

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS_S", "LiveMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Histogram buckets of the per-message latency: 1 us to 10 ms (the live path is ~0.3-10 us).
LATENCY_BUCKETS_S = (
    1e-6,
    2e-6,
    5e-6,
    1e-5,
    2e-5,
    5e-5,
    1e-4,
    2e-4,
    5e-4,
    1e-3,
    1e-2,
)
_STAGES = ("parse", "apply", "recompute", "total")
_QUANTILES = (("p50", "0.5"), ("p99", "0.99"), ("p999", "0.999"))


class _FeedCollector(Collector):
    """Reads a LiveFeed's counters at scrape time, and keeps the message latency histogram.

    The histogram is plain integer counts in nanoseconds (one bisect and two additions per
    message, about 10x cheaper than prometheus_client's locked Histogram), read only on the
    event loop thread that writes it.
    """

    def __init__(self, feed: LiveFeed) -> None:
        self.feed = feed
        self.bounds_ns = [round(b * 1e9) for b in LATENCY_BUCKETS_S]
        self.counts = [0] * (len(self.bounds_ns) + 1)  # the last one is +Inf
        self.sum_ns = 0

    def observe(self, ns: int) -> None:
        self.counts[bisect_left(self.bounds_ns, ns)] += 1
        self.sum_ns += ns

    def collect(self) -> Iterator[Any]:
        from .feeds.live_sharded import ShardedLiveFeed

        feed = self.feed
        exchange = feed.spec.name
        sharded = feed if isinstance(feed, ShardedLiveFeed) else None

        def counter(name: str, doc: str, labels: tuple[str, ...] = ("symbol",)) -> Any:
            return CounterMetricFamily(name, doc, labels=list(labels))

        def gauge(name: str, doc: str) -> Any:
            return GaugeMetricFamily(name, doc, labels=["symbol"])

        frames = counter("confluex_frames", "Frames received per symbol.")
        messages = counter(
            "confluex_messages", "Messages parsed per symbol and kind.", ("symbol", "kind")
        )
        errors = counter("confluex_parse_errors", "Messages that failed to parse.")
        synced = gauge("confluex_book_synced", "1 when the book is in sync, else 0.")
        desyncs = counter("confluex_book_desyncs", "Sequence gaps that desynced the book.")
        resyncs = counter("confluex_book_resyncs", "Snapshots applied after the first one.")
        stale = counter("confluex_stale_resyncs", "Resyncs of a symbol that went silent.")
        checks = counter("confluex_ticker_checks", "bookTicker cross-checks of the book.")
        mismatches = counter("confluex_ticker_mismatches", "bookTicker checks that disagreed.")
        dropped = counter(
            "confluex_ring_dropped", "Depth records dropped by the bounded pre-sync buffer."
        )
        snap_err = counter("confluex_snapshot_errors", "REST snapshots that failed.")
        score = gauge("confluex_score", "Current confluence score (0-100).")
        for sym, st in feed.by_symbol.items():
            sid = st.symbol_id
            h = sharded.sharded.health(sid) if sharded is not None else feed.session.health(sid)
            frames.add_metric([sym], st.frames)
            for kind, key in (
                ("depth", "depth_messages"),
                ("trade", "trade_messages"),
                ("book_ticker", "ticker_messages"),
                ("snapshot", "snapshot_messages"),
            ):
                messages.add_metric([sym, kind], getattr(h, key))
            errors.add_metric([sym], h.parse_errors)
            synced.add_metric([sym], 1.0 if h.phase == SyncPhase.synced else 0.0)
            desyncs.add_metric([sym], h.desyncs)
            resyncs.add_metric([sym], max(int(h.snapshots_applied) - 1, 0))
            stale.add_metric([sym], st.stale_resyncs)
            checks.add_metric([sym], h.ticker_checks)
            mismatches.add_metric([sym], h.ticker_mismatches)
            dropped.add_metric([sym], h.buffered_dropped)
            snap_err.add_metric([sym], st.snapshot_errors)
            if sharded is None:
                score.add_metric([sym], feed.engine.result(sid).score)
            elif (last := sharded.latest.get(sid)) is not None:
                score.add_metric([sym], float(last["score"]))
        yield from (frames, messages, errors, synced, desyncs, resyncs, stale, checks)
        yield from (mismatches, dropped, snap_err, score)

        conn = CounterMetricFamily(
            "confluex_connections", "Stream connections opened.", labels=["exchange"]
        )
        conn.add_metric([exchange], feed.connections)
        rec = CounterMetricFamily(
            "confluex_reconnects", "Stream reconnects after a lost connection.", labels=["exchange"]
        )
        rec.add_metric([exchange], feed.reconnects)
        yield from (conn, rec)

        hist = HistogramMetricFamily(
            "confluex_message_latency_seconds",
            "Time from a received frame to its updated score (parse, book, signals).",
            labels=["exchange"],
        )
        cumulative, buckets = 0, []
        for bound, n in zip([*LATENCY_BUCKETS_S, math.inf], self.counts, strict=True):
            cumulative += n
            buckets.append(("+Inf" if math.isinf(bound) else repr(bound), cumulative))
        hist.add_metric([exchange], buckets, sum_value=self.sum_ns / 1e9)
        yield hist
        if sharded is not None:
            yield from _shard_metrics(sharded)
            return

        # A summary with quantile samples (prometheus_client's SummaryMetricFamily only takes
        # count and sum, so the samples are added on a plain summary-typed Metric).
        name = "confluex_stage_latency_seconds"
        stages = Metric(name, "Native per-stage latency since the start.", "summary")
        latency = feed.session.latency()
        for stage in _STAGES:
            s = latency[stage]
            for key, q in _QUANTILES:
                stages.add_sample(name, {"stage": stage, "quantile": q}, s[key] / 1e9)
            count = float(s["count"])
            stages.add_sample(f"{name}_count", {"stage": stage}, count)
            stages.add_sample(f"{name}_sum", {"stage": stage}, s["mean"] * count / 1e9)
        yield stages


_SHARD_COUNTERS = (
    ("frames", "Frames (and control frames) processed by the shard's engine thread."),
    ("input_dropped", "Frames refused by the shard's full input ring (the symbol resyncs)."),
    ("overflow_resyncs", "Resyncs the shard made after frames were lost to its full ring."),
    ("output_dropped", "Records refused by the shard's full output ring."),
    ("errors", "Frames whose processing raised a confluex error (error records)."),
    ("sleeps", "Times the shard's engine thread went to sleep."),
    ("wakeups", "Notifications sent to the sleeping engine thread."),
    ("warm_passes", "Warm passes the idle engine thread ran."),
)


def _shard_metrics(feed: ShardedLiveFeed) -> Iterator[Any]:
    """Per-shard counters of a threaded feed (atomic snapshots, read from any thread)."""
    stats = feed.sharded.stats()
    for key, doc in _SHARD_COUNTERS:
        fam = CounterMetricFamily(f"confluex_shard_{key}", doc, labels=["shard"])
        for i, s in enumerate(stats):
            fam.add_metric([str(i)], getattr(s, key))
        yield fam
    symbols = GaugeMetricFamily("confluex_shard_symbols", "Symbols on the shard.", labels=["shard"])
    for i, s in enumerate(stats):
        symbols.add_metric([str(i)], s.symbols)
    yield symbols
    overflow = CounterMetricFamily(
        "confluex_overflow_resyncs", "Resyncs after frames lost to a full ring.", labels=["symbol"]
    )
    for sym, st in feed.by_symbol.items():
        overflow.add_metric([sym], feed.overflow_resyncs.get(st.symbol_id, 0))
    yield overflow


class LiveMetrics:
    """Prometheus metrics of one LiveFeed (plus an Executor's orders and fills).

    Construct it with the feed, ``await serve(host, port)`` on the feed's event loop, and wire
    the hooks: the constructor sets ``feed.latency_hook``; pass ``on_order`` / ``on_fill`` to an
    :class:`~confluex.trading.execution.Executor`.
    """

    def __init__(self, feed: LiveFeed, registry: CollectorRegistry | None = None) -> None:
        self.feed = feed
        self.registry = CollectorRegistry(auto_describe=True) if registry is None else registry
        self._collector = _FeedCollector(feed)
        self.registry.register(self._collector)
        self._orders = Counter(
            "confluex_orders",
            "Order updates published by the executor, by status.",
            ["symbol", "status"],
            registry=self.registry,
        )
        self._fills = Counter(
            "confluex_fills",
            "Confirmed fills (increments), by side and trade type.",
            ["symbol", "side", "trade_type"],
            registry=self.registry,
        )
        self._notional = Counter(
            "confluex_filled_notional",
            "Quote notional of confirmed fills.",
            ["symbol"],
            registry=self.registry,
        )
        self._runner: web.AppRunner | None = None
        feed.latency_hook = self._collector.observe

    # -- hooks -------------------------------------------------------------------------------

    def observe_message(self, ns: int) -> None:
        """One message took ``ns`` nanoseconds from frame to score (LiveFeed.latency_hook;
        ShardedLiveFeed: from the push into the ring to the score record on the loop)."""
        self._collector.observe(ns)

    def on_order(self, order: Mapping[str, Any]) -> None:
        """An Executor ``on_order`` hook: counts order updates by status."""
        self._orders.labels(str(order.get("symbol")), str(order.get("status"))).inc()

    def on_fill(self, fill: FillEvent) -> None:
        """An Executor ``on_fill`` hook: counts confirmed fills and their notional."""
        self._fills.labels(fill.symbol, fill.side, fill.trade_type).inc()
        self._notional.labels(fill.symbol).inc(max(fill.position_size_usd, 0.0))

    # -- exposition --------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format (what a scrape returns)."""
        return bytes(generate_latest(self.registry))

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serves ``GET /metrics`` on this event loop; returns the bound port."""
        from aiohttp import web

        async def handle(_request: web.Request) -> web.Response:
            return web.Response(body=self.exposition(), headers={"Content-Type": CONTENT_TYPE})

        app = web.Application()
        app.router.add_get("/metrics", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server  # the bound socket: the only way to learn the port picked for 0
        sockets = getattr(server, "sockets", None) or ()
        bound: int = sockets[0].getsockname()[1] if sockets else port
        return bound

    async def close(self) -> None:
        """Stops the endpoint."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


def __dir__() -> list[str]:
    return __all__
