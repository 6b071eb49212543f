"""Pipe buffer rules: PIPE_BUF atomicity, capacity, EOF and reader checks."""

from lind_async.core.pipe import DEFAULT_CAPACITY, PIPE_BUF, PipeBuffer


def test_small_writes_are_all_or_nothing() -> None:
    p = PipeBuffer()
    p.readers = p.writers = 1
    assert p.write(b"x" * (DEFAULT_CAPACITY - 100)) == DEFAULT_CAPACITY - 100
    assert p.write(b"y" * 101) == 0  # fits only partly: waits instead
    assert not p.writable(101)
    assert p.write(b"y" * 100) == 100
    assert p.room == 0


def test_large_writes_take_what_fits() -> None:
    p = PipeBuffer()
    p.readers = p.writers = 1
    assert p.write(b"z" * (DEFAULT_CAPACITY + PIPE_BUF)) == DEFAULT_CAPACITY
    out = bytearray(10)
    assert p.read_into(memoryview(out)) == 10 and bytes(out) == b"z" * 10
    assert p.writable(PIPE_BUF + 1)  # some room: a big write makes progress


def test_reads_empty_eof_and_order() -> None:
    p = PipeBuffer()
    p.readers = p.writers = 1
    out = bytearray(8)
    assert p.read_into(memoryview(out)) == 0 and not p.readable()
    p.write(b"abc")
    p.write(b"def")
    assert p.read_into(memoryview(out)) == 6 and bytes(out[:6]) == b"abcdef"
    p.writers = 0
    assert p.readable()  # end of file


def test_resize_rules() -> None:
    p = PipeBuffer()
    assert p.resize(5000) == 8192
    p.write(b"q" * 8192)
    try:
        p.resize(4096)
    except ValueError:
        pass
    else:
        raise AssertionError("shrinking below the buffered bytes must fail")
