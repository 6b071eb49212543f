"""RawPOSIX file locks: flock and fcntl record locks, waiting suspends only the caller."""

from __future__ import annotations

from lind_async.rawposix.table import Row

ROWS: list[Row] = []
