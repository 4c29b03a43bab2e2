"""`vbench data build-avatars` (diffusers) and `vbench data verify-avatars` (VLM yes/no per factor)."""
from __future__ import annotations

from vbench.cli.argtypes import positive_int
from vbench.errors import UsageError


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def add_data_parser(sub) -> None:
    p = sub.add_parser("build-avatars", help="render the factorial avatar design with a diffusers pipeline",
                       description="Render the factor-controlled avatar design with any diffusers text-to-image "
                                   "pipeline into an HF imagefolder dataset (+ card). Re-run the same command to resume.")
    p.add_argument("--out", required=True, help="output folder (imagefolder layout)")
    p.add_argument("--model", default="stable-diffusion-v1-5/stable-diffusion-v1-5",
                   help="diffusers pipeline: Hub id or local folder (SD 1.5, SDXL, ...)")
    p.add_argument("--n", type=positive_int, default=5185, help="number of images (default: the study's 5,185)")
    p.add_argument("--batch-size", "--batch_size", type=positive_int, default=8)
    p.add_argument("--factors", type=_names, default=None,
                   help="factors to vary (default all: weapon,smile,teeth,covered_face,black_clothes,white_clothes)")
    p.add_argument("--templates", default="1", help="template version (default 1) or a template .yaml file")
    p.add_argument("--seed", type=int, default=0, help="design seed; each image's seed derives from it")
    p.add_argument("--steps", type=positive_int, default=30)
    p.add_argument("--guidance", type=float, default=7.5)
    p.add_argument("--height", type=positive_int, default=512)
    p.add_argument("--width", type=positive_int, default=512)
    p.add_argument("--device", default="auto", help="auto (cuda if available), cuda, cuda:1, cpu")
    p.add_argument("--dtype", default="auto", help="auto (float16 on GPU, float32 on CPU), float16, bfloat16, float32")
    p.add_argument("--revision", default=None)
    p.add_argument("--cpu-offload", action="store_true", help="diffusers model CPU offload (small GPUs)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (prompts, seeds, labels) and stop")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run_build)

    v = sub.add_parser("verify-avatars", help="ask a VLM yes/no per factor; report agreement, flag unrendered factors")
    v.add_argument("folder", help="an avatar build folder")
    v.add_argument("--model", required=True, help="backend or model-zoo alias (as in `vbench eval`)")
    v.add_argument("--model_args", "--model-args", default="")
    v.add_argument("--factors", type=_names, default=None, help="factors to check (default all)")
    v.add_argument("--threshold", type=float, default=0.5, help="P(yes) at or above which a factor counts as seen")
    v.add_argument("--batch_size", "--batch-size", default="auto")
    v.add_argument("--no-cache", dest="use_cache", action="store_false")
    v.add_argument("--quiet", action="store_true")
    v.set_defaults(func=run_verify)


def run_build(args) -> int:
    from vbench.data.avatars.builder import BuildSpec, build_avatars

    spec = BuildSpec(model_id=args.model, templates=args.templates, seed=args.seed, factors=args.factors or [],
                     n=args.n, height=args.height, width=args.width, steps=args.steps, guidance_scale=args.guidance)
    if args.dry_run:
        return _dry_run(spec)
    stats = build_avatars(args.out, spec, batch_size=args.batch_size, device=args.device, dtype=args.dtype,
                          revision=args.revision, cpu_offload=args.cpu_offload, progress=not args.quiet)
    print(f"{args.out}: {stats.generated} generated, {stats.skipped} already there, {stats.total} planned "
          f"({stats.overhead:.1%} of the time outside the pipeline)")
    return 0


def _dry_run(spec) -> int:
    import collections
    import json

    from vbench.data.avatars.design import load_templates, make_design

    templates = load_templates(spec.templates)
    items = make_design(templates, spec.n, spec.seed, spec.factors or None)
    for item in items[:5]:
        print(json.dumps({"id": item.id, "seed": item.seed, "prompt": item.prompt, **item.factors}))
    cells = collections.Counter(tuple(sorted(i.factors.items())) for i in items)
    print(f"... {len(items)} images, template v{templates.version}, {len(cells)} factor cells "
          f"({min(cells.values())}-{max(cells.values())} images each)")
    return 0


def run_verify(args) -> int:
    from vbench.data.avatars.verify import REPORT, verify_avatars

    batch = args.batch_size if args.batch_size == "auto" else int(args.batch_size) if args.batch_size.isdigit() else None
    if batch is None:
        raise UsageError(f"--batch_size: expected a positive integer or 'auto', got {args.batch_size!r}")
    report = verify_avatars(args.folder, args.model, args.model_args, factors=args.factors, threshold=args.threshold,
                            batch_size=batch, use_cache=args.use_cache, progress=not args.quiet)
    print(f"{'factor':<15} agreement  95% CI          kappa  not rendered")
    for name, f in report.factors.items():
        a = f.agreement
        ci = f"[{a.ci_low:.2f}, {a.ci_high:.2f}]" if a.ci_low is not None else "–"
        kappa = f"{f.kappa:.2f}" if f.kappa is not None else "–"
        value = f"{a.value:.2f}" if a.value is not None else "–"
        print(f"{name:<15} {value:>9}  {ci:<14} {kappa:>6}  {f.not_rendered:>12}")
    print(f"{len(report.flagged)} of {report.images} images flagged; report: {args.folder}/{REPORT}"
          + (f"; {report.errors} errors (re-run to retry)" if report.errors else ""))
    return 0
