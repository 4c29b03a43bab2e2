"""Backends (one module each), the scheduler that drives episodes, and the response cache."""
