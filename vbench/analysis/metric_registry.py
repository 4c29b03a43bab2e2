"""Named aggregations exposed through the metrics registry (`vbench ls metrics`)."""
from __future__ import annotations

from vbench.registry.core import Registry

BUILTIN = {
    "mean": ("vbench.analysis.stats:mean", "Mean with percentile-bootstrap 95% CI"),
    "rate": ("vbench.analysis.stats:rate", "Share of true flags with bootstrap 95% CI"),
    "pearson": ("vbench.analysis.stats:pearson", "Pearson r with Fisher-z 95% CI"),
    "spearman": ("vbench.analysis.stats:spearman", "Spearman rho with Fisher-z 95% CI"),
    "distribution": ("vbench.analysis.stats:distribution", "Share of each value over a fixed support"),
    "ols": ("vbench.analysis.stats:ols", "OLS with intercept; cluster-robust SEs by option (statsmodels)"),
    "pronouns": ("vbench.analysis.text:pronoun_counts", "Counts of we/us/our, I/me/my and you/your in a text"),
    "sentiment": ("vbench.analysis.text:sentiment", "VADER compound sentiment of a text (vaderSentiment)"),
}


def register_all(registry: Registry) -> None:
    for name, (target, description) in BUILTIN.items():
        registry.register(name, target, description)
