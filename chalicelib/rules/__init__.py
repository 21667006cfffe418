"""The data dictionary and the data rules, stated once; every fast path is generated from them."""
