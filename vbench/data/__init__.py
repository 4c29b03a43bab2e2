"""Datasets: loading (local or Hub), builders (avatars, screenshot corpus) and Hub publishing."""
