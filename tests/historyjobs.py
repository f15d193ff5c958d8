"""A job type with secret config fields, for the action-context tests
(loaded through SDJOBS_PLUGINS=testjobs,historyjobs)."""

from __future__ import annotations

import dataclasses

from sdjobs.core.job import Job


@dataclasses.dataclass
class SecretConfig:
    out: str = ""
    api_token: str = ""
    dbPassword: str = ""
    keyboard: str = ""  # not a secret: "key" is not a part of its name


class Secret(Job):
    """Writes the secrets it was given to ``out``: proof it ran with the real values."""

    name = "test-secret"
    description = "Test job: write the secrets it was given"
    Config = SecretConfig

    def run(self, ctx):
        c = self.config
        with open(c.out, "w") as f:
            f.write(f"{c.api_token}|{c.dbPassword}|{c.keyboard}")
        return {"written": c.out}
