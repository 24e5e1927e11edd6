"""ambench: a benchmarking and experiment suite for associative memories."""

__version__ = "0.1.0"
