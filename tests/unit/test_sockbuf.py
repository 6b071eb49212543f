"""In-process socket buffers (lind_async/core/sockbuf.py)."""

from __future__ import annotations

from lind_async.core.sockbuf import Datagram, DatagramQueue, StreamBuffer, scatter


def _views(*sizes: int) -> tuple[list[bytearray], list[memoryview]]:
    bufs = [bytearray(n) for n in sizes]
    return bufs, [memoryview(b) for b in bufs]


def test_stream_merges_sends_and_respects_capacity() -> None:
    buf = StreamBuffer(capacity=10)
    assert buf.write(b"hello") == 5
    assert buf.write(b" world!") == 5  # only what fits
    assert buf.write(b"x") == 0 and buf.room == 0
    out, views = _views(4, 8)
    n, rights = buf.read_into(views)
    assert (n, rights) == (10, None)
    assert bytes(out[0]) + bytes(out[1][:6]) == b"hello worl"
    assert len(buf) == 0


def test_stream_peek_and_partial_reads() -> None:
    buf = StreamBuffer()
    buf.write(b"abcdef")
    out, views = _views(3)
    assert buf.read_into(views, peek=True) == (3, None)
    assert buf.read_into(views) == (3, None) and bytes(out[0]) == b"abc"
    assert buf.read_into(views) == (3, None) and bytes(out[0]) == b"def"
    assert buf.read_into(views) == (0, None)


def test_stream_rights_are_not_merged_and_arrive_with_their_first_byte() -> None:
    buf = StreamBuffer()
    token = object()
    buf.write(b"plain")
    buf.write(b"withfd", [token])
    buf.write(b"after")
    out, views = _views(64)
    assert buf.read_into(views) == (5, None)  # stops before the segment with rights
    n, rights = buf.read_into(_views(3)[1])
    assert n == 3 and rights == [token]
    n, rights = buf.read_into(views)  # the rest of it, then the next segment: no rights again
    assert (n, rights) == (8, None)
    assert bytes(out[0][:8]) == b"hfdafter"


def test_stream_drain_returns_unreceived_rights() -> None:
    buf = StreamBuffer()
    a, b = object(), object()
    buf.write(b"1", [a])
    buf.write(b"2", [b])
    assert buf.drain() == [a, b] and len(buf) == 0


def test_datagrams_keep_boundaries_and_truncate() -> None:
    q = DatagramQueue(capacity=100, max_count=2)
    assert q.push(Datagram(b"first", b"A"))
    assert q.push(Datagram(b"", b"B"))
    assert not q.fits(1)  # count limit
    out, views = _views(3)
    copied, full, dgram = q.pop_into(views, peek=True)
    assert (copied, full, dgram.sender) == (3, 5, b"A") and len(q) == 2
    copied, full, _ = q.pop_into(views)
    assert (copied, full, bytes(out[0])) == (3, 5, b"fir")
    copied, full, dgram = q.pop_into(views)
    assert (copied, full, dgram.sender) == (0, 0, b"B")
    assert q.next_size() == -1


def test_datagram_byte_limit_allows_one_big_message_when_empty() -> None:
    q = DatagramQueue(capacity=10)
    assert q.push(Datagram(b"x" * 50, b""))
    assert not q.fits(1)
    assert q.drain() == [] and q.fits(50)


def test_scatter() -> None:
    out, views = _views(2, 2)
    assert scatter(b"abc", views) == 3
    assert bytes(out[0]) + bytes(out[1]) == b"abc\0"
