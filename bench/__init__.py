"""Benchmarks (not tests): accuracy and throughput of the classifier."""
