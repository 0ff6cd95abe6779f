# Filled by the aggregator work.
