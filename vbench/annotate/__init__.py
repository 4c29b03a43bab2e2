"""Human aggressiveness ratings: a small local web app (Flask + SQLite) and the export into the dataset."""
