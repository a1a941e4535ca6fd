"""``foley credits``: the credit lines the bundled sound kit's licences ask for."""
from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("credits", help="credit lines of the bundled recordings (CC BY)",
                              description="Print the credit lines that the CC BY recordings of the bundled "
                                          "sound kit require wherever its sounds are used or named.")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.set_defaults(func=cmd_credits)


def cmd_credits(args: argparse.Namespace) -> int:
    from models import kit

    lines = kit.credit_lines()
    summary = kit.summary()
    if args.json:
        print(json.dumps({"credits": lines, "kit": summary}, indent=2))
        return 0
    print(f"foley-bridge sound kit: {summary['files']} recordings ({kit.KIT_DIR}); licences and sources in "
          f"{kit.LICENSES.name} and {kit.MANIFEST.name} there.")
    print("These recordings are licensed under CC BY and need this credit wherever they are used:")
    for line in lines:
        print(f"- {line}")
    return 0
