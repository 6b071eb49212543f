"""RawPOSIX: the small trusted runtime that does POSIX on the host for cages.

One declarative table (``table.py``) maps each Linux x86_64 call number to its handler; handlers
live in one module per family (``fs``, ``io``, ``mm``, ``proc``, ``time``, ``misc``, ``signal``),
which declares its rows (``ROWS``) beside them; the calls without a handler fail with a fixed
errno for a stated reason (``unsupported.py``).
"""
