"""``foley library add|list|search|remove|stats``: the sound-effects library index."""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from bridge.errors import InputError
from bridge.kinds import KINDS

KIND_CHOICES = KINDS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("library", help="index and search your own sound-effects library",
                              description="Index folders of sound effects (WAV, FLAC, AIFF, OGG, MP3) for "
                                          "`foley run VIDEO --backend library`.")
    sub = p.add_subparsers(dest="library_command", metavar="ACTION")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--db", metavar="PATH", help="index file (default: the user data folder, or "
                                                     "$FOLEY_BRIDGE_DATA/library.sqlite)")
        sp.add_argument("--json", action="store_true", help="print JSON on stdout, no progress bar")

    a = sub.add_parser("add", help="index folders (only new or changed files are read; resumable)")
    a.add_argument("dirs", nargs="+", metavar="DIR")
    common(a)
    a.set_defaults(func=cmd_add)

    ls = sub.add_parser("list", help="the library folders and their file counts")
    ls.add_argument("--skipped", action="store_true", help="list the files left out and why")
    common(ls)
    ls.set_defaults(func=cmd_list)

    s = sub.add_parser("search", help="find sounds by words in names, UCS categories and descriptions")
    s.add_argument("text", metavar="TEXT")
    s.add_argument("--kind", action="append", choices=KIND_CHOICES, default=[],
                   help="only files that fit this event kind (repeatable)")
    s.add_argument("--limit", type=int, default=20, help="at most this many results (default: 20)")
    common(s)
    s.set_defaults(func=cmd_search)

    r = sub.add_parser("remove", help="forget a library folder (files on disk are not touched)")
    r.add_argument("dir", metavar="DIR")
    common(r)
    r.set_defaults(func=cmd_remove)

    st = sub.add_parser("stats", help="counts by event kind and category, skipped files, index location")
    common(st)
    st.set_defaults(func=cmd_stats)

    p.set_defaults(func=lambda args: _help(p))


def _help(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2


def _index(args: argparse.Namespace) -> Any:
    from models.library import LibraryIndex

    return LibraryIndex(args.db)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int, str], None]]:
    """A rich bar ``files M/N, files/s`` on stderr; silent when not a terminal or with --json."""
    if not enabled or not sys.stderr.isatty():
        yield lambda done, total, path: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("Indexing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[name]}"),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    task = bar.add_task("index", total=None, name="")
    with bar:
        def update(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, name=path.rsplit("/", 1)[-1][:40])

        yield update


def cmd_add(args: argparse.Namespace) -> int:
    with _index(args) as index, _progress(not args.json) as progress:
        report = index.add(args.dirs, progress=progress)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return 0
    rate = len(report.analysed) / report.seconds if report.seconds > 0 else 0.0
    print(f"{report.scanned} files in {', '.join(report.roots)}: {report.added} new, {report.updated} changed, "
          f"{report.unchanged} unchanged, {report.removed} gone ({len(report.analysed)} read, {rate:.0f} files/s)")
    for path, reason in sorted(report.skipped.items()):
        print(f"  skipped {path}: {reason}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from models import kit

    with _index(args) as index:
        roots = index.list_roots()
        skipped = index.skipped() if args.skipped else []
    built_in = kit.summary()
    if args.json:
        doc = {"roots": roots, "built_in": [built_in]}
        print(json.dumps(dict(doc, skipped=skipped) if args.skipped else doc, indent=2))
        return 0
    if not roots:
        print("no library folders of your own; add one with: foley library add DIR")
    for r in roots:
        missing = "" if r["exists"] else "  (folder missing)"
        print(f"{r['path']}  {r['files']} files, {r['skipped']} skipped{missing}")
    licences = ", ".join(f"{n} {lic}" for lic, n in kit.licence_counts().items())
    print(f"{built_in['path']}  {built_in['files']} files (built-in kit, used after your library; {licences}; "
          "see foley credits)")
    for s in skipped:
        print(f"  skipped {s['path']}: {s['reason']}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise InputError(f"--limit {args.limit} must be at least 1")
    with _index(args) as index:
        hits = index.search(args.text, kinds=args.kind or None, limit=args.limit)
    if args.json:
        print(json.dumps([h.to_json() for h in hits], indent=2))
        return 0
    if not hits:
        print(f"no sounds match {args.text!r}")
    for h in hits:
        category = f"{h.category}/{h.subcategory}"
        print(f"{h.score:5.2f}  {category:<24} {h.duration_s:6.2f}s  {h.path}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    with _index(args) as index:
        n = index.remove(args.dir)
    if args.json:
        print(json.dumps({"removed": args.dir, "files": n}))
    else:
        print(f"forgot {n} files under {args.dir} (nothing deleted on disk)")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with _index(args) as index:
        stats = index.stats()
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"index {stats['db']}: {stats['roots']} folders, {stats['files']} usable files "
          f"({stats['hours']:.2f} h), {stats['skipped']} skipped")
    print("by event kind: " + ", ".join(f"{k} {n}" for k, n in stats["by_kind"].items()))
    print("by category:   " + ", ".join(f"{k} {n}" for k, n in stats["by_category"].items()))
    for reason, n in stats["skip_reasons"].items():
        print(f"  skipped {n}: {reason}")
    return 0
