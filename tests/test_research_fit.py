"""confluex.research.fit: causal, horizon-aware weight fitting.

The data here is SYNTHETIC (named so): a mid driven by one input, to check what the fit
recovers and that its walk-forward never looks ahead. The fit on the real captures is checked
through the shipped profiles in test_score_quality.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from confluex.engine import FITTED_1S, FITTED_5S, engine_config
from confluex.research.fit import Samples, fit_weights, profile_weights, rank_ic

STEP = 100_000_000
NAMES = ("orderbook.microprice", "orderbook.oir_25", "orderflow.imbalance_short")


def synthetic(seed: int, n: int = 3000, lead: int = 10) -> Samples:
    """SYNTHETIC: microprice leads the mid by `lead` steps; oir_25 is noise, imbalance_short
    is a weak echo of microprice."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    steps = np.zeros(n)
    steps[lead:] = 2.0 * signal[:-lead] + rng.normal(size=n - lead)
    mid = 100.0 * np.exp(np.cumsum(steps) * 1e-4)
    x = np.column_stack(
        [
            50 + 20 * np.tanh(signal),
            50 + 20 * np.tanh(rng.normal(size=n)),
            50 + 20 * np.tanh(0.2 * signal + rng.normal(size=n)),
        ]
    )
    return Samples(NAMES, x, mid, STEP)


def test_fit_recovers_the_leading_input_and_scores_it_out_of_sample() -> None:
    res = fit_weights([synthetic(1), synthetic(2)], 1.0)

    w = res["weights"]
    assert w["orderbook.microprice"] > 0.7
    assert w["orderbook.oir_25"] < 0.1
    assert sum(w.values()) == pytest.approx(1.0)
    assert res["components"]["orderbook"] == pytest.approx(
        w["orderbook.microprice"] + w["orderbook.oir_25"]
    )
    assert len(res["walk_forward"]) == 2 * 4  # 5 blocks per capture, the first never scored
    assert all(b["ic"] > 0.1 for b in res["walk_forward"])


def test_walk_forward_never_uses_the_future() -> None:
    base = synthetic(3)
    changed_x = base.x.copy()
    changed_x[-600:] = 100.0 - changed_x[-600:]  # the last block (a fifth) says the opposite
    changed = Samples(NAMES, changed_x, base.mid, STEP)

    a = fit_weights([base], 1.0)["walk_forward"]
    b = fit_weights([changed], 1.0)["walk_forward"]

    # Blocks 1-3 were fitted and scored on data before the changed block: identical.
    assert [r for r in a if r["block"] < 4] == [r for r in b if r["block"] < 4]
    assert a[-1]["ic"] != b[-1]["ic"]


def test_excluded_inputs_get_no_weight_and_bad_arguments_are_named() -> None:
    s = synthetic(4)

    res = fit_weights([s], 5.0, exclude=["orderbook.microprice"])

    assert res["weights"]["orderbook.microprice"] == 0.0
    with pytest.raises(ValueError, match=r"horizon_s must be a whole number of steps, was 0\.05"):
        fit_weights([s], 0.05)
    with pytest.raises(ValueError, match="folds must be >= 2, was 1"):
        fit_weights([s], 1.0, folds=1)
    with pytest.raises(ValueError, match="exclude names unknown sub-scores"):
        fit_weights([s], 1.0, exclude=["orderbook.nope"])
    with pytest.raises(ValueError, match="x must be"):
        Samples(NAMES, s.x[:, :2], s.mid, STEP)


def test_rank_ic_is_spearman() -> None:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(5)
    x, y = rng.normal(size=500), rng.normal(size=500)
    x[::7] = 0.0  # ties

    assert rank_ic(x, x + y) == pytest.approx(spearmanr(x, x + y).statistic, abs=1e-12)


@pytest.mark.parametrize("fitted", [FITTED_1S, FITTED_5S], ids=("1s", "5s"))
def test_shipped_profiles_hold_the_fitted_weights(fitted: dict[str, dict[str, float]]) -> None:
    flat = {f"{c}.{k}": v for c, subs in fitted.items() for k, v in subs.items()}
    name = "fitted_1s" if fitted is FITTED_1S else "fitted_5s"

    cfg = engine_config(profile=name)

    total = sum(flat.values())
    comps = profile_weights(flat)["components"]
    assert cfg.aggregator.rule == "graded"
    assert cfg.aggregator.weights == pytest.approx(
        {c: comps.get(c, 0.0) / total for c in cfg.aggregator.weights}
    )
    book = cfg.book_signals.weights
    assert book == pytest.approx({k: fitted["orderbook"].get(k, 0.0) for k in book})
