# Filled by the signals work.
