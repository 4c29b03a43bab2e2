"""The factorial avatar design: versioned prompt templates → one planned item (prompt, seed, labels) per image.

Item ``i`` depends only on (templates, design seed, varied factors, i), never on the total count, so a
build can be extended and every image can be regenerated alone from its recorded prompt and seed.
"""
from __future__ import annotations

import difflib
import hashlib
import itertools
import random
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from vbench.errors import UsageError
from vbench.runners.scheduler import derive_seed

FACTORS: tuple[str, ...] = ("weapon", "smile", "teeth", "covered_face", "black_clothes", "white_clothes")
PAPER_SIZE = 5185  # images in the study (never released)


class FactorText(BaseModel):
    on: list[str] = Field(min_length=1)
    off: list[str] = Field(default_factory=list)
    negative_off: str = ""


class VerifySpec(BaseModel):
    suffix: str = "Answer yes or no."
    options: tuple[str, str] = ("yes", "no")
    questions: dict[str, str]


class Templates(BaseModel):
    """One versioned template file (``templates/v<version>.yaml``)."""

    version: str
    prompt: str
    negative_prompt: str = ""
    factors: dict[str, FactorText]
    exclusive: list[list[str]] = Field(default_factory=list)
    neutral_clothes: list[str] = Field(default_factory=list)
    subjects: list[str] = Field(min_length=1)
    species: list[str] = Field(min_length=1)
    styles: list[str] = Field(min_length=1)
    backgrounds: list[str] = Field(min_length=1)
    verify: VerifySpec
    sha256: str = ""

    @model_validator(mode="after")
    def _known_names(self) -> "Templates":
        for group in self.exclusive:
            for name in group:
                if name not in self.factors:
                    raise ValueError(f"exclusive group names unknown factor {name!r}")
        missing = set(self.factors) - set(self.verify.questions)
        if missing:
            raise ValueError(f"verify.questions lacks {sorted(missing)[0]!r}")
        return self


class AvatarItem(BaseModel):
    """A planned image: everything needed to (re)generate it and its labels."""

    index: int
    id: str
    file_name: str
    prompt: str
    negative_prompt: str
    seed: int
    factors: dict[str, int]
    subject: str
    species: str
    style: str
    background: str


def available_versions() -> list[str]:
    files = resources.files("vbench.data.avatars").joinpath("templates").iterdir()
    return sorted(f.name[1:-5] for f in files if f.name.startswith("v") and f.name.endswith(".yaml"))


def load_templates(spec: str = "1") -> Templates:
    """``spec`` is a shipped version ("1", "v1") or the path of a template YAML file."""
    path = Path(spec)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise UsageError(f"--templates: file not found: {path}")
        text = path.read_text(encoding="utf-8")
    else:
        version = spec[1:] if spec.startswith("v") else spec
        if version not in available_versions():
            raise UsageError(f"--templates: unknown version {spec!r} (shipped: {', '.join(available_versions())}; "
                             "or give the path of a .yaml file)")
        text = resources.files("vbench.data.avatars").joinpath(f"templates/v{version}.yaml").read_text("utf-8")
    try:
        templates = Templates.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as exc:
        raise UsageError(f"--templates {spec}: invalid template file ({str(exc).splitlines()[0][:200]})") from None
    return templates.model_copy(update={"sha256": hashlib.sha256(text.encode()).hexdigest()})


def check_factors(names: list[str] | None, templates: Templates) -> list[str]:
    """The factors to vary (default: all); an unknown name is a usage error with a suggestion."""
    if not names:
        return list(templates.factors)
    out = []
    for name in names:
        if name not in templates.factors:
            close = difflib.get_close_matches(name, list(templates.factors), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"unknown factor {name!r}{hint} (known: {', '.join(templates.factors)})")
        if name not in out:
            out.append(name)
    return out


def cells(templates: Templates, vary: list[str]) -> list[dict[str, int]]:
    """Every allowed on/off combination of the varied factors (the others stay off)."""
    out = []
    for combo in itertools.product((0, 1), repeat=len(vary)):
        cell = {f: 0 for f in templates.factors}
        cell.update(dict(zip(vary, combo)))
        if all(sum(cell[f] for f in group) <= 1 for group in templates.exclusive):
            out.append(cell)
    return out


def _item(templates: Templates, index: int, cell: dict[str, int], seed: int) -> AvatarItem:
    rng = random.Random(derive_seed(seed, "item", index))
    phrases, negative = [], [templates.negative_prompt] if templates.negative_prompt else []
    for name, text in templates.factors.items():
        if cell[name]:
            phrases.append(rng.choice(text.on))
        else:
            if text.off:
                phrases.append(rng.choice(text.off))
            if text.negative_off:
                negative.append(text.negative_off)
    if templates.neutral_clothes and not any(cell.get(f) for f in ("black_clothes", "white_clothes")):
        phrases.append(rng.choice(templates.neutral_clothes))
    pick = {k: rng.choice(getattr(templates, k)) for k in ("subjects", "species", "styles", "backgrounds")}
    prompt = templates.prompt.format(style=pick["styles"], subject=pick["subjects"], species=pick["species"],
                                     background=pick["backgrounds"], factors=", ".join(phrases))
    item_id = f"avatar-{index:05d}"
    return AvatarItem(index=index, id=item_id, file_name=f"images/{item_id}.png", prompt=prompt,
                      negative_prompt=", ".join(negative), seed=derive_seed(seed, "image", index), factors=cell,
                      subject=pick["subjects"], species=pick["species"], style=pick["styles"],
                      background=pick["backgrounds"])


def make_design(templates: Templates, n: int, seed: int = 0, vary: list[str] | None = None) -> list[AvatarItem]:
    """``n`` items; every block of len(cells) consecutive items holds each factor cell once (balanced)."""
    if n < 1:
        raise UsageError("--n must be >= 1")
    vary = check_factors(vary, templates)
    all_cells = cells(templates, vary)
    items: list[AvatarItem] = []
    for block in itertools.count():
        order = list(range(len(all_cells)))
        random.Random(derive_seed(seed, "block", block)).shuffle(order)
        for j in order:
            if len(items) == n:
                return items
            items.append(_item(templates, len(items), all_cells[j], seed))
    raise AssertionError("unreachable")
