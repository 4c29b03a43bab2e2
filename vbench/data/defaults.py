"""Default Hub ids of the datasets vbench publishes (the one place they live), and how to get them offline."""

HUB_ORG = "vbench-personas"
DEFAULT_DATASETS = {
    "avatars": f"{HUB_ORG}/avatars",            # persona images + factor labels + human ratings
    "screenshots": f"{HUB_ORG}/value-spectrum",  # value-indexed screenshot split
    "results": f"{HUB_ORG}/results",            # leaderboard submissions
}
# What to do when a default dataset cannot be had (not on the Hub yet, or no network).
BUILD_HINTS = {
    "avatars": ("build it locally with `vbench data build-avatars --out avatars --model "
                "stable-diffusion-v1-5/stable-diffusion-v1-5` (GPU recipe in the README) or, for a small offline "
                "SYNTHETIC set, `vbench data synthetic-avatars --out avatars`; then pass --dataset avatars"),
    "screenshots": ("build the split locally with `vbench data build-corpus` then `vbench data build-split` "
                    "(or `vbench data synthetic-screenshots` for an offline demo) and pass --dataset FOLDER"),
    "results": "pass a local results folder instead",
}


def default_dataset(kind: str) -> str:
    return DEFAULT_DATASETS[kind]


def resolve_dataset(name: str) -> str:
    """A short name (``avatars``) → its default Hub id; anything else unchanged."""
    return DEFAULT_DATASETS.get(name, name)


def unavailable_message(spec: str, reason: str) -> str:
    """One line for a dataset that cannot be loaded; for a default id it says how to build it locally."""
    kind = next((k for k, v in DEFAULT_DATASETS.items() if v == spec), None)
    if kind is not None:
        return (f"default dataset {spec!r} is not available here ({reason}: offline, or not published on the Hub "
                f"yet); {BUILD_HINTS[kind]}")
    return (f"cannot load dataset {spec!r} ({reason}). Pass a local folder with --dataset, or build one "
            "(`vbench data --help`)")
