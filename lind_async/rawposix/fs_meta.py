"""RawPOSIX filesystem metadata family: links, renames, modes, owners, times, sizes, sync."""

from __future__ import annotations

from lind_async.rawposix.table import Row

ROWS: list[Row] = []
