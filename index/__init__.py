"""Building, storing and loading a catalog index. Imports `core` and `models`, never `search`."""
