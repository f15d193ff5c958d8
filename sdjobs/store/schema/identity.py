"""The library's identity: one row, made when the library is created (or first opened by a
sdjobs that knows this component) and never changed, so that what is kept about a library
elsewhere (a thumbnail cache, a report) can tell it from another at the same path.

- ``library_identity``: ``id``, 32 hex digits (128 random bits).
"""

MIGRATIONS = [
    """
CREATE TABLE library_identity (
    id TEXT NOT NULL,
    created_at REAL NOT NULL
);
INSERT INTO library_identity (id, created_at) VALUES (lower(hex(randomblob(16))), (julianday('now') - 2440587.5) * 86400.0)
""",
]

POSTGRES = {0: """
CREATE TABLE library_identity (
    id TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
INSERT INTO library_identity (id, created_at) VALUES (replace(gen_random_uuid()::text, '-', ''),
                                                      extract(epoch FROM clock_timestamp()))
"""}
