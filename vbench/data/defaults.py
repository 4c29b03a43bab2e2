"""Default Hub ids of the datasets vbench publishes (the one place they live)."""

HUB_ORG = "vbench-personas"
DEFAULT_DATASETS = {
    "avatars": f"{HUB_ORG}/avatars",            # persona images + factor labels + human ratings
    "screenshots": f"{HUB_ORG}/value-spectrum",  # value-indexed screenshot split
    "results": f"{HUB_ORG}/results",            # leaderboard submissions
}


def default_dataset(kind: str) -> str:
    return DEFAULT_DATASETS[kind]
