"""The leaderboard: submission format and checks, results-dataset I/O, the static site, verification.

Entry points: ``vbench validate``, ``vbench submit``, ``vbench leaderboard build|verify``.
"""
