"""Credential redaction for everything the execution layer lets out.

API keys and secrets must never reach a log, an error message, a ``repr`` or verbose output.
``redact`` masks them in a string; ``register_secrets`` installs a logging filter on this
package's and ccxt's loggers (ccxt's DEBUG log prints the API-key request header).

ccxt's ``verbose = True`` prints every request and response, headers included (Binance's
``X-MBX-APIKEY``), through ``Exchange.log``, a plain ``print``. ``guard_output`` replaces
that method on the exchange instance with one that prints the redacted text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "CREDENTIAL_ATTRS",
    "RedactingFilter",
    "guard_output",
    "redact",
    "register_secrets",
    "secrets_of",
]

# ccxt's credential attributes (``Exchange.requiredCredentials`` names).
CREDENTIAL_ATTRS = ("apiKey", "secret", "password", "uid", "privateKey", "walletAddress", "token")
_MIN_SECRET = 4  # shorter values would mask ordinary text


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-trivial secret replaced by ``***``."""
    for s in secrets:
        if s and len(s) >= _MIN_SECRET:
            text = text.replace(s, "***")
    return text


def secrets_of(exchange: Any) -> list[str]:
    """The credential values an exchange object carries (as strings)."""
    return [str(v) for a in CREDENTIAL_ATTRS if (v := getattr(exchange, a, None))]


class RedactingFilter(logging.Filter):
    """Masks registered credentials in log records (ccxt's DEBUG log prints API-key headers)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            msg = record.getMessage()
            masked = redact(msg, self.secrets)
            if masked != msg:
                record.msg, record.args = masked, None
        return True


_LOG_FILTER = RedactingFilter()
_FILTERED_LOGGERS = (
    "confluex.trading",
    "confluex.trading.execution",
    "confluex.trading.orders",
    "confluex.trading.fills",
    "confluex.trading.protection",
    "ccxt.base.exchange",
    "ccxt.async_support.base.exchange",
)


def register_secrets(secrets: Iterable[str]) -> None:
    """Mask ``secrets`` in every record of the execution layer's and ccxt's loggers."""
    _LOG_FILTER.secrets.update(s for s in secrets if s and len(s) >= _MIN_SECRET)
    for name in _FILTERED_LOGGERS:
        lg = logging.getLogger(name)
        if _LOG_FILTER not in lg.filters:
            lg.addFilter(_LOG_FILTER)


class _RedactedLog:
    """``Exchange.log`` replacement: the original output with the credentials masked."""

    def __init__(self, exchange: Any, original: Callable[..., object]) -> None:
        self._exchange = exchange
        self.original = original

    def __call__(self, *args: object) -> None:
        text = " ".join(str(a) for a in args)  # what print(*args) would write
        self.original(redact(text, secrets_of(self._exchange)))


def guard_output(exchange: Any) -> None:
    """Mask credentials in what ccxt prints (``verbose = True``) through ``exchange.log``."""
    current = getattr(exchange, "log", None)
    if callable(current) and not isinstance(current, _RedactedLog):
        exchange.log = _RedactedLog(exchange, current)
