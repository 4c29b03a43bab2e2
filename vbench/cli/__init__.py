"""Command-line interface (`vbench ...`)."""
