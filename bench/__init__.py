"""Benchmarks run on demand: quality, speed, load, start-up, scale and storage, with the reports they write."""
