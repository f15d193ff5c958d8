"""Tables of the library's own settings (``sdjobs config``).

- ``library_setting``: one row per setting that was set (an unset one has its
  default, see ``core/settings.py``); ``value`` is its text as normalized when it
  was set.
"""

MIGRATIONS = [
    """
CREATE TABLE library_setting (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
)
""",
]
