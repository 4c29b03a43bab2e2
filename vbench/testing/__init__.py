"""Tiny random models and fixtures shared by tests, benchmarks and the offline demo."""
