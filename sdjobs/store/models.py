"""Peewee models over the tables created by ``schema``.

Models serve the queries that read or change a handful of rows (listing,
showing, pruning). Hot paths (progress, checkpoints, events, claims) use
plain SQL in one transaction; see ``api``.
"""

from __future__ import annotations

import peewee as pw

database = pw.DatabaseProxy()


class BaseModel(pw.Model):
    class Meta:
        database = database


class JobModel(BaseModel):
    id = pw.AutoField()
    type = pw.TextField()
    type_version = pw.IntegerField(default=1)
    status = pw.TextField()
    priority = pw.IntegerField(default=0)
    parent_id = pw.IntegerField(null=True)
    config = pw.BlobField(null=True)
    state = pw.BlobField(null=True)
    state_version = pw.IntegerField(null=True)
    progress = pw.BlobField(null=True)
    bytes_done = pw.BigIntegerField(default=0)
    items_done = pw.BigIntegerField(default=0)
    run_seconds = pw.FloatField(default=0)
    warnings = pw.IntegerField(default=0)
    errors = pw.IntegerField(default=0)
    output = pw.BlobField(null=True)
    error = pw.TextField(null=True)
    created_at = pw.FloatField()
    started_at = pw.FloatField(null=True)
    paused_at = pw.FloatField(null=True)
    finished_at = pw.FloatField(null=True)
    heartbeat_at = pw.FloatField(null=True)
    updated_at = pw.FloatField(null=True)
    runner_id = pw.IntegerField(null=True)
    pid = pw.IntegerField(null=True)
    attempts = pw.IntegerField(default=0)
    max_attempts = pw.IntegerField(default=3)
    control = pw.TextField(null=True)
    wait_children = pw.IntegerField(default=0)
    settings = pw.BlobField(null=True)
    context = pw.BlobField(null=True)

    class Meta:
        table_name = "job"


class JobDep(BaseModel):
    job_id = pw.IntegerField()
    depends_on = pw.IntegerField()

    class Meta:
        table_name = "job_dep"
        primary_key = pw.CompositeKey("job_id", "depends_on")


class JobEvent(BaseModel):
    id = pw.AutoField()
    job_id = pw.IntegerField()
    ts = pw.FloatField()
    kind = pw.TextField()
    path = pw.BlobField(null=True)
    message = pw.TextField()

    class Meta:
        table_name = "job_event"


class RunnerModel(BaseModel):
    id = pw.AutoField()
    pid = pw.IntegerField()
    pid_start = pw.TextField(null=True)
    host = pw.TextField()
    started_at = pw.FloatField()
    heartbeat_at = pw.FloatField()
    workers = pw.IntegerField()
    busy = pw.IntegerField(default=0)
    mode = pw.TextField(null=True)
    stopping = pw.IntegerField(default=0)

    class Meta:
        table_name = "runner"
