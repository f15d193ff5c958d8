"""The built-in job types: one package each, its ``Job`` class in ``job.py``.

They are registered like any plugin's, by naming the module that defines them
(a plugin names its module in the ``sdjobs.jobs`` entry point group); the
registry imports a module the first time its type is looked up.
"""

BUILTIN: dict[str, str] = {
    "copy": "sdjobs.jobs.copy.job",
    "delete": "sdjobs.jobs.delete.job",
    "dupes": "sdjobs.jobs.dupes.job",
    "index": "sdjobs.jobs.index.job",
    "thumbs": "sdjobs.jobs.thumbs.job",
    "validate": "sdjobs.jobs.validate.job",
}
