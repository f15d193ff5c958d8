"""A job's action context: what started it, as it is recorded and shown.

Recorded at submission (``cli/submit.py``) in the job's ``context``:

- ``action``: the command word (``copy``, ``delete``, ``watch``...) or, for
  ``sdjobs run TYPE``, the job type; also in the job's indexed ``action`` column;
- ``argv`` and ``command``: the command line, ``command`` shell-quoted so it can
  be pasted back; the values of ``--set`` keys named like secrets are masked;
- ``inputs``: what the command was given, secret-named keys masked;
- ``user``, ``host``, ``cwd``, ``time``, and ``initiator`` (``user@host``, or
  ``schedule N`` for a job a schedule started, which also records ``schedule``:
  its id and cron expression).

A child job inherits its root's action and initiator (``store/action_store.py``).
Masking is for what is shown: the job's ``config`` (what it runs with) and a
schedule's command (what it runs) keep the real values.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

MASK = "***"
# Parts of a name that make it a secret's name: "password", "api_key", "dbPassword", "GITHUB_TOKEN",
# "clientSecret", "apikey" (a part that ends with one of these counts too).
SECRET_WORDS = ("password", "passwd", "passphrase", "token", "key", "secret", "credential", "credentials")
_PARTS = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_SET_OPTIONS = ("--set", "-s")


def secret_name(name: object) -> bool:
    """Whether a config key or ``--set`` key names a secret (case-insensitive, by its parts)."""
    if not isinstance(name, str):
        return False
    return any(part.lower().endswith(SECRET_WORDS) for part in _PARTS.split(name) if part)


def _mask_assignment(text: str) -> str:
    key, eq, value = text.partition("=")
    if not eq:
        return text
    if secret_name(key.strip()):
        return f"{key}={MASK}"
    if value[:1] in ("{", "["):  # a JSON value: its secret-named keys
        import json

        try:
            parsed = json.loads(value)
        except ValueError:
            return text
        masked = mask_mapping(parsed)
        return text if masked == parsed else f"{key}={json.dumps(masked, ensure_ascii=False)}"
    return text


def mask_argv(argv: list[str]) -> list[str]:
    """The command line with the values of secret-named ``--set KEY=VALUE`` masked
    (``--set KEY=VALUE``, ``--set=KEY=VALUE``, ``-s KEY=VALUE``, ``-sKEY=VALUE``, any other
    word ``KEY=VALUE``), and the secret-named keys of a JSON value."""
    out: list[str] = []
    after_set = False
    for arg in argv:
        if _URL_PASSWORD.search(arg):  # a PostgreSQL library's URL (--library): never its password
            out.append(_URL_PASSWORD.sub(lambda m: m.group(1) + MASK, arg))
            after_set = False
            continue
        if after_set:
            out.append(_mask_assignment(arg))
            after_set = False
            continue
        if arg in _SET_OPTIONS:
            after_set = True
        elif arg.startswith("--set="):
            arg = "--set=" + _mask_assignment(arg[len("--set="):])
        elif arg.startswith("-s") and not arg.startswith("--") and "=" in arg:
            arg = "-s" + _mask_assignment(arg[2:])
        elif "=" in arg and not arg.startswith("--"):  # KEY=VALUE however it came (-dsKEY=VALUE, say)
            arg = _mask_assignment(arg)
        out.append(arg)
    return out


_URL_PASSWORD = re.compile(r"((?:postgres|postgresql)://[^:/@?#\s]*:(?=[^@/?#\s]*@)|[?&]password=)([^@&#\s]*)", re.I)


def mask_mapping(data: Any) -> Any:
    """A copy of ``data`` with the values of secret-named keys masked, at any depth."""
    if isinstance(data, dict):
        return {k: (MASK if secret_name(k) and v not in (None, "") else mask_mapping(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_mapping(v) for v in data]
    return data


def quote(argv: list[str]) -> str:
    """The command line as a shell would take it back (names that are not UTF-8 stay as escapes)."""
    return shlex.join(str(a) for a in argv)


def schedule_label(context: dict) -> str | None:
    """``schedule 3 (0 3 * * *)`` for a job a schedule started, else None."""
    sched = context.get("schedule") if isinstance(context, dict) else None
    if not isinstance(sched, dict) or sched.get("id") is None:
        return None
    cron = sched.get("cron")
    return f"schedule {sched['id']}" + (f" ({cron})" if cron else "")


def describe(context: Any, *, program: bool = False) -> str:
    """What started the job, in one line: its schedule, or its command line (shell-quoted,
    without the leading ``sdjobs`` unless ``program``)."""
    if not isinstance(context, dict):
        return ""
    label = schedule_label(context)
    if label:
        return label
    argv = context.get("argv") or []
    if not isinstance(argv, (list, tuple)):
        return str(argv)
    argv = [str(a) for a in argv]
    if argv and argv[0].rsplit("/", 1)[-1] in ("sdjobs", "__main__.py", "-m"):
        argv = argv[1:]
    if len(argv) == 1 and argv[0].startswith("(child of job"):
        return argv[0]
    text = quote(mask_argv(argv))
    return f"sdjobs {text}" if program and text else text


def command_word(argv: list[str]) -> str | None:
    """The command word of an ``sdjobs`` command line: the first word after the
    program and its global options (``--library PATH``, ``-L PATH``)."""
    words = [str(a) for a in argv[1:]]
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("--library", "-L"):
            i += 2
            continue
        if w.startswith(("--library=", "-L")) or w.startswith("-"):
            i += 1
            continue
        return w if not w.startswith("(") else None
    return None
