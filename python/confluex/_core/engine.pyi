# Filled by the engine work.
