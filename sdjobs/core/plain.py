"""``Plain``: what a dataclass gives a record (equality, a repr, its fields as a dict), for
classes that list their fields in ``__slots__`` and write their own ``__init__``.

The records a cold `sdjobs jobs ls` reads (store/records.py, core/progress.py, store/library.py)
are plain classes because ``dataclasses`` imports inspect, ast, dis and tokenize, and makes
each class by compiling its methods. Without it (and with json imported only for ``--json``),
`jobs ls` of 10,000 jobs with no runner alive went from 103 to 76 ms, medians of 41 interleaved
runs (2026-12-07). Job configs and checkpoint states stay dataclasses (core/fields.py,
core/codec.py): the processes that use them import it anyway.
"""

from __future__ import annotations


class Plain:
    """(Unhashable, as a class that defines __eq__ is; a value type defines __hash__.)"""

    __slots__: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"

    def as_dict(self) -> dict:
        """The fields by name (the values themselves, not copies)."""
        return {name: getattr(self, name) for name in self.__slots__}
