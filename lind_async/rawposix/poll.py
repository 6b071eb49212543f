"""RawPOSIX poll/ppoll/select/pselect6 over every kind of virtual fd."""

from __future__ import annotations

from lind_async.rawposix.table import Row

ROWS: list[Row] = []
