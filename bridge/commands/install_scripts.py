"""``foley install-scripts resolve|reaper``: copy the host scripts into the host's script folder."""
from __future__ import annotations

import argparse

NEXT_STEPS = {
    "resolve": "In DaVinci Resolve: open a timeline on the Edit page, then Workspace > Scripts > "
               "Foley Bridge - Generate (restart Resolve if the entry is not listed yet).",
    "reaper": "In REAPER: Actions > Show action list > New action > Load ReaScript..., choose the three "
              "'Foley Bridge - ...' scripts in that folder, then run 'Foley Bridge - generate for selected items'.",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("install-scripts", help="install the DaVinci Resolve or REAPER scripts",
                              description="Copy the host scripts into the host's script folder and write a "
                                          "config naming this foley command.")
    p.add_argument("host", choices=("resolve", "reaper"))
    p.add_argument("--dest", metavar="DIR", help="install into DIR instead of the host's script folder")
    p.add_argument("--port", type=int, metavar="PORT", help="daemon port the scripts use (default: the daemon's)")
    p.add_argument("--foley", metavar="PATH", help="foley command the scripts run (default: this one)")
    p.add_argument("--work-dir", metavar="DIR",
                   help="folder for the Resolve script's job files (default: foley's output folder)")
    p.set_defaults(func=cmd_install_scripts)


def cmd_install_scripts(args: argparse.Namespace) -> int:
    from adapters.hosts import install

    done = install(args.host, args.dest, foley=args.foley, port=args.port, work_dir=args.work_dir)
    print(f"Installed the {args.host} scripts into {done.dest}")
    for path in done.files:
        print(f"  {path.relative_to(done.dest)}")
    if done.foley:
        print(f"They run foley from {done.foley}")
    else:
        print("foley was not found on PATH or beside this Python; the scripts will look for `foley` on PATH.")
    print(NEXT_STEPS[args.host])
    return 0
