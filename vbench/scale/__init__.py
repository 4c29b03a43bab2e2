"""Scaling out: sharded runs (``--shard I/N``), merging shards, and sweeps over models x tasks (local or Ray)."""
