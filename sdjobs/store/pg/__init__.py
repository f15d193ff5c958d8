"""The PostgreSQL backend of the store (issue 18): ``PgStore`` (``store.py``), the same verbs
as SQLite's ``Store`` over peewee's ``PostgresqlDatabase`` driving psycopg 3; the SQL is
shared, translated once per statement text (``dialect.py``); the schema is the components of
``store/schema/`` made on PostgreSQL under an advisory lock (``schema.py``).

Imported only when a library is named by a ``postgresql://`` URL (``store/open.py``): a
SQLite library never loads psycopg.
"""
