"""In-process socket buffers (lind_async/core/sockbuf.py)."""

from __future__ import annotations

from lind_async.core.sockbuf import (
    Datagram,
    DatagramQueue,
    SendAccount,
    StreamBuffer,
    dgram_truesize,
    scatter,
    stream_piece,
    stream_truesize,
)


def _views(*sizes: int) -> tuple[list[bytearray], list[memoryview]]:
    bufs = [bytearray(n) for n in sizes]
    return bufs, [memoryview(b) for b in bufs]


def test_stream_merges_sends_and_charges_the_sender_until_read() -> None:
    buf = StreamBuffer()
    account = SendAccount(sndbuf=1000)
    assert buf.write(b"hello", None, account, 600) == 5
    assert not account.full()
    buf.write(b" world!", None, account, 600)
    assert account.full() and account.wmem == 1200 and not account.writable()
    out, views = _views(4, 8)
    n, rights = buf.read_into(views)
    assert (n, rights) == (12, None)
    assert bytes(out[0]) + bytes(out[1]) == b"hello world!"
    assert len(buf) == 0 and account.wmem == 0 and account.writable()


def test_partly_read_piece_stays_charged_and_credit_wakes() -> None:
    woken: list[int] = []
    account = SendAccount(sndbuf=100, on_credit=lambda: woken.append(account.wmem))
    buf = StreamBuffer()
    buf.write(b"abcdef", None, account, 50)
    _, views = _views(4)
    assert buf.read_into(views) == (4, None) and account.wmem == 50 and woken == []
    assert buf.read_into(views) == (2, None) and account.wmem == 0 and woken == [0]


def test_stream_peek_and_partial_reads() -> None:
    buf = StreamBuffer()
    buf.write(b"abcdef")
    out, views = _views(3)
    assert buf.read_into(views, peek=True) == (3, None)
    assert buf.read_into(views) == (3, None) and bytes(out[0]) == b"abc"
    assert buf.read_into(views) == (3, None) and bytes(out[0]) == b"def"
    assert buf.read_into(views) == (0, None)


def test_stream_read_stops_after_the_segment_with_rights() -> None:
    buf = StreamBuffer()
    token = object()
    buf.write(b"plain")
    buf.write(b"withfd", [token])
    buf.write(b"after")
    out, views = _views(64)
    n, rights = buf.read_into(views, peek=True)  # a peek stops there too, rights stay queued
    assert (n, rights) == (11, [token])
    n, rights = buf.read_into(_views(8)[1])  # bytes before the rights merge (Linux)
    assert (n, rights) == (8, [token])
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
    q = DatagramQueue(max_count=1)
    account = SendAccount()
    q.push(Datagram(b"first", b"A", None, account, 700))
    assert not q.full()
    q.push(Datagram(b"", b"B", None, account, 700))
    assert q.full() and account.wmem == 1400  # more than max_count are queued
    out, views = _views(3)
    copied, full, dgram = q.pop_into(views, peek=True)
    assert (copied, full, dgram.sender) == (3, 5, b"A") and len(q) == 2
    copied, full, _ = q.pop_into(views)
    assert (copied, full, bytes(out[0])) == (3, 5, b"fir") and account.wmem == 700
    copied, full, dgram = q.pop_into(views)
    assert (copied, full, dgram.sender) == (0, 0, b"B")
    assert q.next_size() == -1 and account.wmem == 0


def test_drain_credits_and_returns_rights() -> None:
    q = DatagramQueue()
    account = SendAccount()
    token = object()
    q.push(Datagram(b"x" * 50, b"", [token], account, 768))
    assert q.drain() == [token] and account.wmem == 0 and len(q) == 0


def test_linux_skb_sizes() -> None:
    """truesize as Linux 6.x x86_64 charges it: struct, kmalloc'd head, page fragments."""
    assert stream_truesize(1) == stream_truesize(100) == 768
    assert stream_truesize(4096) == 4864  # the bytes go to one page fragment
    assert stream_truesize(36544) == 256 + 4096 + 32768
    assert stream_piece(1 << 20, 212_992) == 36544  # SKB_MAX_HEAD(0) + UNIX_SKB_FRAGS_SZ
    assert stream_piece(4096, 8192) == 4032  # half the send buffer less 64
    assert dgram_truesize(4096) == 256 + 8192  # a linear head up to SKB_MAX_ALLOC
    assert dgram_truesize(65536) == 256 + 16384 + 53248


def _fill(chunk: int, sndbuf: int) -> tuple[int, int]:
    """What a non-blocking stream sender gets in before EAGAIN: (bytes, calls)."""
    account = SendAccount(sndbuf)
    total = calls = 0
    while not account.full():
        left = chunk
        while left and not account.full():
            size = stream_piece(left, sndbuf)
            account.wmem += stream_truesize(size)
            left -= size
        total += chunk - left
        calls += 1
    return total, calls


def test_stream_fill_matches_linux() -> None:
    # measured on Linux 6.18 x86_64 (tests/e2e/programs/net_sockbuf.c)
    assert _fill(1, 212_992) == (278, 278)
    assert _fill(4096, 212_992) == (180_224, 44)
    assert _fill(65536, 212_992) == (233_152, 4)
    assert _fill(4096, 8192) == (8128, 2)


def test_scatter() -> None:
    out, views = _views(2, 2)
    assert scatter(b"abc", views) == 3
    assert bytes(out[0]) + bytes(out[1]) == b"abc\0"
