"""A catalog index: reading a catalog, storing the index, its vectors, building it; imports `core` and `models`."""
