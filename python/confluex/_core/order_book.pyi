# Filled by the order_book work.
