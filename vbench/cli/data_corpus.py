"""`vbench data build-corpus | build-split | publish-split | synthetic-screenshots`: the screenshot corpus."""
from __future__ import annotations

import sys

from vbench.cli.argtypes import positive_int


def add_data_parser(sub) -> None:
    p = sub.add_parser("build-corpus", help="embed a folder / HF dataset of screenshots with CLIP into a faiss corpus",
                       description="Embed every image of SOURCE with CLIP (batched, streamed, resumable: re-run the "
                                   "same command after an interruption) into a corpus folder. Unreadable images are "
                                   "skipped and listed in OUT/skipped.json.")
    p.add_argument("--source", required=True, help="image folder (optionally imagefolder layout with metadata.jsonl: "
                                                   "platform, post_date, url, caption), saved dataset, parquet or Hub id")
    p.add_argument("--out", required=True, help="corpus folder to write")
    p.add_argument("--clip-model", "--clip_model", default=None,
                   help="CLIP model id or folder (default openai/clip-vit-base-patch32)")
    p.add_argument("--batch-size", "--batch_size", type=positive_int, default=64, help="images per CLIP batch")
    p.add_argument("--shard-size", "--shard_size", type=positive_int, default=4096, help="rows per resumable shard")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    p.add_argument("--index", choices=["auto", "flat", "ivf", "hnsw"], default="auto",
                   help="faiss index: exact flat below --index-threshold items, IVF above (auto)")
    p.add_argument("--index-threshold", "--index_threshold", type=positive_int, default=200_000)
    p.add_argument("--id-column", "--id_column", default=None, help="source column holding item ids")
    p.add_argument("--platform-from-folder", action="store_true",
                   help="use the first sub-folder name (tiktok/, youtube/, ...) as platform when there is no column")
    p.add_argument("--limit", type=positive_int, default=None, help="first N source rows only")
    p.add_argument("--overwrite", action="store_true", help="discard an existing corpus or interrupted build in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_build_corpus)

    s = sub.add_parser("build-split", help="retrieve the top-k screenshots per Schwartz keyword into the eval split",
                       description="Embed every keyword of the value set with the corpus's CLIP, take the top-k "
                                   "nearest screenshots per keyword (de-duplicated within a value) into CORPUS/split, "
                                   "and write the per-value abundance table and chart.")
    s.add_argument("--corpus", required=True, help="corpus folder from build-corpus")
    s.add_argument("--top-k", "--top_k", type=positive_int, default=5, help="screenshots per keyword (default 5)")
    s.add_argument("--values", default=None, help="a value/keyword YAML file (default: the packaged schwartz.yaml)")
    s.add_argument("--radius", type=float, default=1.5, help="abundance radius (L2 on unit vectors; default 1.5)")
    s.add_argument("--reuse-across-values", "--reuse_across_values", action="store_true",
                   help="let one screenshot serve several values (default: each serves one; reuse is reported)")
    s.add_argument("--text-template", "--text_template", default="{keyword}",
                   help="text embedded per keyword, e.g. 'a screenshot of {keyword}' (default: the keyword)")
    s.add_argument("--clip-model", "--clip_model", default=None,
                   help="where to load the corpus's CLIP from if it moved (default: meta.json's clip_model)")
    s.add_argument("--device", default="auto")
    s.set_defaults(func=run_build_split)

    u = sub.add_parser("publish-split", help="write the split as a Hub-ready folder (parquet + card) and optionally push it")
    u.add_argument("--corpus", required=True, help="corpus folder with a built split")
    u.add_argument("--out", default=None, help="folder to write (default CORPUS/publish)")
    u.add_argument("--push-to-hub", "--push_to_hub", default=None, metavar="ORG/NAME", help="also upload to this Hub dataset repo")
    u.add_argument("--private", action="store_true", help="create the Hub repo private")
    u.set_defaults(func=run_publish)

    y = sub.add_parser("synthetic-screenshots",
                       help="draw SYNTHETIC portrait 'screenshots' with metadata (offline demos, not the study's data)")
    y.add_argument("--out", required=True)
    y.add_argument("--n", type=positive_int, default=200)
    y.add_argument("--seed", type=int, default=0)
    y.add_argument("--tiny-clip", "--tiny_clip", default=None, metavar="DIR",
                   help="also write a tiny random CLIP model there (its vectors are noise)")
    y.set_defaults(func=run_synthetic)


def run_build_corpus(args) -> int:
    from vbench.data.corpus.build import build_corpus

    r = build_corpus(args.source, args.out, clip_model=args.clip_model, batch_size=args.batch_size,
                     shard_size=args.shard_size, device=args.device, index=args.index,
                     index_threshold=args.index_threshold, id_column=args.id_column, limit=args.limit,
                     platform_from_folder=args.platform_from_folder, overwrite=args.overwrite,
                     progress=not args.quiet)
    speed = f", {r.images_per_s} images/s" if r.images_per_s else ""
    resumed = f" ({r.resumed_rows} resumed from an earlier run)" if r.resumed_rows else ""
    print(f"corpus {r.path}: {r.n_items} items, {r.dim}-d, {r.index_type} index{resumed}{speed}")
    if r.n_skipped:
        print(f"skipped {r.n_skipped} unreadable image(s), listed in {r.path}/skipped.json; first: "
              f"{r.skipped[0]['id']}: {r.skipped[0]['reason']}", file=sys.stderr)
    print(f"next: vbench data build-split --corpus {r.path}")
    return 0


def run_build_split(args) -> int:
    from vbench.data.corpus.split import build_split

    r = build_split(args.corpus, top_k=args.top_k, values_file=args.values, radius=args.radius,
                    text_template=args.text_template, clip_model=args.clip_model, device=args.device,
                    reuse=args.reuse_across_values)
    print(f"split {r.path}: {r.n_rows} rows over {len(r.per_value)} values (keyword set {r.schwartz_version}, top-{r.top_k})"
          + (f"; {r.reused_items} screenshot(s) serve more than one value" if r.reuse else ""))
    if r.short_keywords:
        print(f"{len(r.short_keywords)} keyword(s) got fewer than {r.top_k} images (corpus too small): "
              f"{', '.join(r.short_keywords[:5])}", file=sys.stderr)
    print(f"abundance table and chart: {args.corpus}/abundance.csv, abundance.png")
    print(f"next: vbench eval --model MODEL --tasks value_spectrum --dataset {args.corpus}")
    return 0


def run_publish(args) -> int:
    from vbench.data.corpus.publish import export_split, push_folder

    folder = export_split(args.corpus, args.out)
    print(f"published-format split: {folder} (data/*.parquet + README.md card)")
    if args.push_to_hub:
        print(f"pushed: {push_folder(folder, args.push_to_hub, private=args.private)}")
    return 0


def run_synthetic(args) -> int:
    from vbench.data.corpus.synthetic import build_synthetic_screenshots

    print(f"synthetic screenshots (not the study's data): {build_synthetic_screenshots(args.out, n=args.n, seed=args.seed)}")
    if args.tiny_clip:
        from vbench.testing.tiny_models import build_tiny_clip

        print(f"tiny random CLIP (vectors are noise): {build_tiny_clip(args.tiny_clip, seed=args.seed)}")
    return 0
