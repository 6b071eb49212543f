"""RawPOSIX signalfd4."""

from __future__ import annotations

from lind_async.rawposix.table import Row

ROWS: list[Row] = []
