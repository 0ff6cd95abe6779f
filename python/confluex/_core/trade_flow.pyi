# Filled by the trade_flow work.
