"""`vbench annotate`: collect 1-7 human ratings in a local web app; `vbench annotate export` adds them to the data."""
from __future__ import annotations

from vbench.errors import UsageError


def add_parser(sub) -> None:
    p = sub.add_parser("annotate", help="collect human aggressiveness ratings in a local web app (+ export)",
                       description="Serve the rating app for a dataset (images in random order, 1-7 ratings, "
                                   "attention checks, SQLite). `vbench annotate export` writes the ratings back.")
    p.add_argument("--dataset", default=None, help="dataset folder, saved dataset, parquet or Hub id")
    p.add_argument("--db", default="ratings.sqlite", help="SQLite file for the ratings (default: ratings.sqlite)")
    p.add_argument("--raters", default=None, help="rater ids to register: a,b,c or @FILE (one per line)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a Host name the app answers besides loopback and --host (repeatable; e.g. the "
                        "machine's DNS name when serving on 0.0.0.0)")
    p.add_argument("--check-every", type=int, default=10, help="an attention check after every N images (0 = none)")
    p.add_argument("--id-column", default=None, help="column with unique item ids (default: id, else file name)")
    p.add_argument("--title", default="Rate the characters")
    p.set_defaults(func=run_serve)
    sp = p.add_subparsers(dest="annotate_command", parser_class=type(p))
    e = sp.add_parser("export", help="add human_rating, human_rating_n, human_rating_sd columns to the dataset")
    e.add_argument("--dataset", dest="export_dataset", required=True)
    e.add_argument("--db", dest="export_db", default="ratings.sqlite")
    e.add_argument("--out", default=None, help="output folder (default: update a local imagefolder in place)")
    e.add_argument("--min-check-pass", type=float, default=0.8,
                   help="leave out raters who passed fewer attention checks than this share (default 0.8)")
    e.add_argument("--id-column", dest="export_id_column", default=None)
    e.set_defaults(func=run_export)


def run_serve(args) -> int:
    from vbench.annotate.app import create_app
    from vbench.annotate.server import allowed_hosts, open_session, parse_raters, serve

    if not args.dataset:
        raise UsageError("--dataset is required (the images to rate)")
    items, store = open_session(args.dataset, args.db, parse_raters(args.raters), check_every=args.check_every,
                                id_column=args.id_column)
    print(f"{len(items)} images, {len(store.raters())} raters, ratings in {args.db}")
    app = create_app(items, store, title=args.title, allowed_hosts=allowed_hosts(args.host, args.allowed_host))
    serve(app, args.host, args.port, store)
    return 0


def run_export(args) -> int:
    from vbench.annotate.export import export_ratings

    r = export_ratings(args.export_dataset, args.export_db, args.out, min_check_pass=args.min_check_pass,
                       id_column=args.export_id_column)
    print(f"{r.out}: {r.rated_items} of {r.items} images rated ({r.ratings_used} ratings from {r.raters_used} raters)"
          + (f"; left out {len(r.excluded_raters)} raters below the attention-check bar: "
             + ", ".join(sorted(r.excluded_raters)) if r.excluded_raters else ""))
    return 0
