"""A small model of how Windows cmd.exe reads a command line and a batch file line, for checking the lines the
host scripts build without a Windows machine.

Sources for the rules:
- ``cmd /?`` (the /S and quote rule): with /S, or when the other conditions fail, "see if the first character is
  a quote character and if so, strip the leading character and remove the last quote character on the command
  line, preserving any text after the last quote character".
- dbenham and jeb, "How does the Windows Command Interpreter (CMD.EXE) parse scripts?",
  https://stackoverflow.com/a/4095133 (phase 1 percent expansion: in a batch file ``%%`` is a literal ``%`` and
  an undefined ``%VAR%`` becomes nothing; on the command line an undefined ``%VAR%`` is left as it is, and ``%%``
  is no escape; phase 2: quotes toggle a quoted state, outside it ``^`` escapes the next character and
  ``& | < > ( )`` are operators; a redirection ``N>`` takes a single digit right before ``>`` as the handle).
- Microsoft, "Parsing C++ command-line arguments" (CommandLineToArgvW): 2n backslashes before a quote give n
  backslashes and the quote delimits; 2n+1 give n and a literal quote; other backslashes are literal.

Only what the scripts use is modelled (no delayed expansion, no ``for``/``if`` blocks); anything outside that
raises, so a test cannot pass by accident.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

OPERATORS = set("&|<>()")


class CmdError(AssertionError):
    """The line would not do what was meant (an operator outside quotes, an unbalanced quote...)."""


def expand_percent(text: str, env: dict[str, str], batch: bool) -> str:
    """Phase 1: percent expansion. Variable names are case-insensitive."""
    low = {k.lower(): v for k, v in env.items()}
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        if batch and text[i + 1:i + 2] == "%":
            out.append("%")
            i += 2
            continue
        if batch and text[i + 1:i + 2].isdigit():
            i += 2  # %0..%9: the batch file's arguments; the launcher is started without any
            continue
        j = text.find("%", i + 1)
        if j < 0:
            if not batch:
                out.append(text[i:])
            i = len(text)  # a lone % at the end of a batch line is dropped
            continue
        name = text[i + 1:j]
        if name.lower() in low:
            out.append(low[name.lower()])
            i = j + 1
        elif batch:
            i = j + 1  # an undefined variable disappears from a batch line
        else:
            out.append("%")  # left as it is; the closing % may open the next name
            i += 1
    return "".join(out)


@dataclass
class Command:
    """One simple command after phase 2: its words (quotes kept, as cmd keeps them) and its redirections."""

    words: list[str] = field(default_factory=list)
    redirects: list[tuple[int, str, str]] = field(default_factory=list)  # (handle, op, target)


def _strip_quotes(word: str) -> str:
    return word.replace('"', "")


def parse_special(text: str) -> Command:
    """Phase 2 on one simple command: quotes, carets, redirections; any other operator is an error."""
    cmd = Command()
    i, n = 0, len(text)
    word: list[str] = []
    quoted = False

    def end_word() -> None:
        if word:
            cmd.words.append("".join(word))
            word.clear()

    while i < n:
        c = text[i]
        if quoted:
            word.append(c)
            quoted = c != '"'
            i += 1
            continue
        if c == '"':
            word.append(c)
            quoted = True
            i += 1
        elif c == "^":
            if i + 1 >= n:
                raise CmdError(f"caret at the end of {text!r}")
            word.append(text[i + 1])
            i += 2
        elif c in " \t":
            end_word()
            i += 1
        elif c == ">" or c == "<":
            handle = 1 if c == ">" else 0
            if len(word) == 1 and word[0].isdigit():  # "2>": the digit is the handle
                handle = int(word[0])
                word.clear()
            end_word()
            op = c
            if c == ">" and text[i + 1:i + 2] == ">":
                op, i = ">>", i + 1
            i += 1
            if text[i:i + 1] == "&":  # 2>&1
                j = i + 1
                while j < n and text[j].isdigit():
                    j += 1
                cmd.redirects.append((handle, op + "&", text[i + 1:j]))
                i = j
                continue
            while i < n and text[i] in " \t":
                i += 1
            target: list[str] = []
            q = False
            while i < n and (q or text[i] not in " \t<>&|"):
                if text[i] == '"':
                    q = not q
                target.append(text[i])
                i += 1
            if q or not target:
                raise CmdError(f"bad redirection target in {text!r}")
            cmd.redirects.append((handle, op, _strip_quotes("".join(target))))
        elif c in OPERATORS:
            raise CmdError(f"operator {c!r} outside quotes in {text!r}")
        else:
            word.append(c)
            i += 1
    if quoted:
        raise CmdError(f"unbalanced quote in {text!r}")
    end_word()
    return cmd


def slash_s_c(command_line: str, env: dict[str, str]) -> Command:
    """What ``cmd.exe [/D] [/S] /C <rest>`` runs: the quote rule of ``cmd /?``, then command-line parsing."""
    m = re.match(r'^\s*"?cmd(?:\.exe)?"?((?:\s+/[DdQqSs])*)\s+/[Cc]\s*(.*)$', command_line, re.S)
    if not m:
        raise CmdError(f"not a cmd /C line: {command_line!r}")
    switches, rest = m.group(1).upper(), m.group(2)
    keep = ("/S" not in switches and rest.count('"') == 2 and rest.startswith('"')
            and not set(rest[1:rest.rfind('"')]) & set("&<>()@^|") and " " in rest[1:rest.rfind('"')])
    if rest.startswith('"') and not keep:
        last = rest.rfind('"')
        rest = rest[1:last] + rest[last + 1:]
    return parse_special(expand_percent(rest, env, batch=False))


def program_of(cmd: Command) -> str:
    """The program cmd looks for: the first word with its quotes removed."""
    if not cmd.words:
        raise CmdError("empty command")
    return _strip_quotes(cmd.words[0])


def argv_of(words: list[str]) -> list[str]:
    """CommandLineToArgvW over the command text cmd hands to a program (words joined by spaces)."""
    text = " ".join(words)
    args: list[str] = []
    cur: list[str] = []
    have = False
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            j = i
            while j < len(text) and text[j] == "\\":
                j += 1
            count = j - i
            if j < len(text) and text[j] == '"':
                cur.append("\\" * (count // 2))
                if count % 2:
                    cur.append('"')
                    i = j + 1
                else:
                    i = j
                have = True
                continue
            cur.append("\\" * count)
            i = j
            have = True
            continue
        if c == '"':
            quoted = not quoted
            have = True
        elif c in " \t" and not quoted:
            if have:
                args.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(c)
            have = True
        i += 1
    if have:
        args.append("".join(cur))
    return args


def batch_lines(text: str, env: dict[str, str]) -> list[Command]:
    """Each non-empty line of a batch file after phases 1 and 2 (``@`` and ``echo off`` left to the caller)."""
    if "\r\n" not in text or text.replace("\r\n", "").find("\n") >= 0:
        raise CmdError("a batch file for cmd should use CRLF line ends throughout")
    out = []
    for line in text.split("\r\n"):
        if line.strip():
            out.append(parse_special(expand_percent(line, env, batch=True)))
    return out
