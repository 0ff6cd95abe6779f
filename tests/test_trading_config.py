"""Trading config: schema defaults, validation messages, layering, presets and secrets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from confluex.trading import (
    ConfigError,
    ExchangeConfig,
    MonitorConfig,
    Thresholds,
    TradingConfig,
    available_presets,
    load_config,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "config" / "confluex.example.toml"
PRESETS = REPO / "config" / "presets"


def test_defaults_are_the_reference_values():
    cfg = load_config()

    t = cfg.confluence.thresholds
    assert (t.long, t.short, t.neutral_buffer) == (70, 35, 5)
    assert cfg.confluence.weights.as_dict() == {
        "orderflow": 0.30,
        "orderbook": 0.20,
        "volume": 0.18,
        "price_structure": 0.15,
        "technical": 0.10,
        "sentiment": 0.07,
    }
    m = cfg.monitor
    assert (m.min_reliability, m.cooldown_s, m.account_balance) == (0.3, 60, 10_000)
    assert (m.default_risk_pct, m.min_risk_pct, m.max_risk_pct) == (1.0, 0.5, 2.0)
    assert (m.long_stop_pct, m.short_stop_pct, m.risk_reward) == (3.0, 3.0, 2.0)
    pm = cfg.position_manager
    assert (pm.base_position_pct, pm.max_position_pct, pm.scale_factor) == (0.03, 0.10, 0.01)
    assert pm.trailing_stop_pct == 0.02
    assert (pm.scaling_threshold.long, pm.scaling_threshold.short) == (69, 31)
    assert cfg.risk.max_active_positions == 5
    assert cfg.risk.max_order_notional is None
    assert cfg.risk.kill_switch is False
    assert dict(cfg.exchanges) == {}


def test_example_file_loads_to_the_defaults_plus_its_venues():
    cfg = load_config(EXAMPLE)

    assert dataclasses.replace(cfg, exchanges=TradingConfig().exchanges) == TradingConfig()
    assert cfg.exchanges["binance"].market_type == "spot"
    assert cfg.exchanges["bybit"].mode == "sandbox"
    assert cfg.exchanges["bybit"].api_key_env == "BYBIT_API_KEY"


def test_defaults_round_trip_through_as_dict():
    cfg = load_config(EXAMPLE)

    again = load_config(cfg.as_dict())

    assert again == cfg


@pytest.mark.parametrize("name", ["paper", "conservative", "aggressive", "reference"])
def test_every_shipped_preset_loads(name):
    cfg = load_config(preset=name)

    assert isinstance(cfg, TradingConfig)
    assert name in available_presets()


def test_reference_preset_restores_the_code_scaling_thresholds():
    cfg = load_config(preset="reference")

    assert (
        cfg.position_manager.scaling_threshold.long,
        cfg.position_manager.scaling_threshold.short,
    ) == (75, 25)


def test_file_values_override_the_preset_and_the_rest_of_the_preset_stays(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[monitor]\ncooldown_s = 5\n")

    cfg = load_config(path, preset="conservative")

    assert cfg.monitor.cooldown_s == 5
    assert cfg.monitor.min_reliability == 0.5  # from the preset
    assert cfg.confluence.thresholds.long == 75  # from the preset


def test_dict_source_is_layered_over_defaults_key_by_key():
    cfg = load_config({"confluence": {"thresholds": {"long": 80}}})

    assert cfg.confluence.thresholds.long == 80
    assert cfg.confluence.thresholds.short == 35


def test_preset_can_be_a_path_and_presets_dir_is_searched(tmp_path):
    (tmp_path / "tiny.toml").write_text("[risk]\nmax_active_positions = 1\n")

    by_name = load_config(preset="tiny", presets_dir=tmp_path)
    by_path = load_config(preset=tmp_path / "tiny.toml")

    assert by_name.risk.max_active_positions == 1
    assert by_path == by_name


def test_unknown_preset_names_the_close_one():
    with pytest.raises(
        ConfigError, match=r"unknown preset 'conservativ' \(did you mean 'conservative'\?\)"
    ):
        load_config(preset="conservativ")


def test_long_not_above_short_names_both_keys_and_values():
    with pytest.raises(ConfigError) as err:
        load_config({"confluence": {"thresholds": {"long": 30, "short": 35}}})

    assert str(err.value) == (
        "confluence.thresholds.long must be > confluence.thresholds.short, was long=30, short=35"
    )
    assert err.value.key == "confluence.thresholds.long"
    assert isinstance(err.value, ValueError)


def test_threshold_outside_0_100_is_rejected():
    with pytest.raises(
        ConfigError, match=r"confluence\.thresholds\.short must be in \[0, 100\], was -1"
    ):
        load_config({"confluence": {"thresholds": {"short": -1}}})


def test_neutral_buffer_must_leave_room_between_thresholds():
    with pytest.raises(
        ConfigError, match=r"neutral_buffer must be >= 0 and < long - short \(35\), was 35"
    ):
        Thresholds(long=70, short=35, neutral_buffer=35)


def test_unknown_key_gets_a_did_you_mean_hint():
    with pytest.raises(
        ConfigError,
        match=r"unknown key monitor\.min_reliabilty \(did you mean 'min_reliability'\?\)",
    ) as err:
        load_config({"monitor": {"min_reliabilty": 0.5}})

    assert err.value.key == "monitor.min_reliabilty"


def test_unknown_section_is_rejected():
    with pytest.raises(ConfigError, match=r"unknown key trading; allowed here: "):
        load_config({"trading": {"demo_mode": True}})


def test_string_where_a_number_is_expected_is_rejected():
    with pytest.raises(ConfigError, match=r"monitor\.cooldown_s must be a number, was '60'"):
        load_config({"monitor": {"cooldown_s": "60"}})


def test_bool_is_not_a_number():
    with pytest.raises(ConfigError, match=r"monitor\.cooldown_s must be a number, was True"):
        load_config({"monitor": {"cooldown_s": True}})


def test_nan_is_rejected():
    with pytest.raises(
        ConfigError, match=r"monitor\.account_balance must be a finite number, was nan"
    ):
        load_config({"monitor": {"account_balance": float("nan")}})


def test_integer_field_rejects_a_float():
    with pytest.raises(
        ConfigError, match=r"risk\.max_active_positions must be an integer, was 5\.0"
    ):
        load_config({"risk": {"max_active_positions": 5.0}})


def test_section_that_is_not_a_table_is_rejected():
    with pytest.raises(ConfigError, match=r"monitor must be a table, was 3"):
        load_config({"monitor": 3})


def test_percentage_given_as_a_position_fraction_gets_a_unit_hint():
    with pytest.raises(
        ConfigError,
        match=r"base_position_pct must be a fraction in \(0, 1\], was 3 .*did you mean 0\.03\?",
    ):
        load_config({"position_manager": {"base_position_pct": 3}})


def test_base_above_max_position_is_rejected():
    with pytest.raises(ConfigError, match=r"was base=0\.2, max=0\.1"):
        load_config({"position_manager": {"base_position_pct": 0.2}})


@pytest.mark.parametrize(
    ("table", "replacement"),
    [
        ({"executor": {"buy_threshold": 68}}, r"confluence\.thresholds\.long"),
        ({"executor": {"sell_threshold": 35}}, r"confluence\.thresholds\.short"),
        ({"position_manager": {"min_confluence_score": 70}}, r"confluence\.thresholds\.long"),
    ],
    ids=("buy_threshold", "sell_threshold", "min_confluence_score"),
)
def test_removed_threshold_keys_name_the_one_threshold_source(table, replacement):
    with pytest.raises(ConfigError, match=rf"was removed: .*one source, {replacement}"):
        load_config(table)


def test_with_thresholds_overrides_the_one_source_and_validates():
    cfg = load_config(preset="conservative")

    assert cfg.with_thresholds() is cfg
    moved = cfg.with_thresholds(long=80)
    assert (moved.confluence.thresholds.long, moved.confluence.thresholds.short) == (80, 25)
    assert moved.monitor == cfg.monitor
    with pytest.raises(ConfigError, match=r"confluence\.thresholds\.long must be > "):
        cfg.with_thresholds(long=20)


def test_scaling_thresholds_must_be_ordered():
    with pytest.raises(
        ConfigError, match=r"scaling_threshold\.long must be > .*was long=25, short=75"
    ):
        load_config({"position_manager": {"scaling_threshold": {"long": 25, "short": 75}}})


def test_weights_must_sum_to_one_within_tolerance():
    with pytest.raises(ConfigError, match=r"confluence\.weights must sum to 1 ± 0\.05, was 1\.3"):
        load_config({"confluence": {"weights": {"orderflow": 0.6}}})


def test_normalized_weights_sum_to_one():
    cfg = load_config({"confluence": {"weights": {"orderflow": 0.33}}})

    assert sum(cfg.confluence.weights.normalized().values()) == pytest.approx(1.0)


def test_default_risk_outside_min_max_is_rejected_not_clamped():
    with pytest.raises(
        ConfigError, match=r"default_risk_pct must be in .*was default=3, min=0\.5, max=2"
    ):
        MonitorConfig(default_risk_pct=3.0)


def test_short_take_profit_that_would_go_negative_is_rejected():
    with pytest.raises(ConfigError, match=r"short's take-profit stays above 0"):
        MonitorConfig(risk_reward=10.0, short_stop_pct=10.0)


def test_order_rate_limit_is_validated_naming_the_key():
    cfg = load_config({"risk": {"max_orders_per_window": 50, "order_window_s": 10}})
    with pytest.raises(ConfigError, match=r"risk\.max_orders_per_window must be >= 1, was 0"):
        load_config({"risk": {"max_orders_per_window": 0}})
    with pytest.raises(ConfigError, match=r"risk\.max_orders_per_window must be an integer"):
        load_config({"risk": {"max_orders_per_window": 2.5}})
    with pytest.raises(ConfigError, match=r"risk\.order_window_s must be in .*was 0"):
        load_config({"risk": {"order_window_s": 0}})

    assert (cfg.risk.max_orders_per_window, cfg.risk.order_window_s) == (50, 10.0)
    assert TradingConfig().risk.max_orders_per_window is None  # no limit by default


def test_risk_limits_must_be_positive_and_order_within_symbol():
    with pytest.raises(ConfigError, match=r"risk\.daily_loss_limit must be > 0, was -5"):
        load_config({"risk": {"daily_loss_limit": -5}})
    with pytest.raises(
        ConfigError, match=r"max_order_notional must be <= risk\.max_symbol_notional"
    ):
        load_config({"risk": {"max_order_notional": 500, "max_symbol_notional": 100}})


def test_max_total_notional_is_validated_and_reaches_the_risk_manager():
    from confluex.replay_trader import risk_manager

    cfg = load_config({"risk": {"max_symbol_notional": 2_000, "max_total_notional": 5_000}})
    limits = risk_manager(cfg.risk, lambda: 0).limits

    assert cfg.risk.max_total_notional == 5_000.0 and limits.max_total_notional == 5_000.0
    assert load_config().risk.max_total_notional is None  # no limit by default
    assert risk_manager(load_config().risk, lambda: 0).limits.max_total_notional is None
    with pytest.raises(ConfigError, match=r"risk\.max_total_notional must be > 0, was 0"):
        load_config({"risk": {"max_total_notional": 0}})
    with pytest.raises(
        ConfigError,
        match=r"risk\.max_symbol_notional must be <= risk\.max_total_notional, was "
        r"symbol=3000, total=2000",
    ):
        load_config({"risk": {"max_symbol_notional": 3_000, "max_total_notional": 2_000}})
    with pytest.raises(ConfigError, match=r"max_order_notional must be <= risk\.max_total"):
        load_config({"risk": {"max_order_notional": 3_000, "max_total_notional": 2_000}})


def test_config_sections_are_frozen():
    cfg = load_config()

    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.monitor.cooldown_s = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.exchanges["x"] = ExchangeConfig(name="x")  # type: ignore[index]


def test_invalid_toml_is_a_config_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[monitor\ncooldown_s = 1\n")

    with pytest.raises(ConfigError, match=r"is not valid TOML"):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"does not exist"):
        load_config(tmp_path / "nope.toml")


# ------------------------------------------------------------------------------ exchanges


def test_exchange_id_defaults_to_the_table_name():
    cfg = load_config({"exchanges": {"bybit": {"market_type": "swap"}}})

    assert cfg.exchanges["bybit"].id == "bybit"
    assert cfg.exchanges["bybit"].mode == "paper"


def test_exchange_market_type_must_be_spot_or_swap():
    with pytest.raises(
        ConfigError, match=r"exchanges\.bybit\.market_type must be 'spot' or 'swap', was 'linear'"
    ):
        load_config({"exchanges": {"bybit": {"market_type": "linear"}}})


def test_secret_in_the_file_is_refused_without_echoing_it():
    secret = "s3cr3t-VALUE-123"

    with pytest.raises(ConfigError) as err:
        load_config({"exchanges": {"bybit": {"api_key": secret}}})

    assert "secrets must not be stored in the config file" in str(err.value)
    assert "exchanges.bybit.api_key_env" in str(err.value)
    assert secret not in str(err.value)


def test_env_name_that_looks_like_a_pasted_key_is_refused_without_echoing_it():
    pasted = "abc-DEF/123+xyz="

    with pytest.raises(ConfigError) as err:
        load_config({"exchanges": {"bybit": {"api_key_env": pasted}}})

    assert err.value.key == "exchanges.bybit.api_key_env"
    assert pasted not in str(err.value)


def test_credentials_are_read_from_the_named_variables_and_never_shown():
    ex = ExchangeConfig(name="bybit", api_key_env="K_VAR", secret_env="S_VAR")

    creds = ex.credentials({"K_VAR": "the-key", "S_VAR": "the-secret"})

    assert (creds.api_key, creds.secret) == ("the-key", "the-secret")
    assert creds.as_ccxt() == {"apiKey": "the-key", "secret": "the-secret"}
    assert "the-key" not in repr(creds) and "the-secret" not in repr(creds)
    assert "the-key" not in str(creds)


def test_missing_credential_variable_is_named_but_not_valued():
    ex = ExchangeConfig(name="bybit", api_key_env="K_VAR", secret_env="S_VAR")

    with pytest.raises(
        ConfigError, match=r"environment variable S_VAR \(exchanges\.bybit\.secret_env\) is not set"
    ) as err:
        ex.credentials({"K_VAR": "the-key"})

    assert "the-key" not in str(err.value)


def test_credentials_without_configured_variable_names_say_which_key():
    ex = ExchangeConfig(name="binance")

    with pytest.raises(ConfigError, match=r"exchanges\.binance\.api_key_env is not set"):
        ex.credentials({})


def test_credentials_read_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("CFX_TEST_KEY", "k1")
    monkeypatch.setenv("CFX_TEST_SECRET", "s1")
    ex = ExchangeConfig(name="bybit", api_key_env="CFX_TEST_KEY", secret_env="CFX_TEST_SECRET")

    assert ex.credentials().secret == "s1"


def test_live_in_the_file_needs_a_runtime_opt_in():
    cfg = load_config(
        {"exchanges": {"bybit": {"live": True, "api_key_env": "K", "secret_env": "S"}}}
    )
    ex = cfg.exchanges["bybit"]

    with pytest.raises(
        ConfigError, match=r"exchanges\.bybit\.live is true but live trading was not enabled"
    ):
        ex.check_live_opt_in(allow_live=False)
    ex.check_live_opt_in(allow_live=True)
    assert ex.mode == "live"


def test_paper_venue_needs_no_opt_in():
    ExchangeConfig(name="binance").check_live_opt_in(allow_live=False)


def test_live_requires_credential_variable_names():
    with pytest.raises(ConfigError, match=r"live = true requires exchanges\.bybit\.api_key_env"):
        load_config({"exchanges": {"bybit": {"live": True}}})


def test_live_and_sandbox_together_are_contradictory():
    with pytest.raises(
        ConfigError, match=r"live and exchanges\.bybit\.sandbox cannot both be true"
    ):
        ExchangeConfig(name="bybit", live=True, sandbox=True, api_key_env="K", secret_env="S")


def test_exchange_name_is_not_a_settable_key():
    with pytest.raises(ConfigError, match=r"unknown key exchanges\.bybit\.name"):
        load_config({"exchanges": {"bybit": {"name": "other"}}})
