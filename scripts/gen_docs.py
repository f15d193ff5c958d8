#!/usr/bin/env python3
"""Generate shell completions and the man page from the sdjobs CLI itself.

    python scripts/gen_docs.py           # write completions/ and man/sdjobs.1
    python scripts/gen_docs.py --check   # exit 1 if they are out of date

The command tree is read from the typer/click objects (``typer.main.get_command``),
so every command and option appears as soon as it is registered; exit codes come
from ``sdjobs/cli/exitcodes.py``. The output depends on nothing but the code:
commands and options in a fixed order, no dates, no paths of this machine.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _dir in (ROOT, ROOT / "scripts"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from gen_completions import HEADER, PROG, bash, fish, zsh  # noqa: E402

ENVIRONMENT = [
    ("SDJOBS_LIBRARY", "The library to use when --library is not given (a SQLite file, or a directory holding "
                       "library.db)."),
    ("SDJOBS_DEBUG", "Set to 1 to print a traceback with an error, not only its one-line message."),
    ("SDJOBS_PLUGINS", "Comma-separated Python modules to import for more job types, besides the packages "
                       "registered in the sdjobs.jobs entry-point group (handy while writing a job)."),
    ("SDJOBS_RUNNER_IDLE_EXIT", "Seconds a runner started in the background waits with nothing to do before "
                                "it exits (default 600)."),
    ("SDJOBS_CLI_SERVER", "Set to 0 to run every command in its own process instead of handing it to the "
                          "command server of a live runner (cli.sock in the library's data directory)."),
    ("NO_COLOR", "When set, output and the dashboard use no colour."),
    ("XDG_DATA_HOME", "The default library is $XDG_DATA_HOME/sdjobs/library.db (~/.local/share when unset); "
                      "the home trash is $XDG_DATA_HOME/Trash."),
    ("XDG_CACHE_HOME", "Shared thumbnails go to $XDG_CACHE_HOME/thumbnails (~/.cache when unset), where file "
                       "managers find them."),
]

FILES = [
    ("$XDG_DATA_HOME/sdjobs/library.db", "The default library: every job, its progress, checkpoints, events "
                                         "and history (SQLite in WAL mode, with -wal and -shm files beside it)."),
    ("$XDG_DATA_HOME/sdjobs/library-data/", "Files beside a library: runner.log (output of background runners), "
                                            "cli.sock (the command server of a live runner), locks, and sidecar "
                                            "data such as thumbnails and indexes."),
    ("$XDG_CACHE_HOME/thumbnails/", "Thumbnails in the freedesktop.org layout (normal, large, x-large, xx-large)."),
    ("$XDG_DATA_HOME/Trash/", "Where delete --mode trash moves files on the home filesystem; other filesystems "
                              "use $topdir/.Trash/$uid or $topdir/.Trash-$uid."),
]

PATHISH = re.compile(r"(PATH|FILE|DIR|SRC|DST|DEST|ROOT)", re.I)


@dataclasses.dataclass
class Opt:
    names: list[str]          # every spelling: -a, --all, --no-all
    help: str                 # as `--help` shows it, with [default: ...] and the like
    desc: str                 # the help without those notes (for completion menus)
    label: str                # "-L, --library PATH"
    metavar: str              # "PATH"; empty for a flag
    takes_value: bool
    repeatable: bool
    choices: list[str]
    files: bool               # complete file names for its value


@dataclasses.dataclass
class Arg:
    name: str
    variadic: bool
    required: bool
    files: bool


@dataclasses.dataclass
class Cmd:
    path: list[str]
    help: str
    epilog: str
    short: str
    usage: str
    options: list[Opt]
    args: list[Arg]
    children: list[Cmd]

    @property
    def key(self) -> str:
        return " ".join(self.path)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


# -- reading the command tree --------------------------------------------------

def read_tree() -> Cmd:
    import typer.main

    from sdjobs.cli.main import app

    root = typer.main.get_command(app)
    return _read(root, [PROG], root.context_class(root, info_name=PROG))


def _read(cmd, path: list[str], ctx) -> Cmd:
    options, args = [], []
    for p in cmd.params:
        if getattr(p, "hidden", False):
            continue
        if p.param_type_name == "option":
            options.append(_option(p, ctx))
        else:
            args.append(_argument(p))
    help_opts = cmd.get_help_option(ctx) if hasattr(cmd, "get_help_option") else None
    if help_opts is not None:
        options.append(_option(help_opts, ctx))
    children = []
    for name in sorted(getattr(cmd, "commands", {}) or {}):
        sub = cmd.commands[name]
        if sub.hidden:
            continue
        children.append(_read(sub, path + [name], sub.context_class(sub, info_name=name, parent=ctx)))
    return Cmd(path=path, help=inspect.cleandoc(cmd.help or ""), epilog=inspect.cleandoc(cmd.epilog or ""),
               short=_short(cmd),
               usage=_usage(path, options, args, bool(children), bool(getattr(cmd, "invoke_without_command", False))),
               options=options, args=args, children=children)


def _short(cmd) -> str:
    text = (cmd.short_help or inspect.cleandoc(cmd.help or "")).strip().split("\n\n")[0]
    return " ".join(text.split())


def _metavar(raw: str, name: str) -> str:
    """Where there is no metavar, typer/click show a type ("<int range>", "INTEGER RANGE", "[a|b]"):
    name it the way a man page would."""
    raw = raw.strip()
    if raw[:1] in "<[" and raw[-1:] in ">]":
        raw = raw[1:-1]
    types = {"INT": "N", "INTEGER": "N", "FLOAT": "NUMBER", "PATH": "PATH", "FILENAME": "FILE",
             "DIRECTORY": "DIR", "TEXT": "", "STR": ""}
    word = raw.upper().replace(" RANGE", "").replace("LIST[", "").rstrip("]")
    if word in types and (raw.upper() == raw or raw.lower() == raw):
        raw = types[word]
    return raw or (name or "value").strip("_").upper().replace("_", "-")


def _choices(p) -> tuple:
    """The allowed values of a parameter (click's Choice type, or typer's own descriptor)."""
    desc = getattr(p, "type_descriptor", None)
    if desc is not None:
        return tuple(desc.choices or ())
    return tuple(getattr(getattr(p, "type", None), "choices", None) or ())


def _is_path(p) -> bool:
    desc = getattr(p, "type_descriptor", None)
    if desc is not None:
        return bool(desc.is_path or desc.is_file)
    return type(getattr(p, "type", None)).__name__ in ("Path", "File")


def _option(p, ctx) -> Opt:
    label, help_raw = p.get_help_record(ctx) or (", ".join(p.opts), p.help or "")
    takes_value = not getattr(p, "is_flag", False) and not getattr(p, "count", False)
    names = list(p.opts) + list(p.secondary_opts)
    metavar = ""
    if takes_value:
        m = re.match(r"^((?:-{1,2}[\w-]+(?:, )?)+)\s*(.*)$", label.split(" / ")[0])
        metavar = _metavar(m.group(2) if m else "", p.name or "")
        label = ", ".join(p.opts) + (f" {metavar}" if metavar else "")
    else:
        label = ", ".join(p.opts) + (" / " + ", ".join(p.secondary_opts) if p.secondary_opts else "")
    choices = [str(getattr(c, "value", c)) for c in _choices(p)]
    if not choices and re.fullmatch(r"[a-z0-9@._-]+(\|[a-z0-9@._-]+)+", metavar):
        choices = metavar.split("|")
    is_path = _is_path(p)
    files = takes_value and not choices and (is_path or bool(PATHISH.search(metavar)) or p.name == "library")
    return Opt(names=names, help=" ".join(help_raw.split()), desc=" ".join(help_raw.split("  [")[0].split()),
               label=label, metavar=metavar, takes_value=takes_value,
               repeatable=bool(getattr(p, "multiple", False)), choices=choices, files=files)


ARG_NAMES = {"IDS": "ID", "JOB_ID": "ID"}


def _argument(p) -> Arg:
    name = (p.metavar or p.name or "ARG").strip("[]").rstrip(".").upper()
    name = ARG_NAMES.get(name, name)
    is_path = _is_path(p) or bool(PATHISH.search(name))
    return Arg(name=name, variadic=p.nargs == -1, required=bool(p.required), files=is_path)


def _usage(path: list[str], options: list[Opt], args: list[Arg], group: bool, optional: bool = False) -> str:
    pieces = list(path) + (["[OPTIONS]"] if options else [])
    for a in args:
        piece = a.name + ("..." if a.variadic and "..." not in a.name else "")  # "SRC... DST" says it all
        pieces.append(piece if a.required else f"[{piece}]")
    if group:
        pieces.append("[COMMAND [ARGS]...]" if optional else "COMMAND [ARGS]...")
    return " ".join(pieces)


def exit_codes() -> list[tuple[int, str, str]]:
    """(code, NAME, meaning) from the Exit enum and the comments beside its members."""
    from sdjobs.cli import exitcodes

    comments = dict(re.findall(r"^\s+([A-Z_]+)\s*=\s*\d+\s*#\s*(.+?)\s*$", inspect.getsource(exitcodes), re.M))
    return [(int(e), e.name, comments.get(e.name, e.name.replace("_", " ").lower())) for e in exitcodes.Exit]


STATUS_MEANING = {
    "queued": "Waiting for a runner (or for the jobs it runs --after).",
    "running": "A runner's process is working on it; its progress is written as it goes.",
    "paused": "Stopped at a checkpoint on request; sdjobs jobs resume continues it.",
    "interrupted": "Stopped by a runner's stop or death; it resumes from its last checkpoint on the next start.",
    "completed": "Finished; everything was done.",
    "completed-with-errors": "Finished, but some items failed (see sdjobs jobs show ID).",
    "failed": "Stopped by an error it cannot go past; the reason is in sdjobs jobs show ID. sdjobs jobs retry runs "
              "it again.",
    "cancelled": "Stopped on request and cleaned up; it stays in the history.",
}


def job_statuses() -> list[tuple[str, str]]:
    from sdjobs.core.status import Status

    return [(s.value, STATUS_MEANING.get(s.value, "")) for s in Status]


ASCII_KEYS = str.maketrans({"↑": "Up", "↓": "Down", "←": "Left", "→": "Right", "…": "..."})


def dashboard_keys():
    """The help screen's keys, in ASCII (troff reads no arrows)."""
    from sdjobs.tui.screens.help import KEYS

    return [(title, [(k.translate(ASCII_KEYS), w.translate(ASCII_KEYS)) for k, w in rows]) for title, rows in KEYS]


# -- man page --------------------------------------------------------------------

def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line[:1] in (".", "'") else line for line in text.split("\n"))


def _paragraphs(text: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines = para.split("\n")
        if len(lines) > 1 and all(line.startswith("  ") for line in lines[1:]) or para.startswith("  "):
            out.append(".nf\n" + _roff(para) + "\n.fi")
        else:
            out.append(_roff(" ".join(line.strip() for line in lines)))
    return out


def _label(label: str) -> str:
    """'-L, --library PATH' or '--gitignore / --no-gitignore' in man page fonts."""
    out = []
    for alternative in label.split(" / "):
        parts = []
        for chunk in alternative.split(", "):
            name, _, metavar = chunk.partition(" ")
            parts.append(f"\\fB{_roff(name)}\\fR" + (f" \\fI{_roff(metavar)}\\fR" if metavar else ""))
        out.append(", ".join(parts))
    return " / ".join(out)


def _options(opts: list[Opt]) -> list[str]:
    out = []
    for o in opts:
        out += [".TP", _label(o.label), _roff(o.help) if o.help else ""]
    return [line for line in out if line != ""]


def man(root: Cmd) -> str:
    from sdjobs import __version__

    out = [f'.\\" {HEADER}', f'.TH SDJOBS 1 "" "{PROG} {__version__}" "User Commands"',
           ".SH NAME", f"{PROG} \\- {_roff(root.short)}",
           ".SH SYNOPSIS", f"\\fB{PROG}\\fR [\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
           ".SH DESCRIPTION"]
    for para in _paragraphs(root.help):
        out += [para, ".PP"]
    out += ["Every command takes \\fB\\-h\\fR or \\fB\\-\\-help\\fR. Listings take \\fB\\-\\-json\\fR; "
            "data goes to standard output, progress and diagnostics to standard error.",
            ".SH GLOBAL OPTIONS", *_options(root.options), ".SH COMMANDS"]
    for c in list(root.walk())[1:]:
        out.append(f'.SS "{_roff(c.usage)}"')
        for n, para in enumerate(_paragraphs(c.help or c.short)):
            out += ([".PP"] if n else []) + [para]
        if c.children:
            out += [".PP", "Commands: " + ", ".join(f"\\fB{_roff(x.path[-1])}\\fR" for x in c.children) + "."]
        if c.options:
            out += [".PP", "Options:", ".RS", *_options(c.options), ".RE"]
    out.append(".SH JOB STATUSES")
    for status, meaning in job_statuses():
        out += [".TP", f"\\fB{_roff(status)}\\fR", _roff(meaning)]
    out += [".SH DASHBOARD KEYS", "In \\fBsdjobs dash\\fR:"]
    for title, rows in dashboard_keys():
        out += [".SS " + f'"{_roff(title)}"']
        for key, what in rows:
            out += [".TP", f"\\fB{_roff(key)}\\fR", _roff(what)]
    out.append(".SH EXIT STATUS")
    for code, name, meaning in exit_codes():
        out += [".TP", f"\\fB{code}\\fR", f"{_roff(meaning)} ({name})."]
    out.append(".SH ENVIRONMENT")
    known = {name for name, _ in ENVIRONMENT}
    extra = sorted({o.help.split("env var: ")[1].split("]")[0].split(";")[0]
                    for c in root.walk() for o in c.options if "env var: " in o.help} - known)
    for name, text in ENVIRONMENT + [(e, "Read by the option that names it above.") for e in extra]:
        out += [".TP", f"\\fB{name}\\fR", _roff(text)]
    out.append(".SH FILES")
    for path, text in FILES:
        out += [".TP", f"\\fI{_roff(path)}\\fR", _roff(text)]
    out.append(".SH EXAMPLES")
    examples = []
    for c in root.walk():
        for text in (c.epilog, c.help):
            for block in re.split(r"Examples?:", text)[1:]:
                examples += [line.strip() for line in block.split("\n\n\n")[0].split("\n")
                             if line.strip().startswith(PROG + " ")]
    out += [".nf", *[_roff(e) for e in dict.fromkeys(examples)], ".fi"]
    out += [".SH SEE ALSO", "\\fBcp\\fR(1), \\fBrsync\\fR(1), \\fBjdupes\\fR(1), \\fBsqlite3\\fR(1)",
            ".PP", "Shell completions for bash, zsh and fish are in the completions/ directory of the source; "
            "they complete job ids (with their type and status), job types, statuses and themes from the "
            "library."]
    return "\n".join(out) + "\n"


# -- main ------------------------------------------------------------------------

def generate() -> dict[Path, str]:
    """Every generated file (relative to the repository) and its content."""
    root = read_tree()
    return {
        Path("completions") / f"{PROG}.bash": bash(root),
        Path("completions") / f"_{PROG}": zsh(root),
        Path("completions") / f"{PROG}.fish": fish(root),
        Path("man") / f"{PROG}.1": man(root),
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for rel, text in generate().items():
        path = ROOT / rel
        if path.exists() and path.read_text() == text:
            continue
        stale.append(str(rel))
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if check and stale:
        print(f"out of date: {', '.join(stale)} (run python scripts/gen_docs.py)", file=sys.stderr)
        return 1
    for rel in stale if not check else ():
        print(f"wrote {rel}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
