# Filled by the spsc_ring work.
