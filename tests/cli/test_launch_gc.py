"""The entry point keeps the garbage collector off while the modules load (launch.run) and
turns it back on before the command runs (main.run): a command that follows a job for hours
must not keep its cyclic garbage."""

import os
import subprocess
import sys

PROBE = """
import gc, sys
from sdjobs.cli import launch, main
seen = []
real = main.build_app
def build_app(*a, **kw):
    seen.append(gc.isenabled())  # while the command's modules load
    return real(*a, **kw)
main.build_app = build_app
sys.argv = ["sdjobs", "types"]
try:
    launch.run()
except SystemExit:
    pass
print(seen, gc.isenabled())
"""


def test_collector_off_for_the_imports_and_on_for_the_command(lib):
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env={**os.environ, "SDJOBS_CLI_SERVER": "0"}, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[False] True", out.stdout + out.stderr
