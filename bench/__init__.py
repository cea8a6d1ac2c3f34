"""Benchmarks (``make bench``): outside the test suite, measured on real engines."""
