"""Statistics shared by all tasks: bootstrap CIs, correlations, OLS, text features."""
