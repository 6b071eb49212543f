"""The initial stack image: Linux layout, alignment, limits."""

import struct

import pytest

from lind_async.abi.flags import AT_NULL, AT_PAGESZ, AT_RANDOM
from lind_async.abi.guest import ARG_MAX
from lind_async.runtime.process_image import ImageTooLarge, build_stack_image


def words(data: bytes, offset: int, n: int) -> list[int]:
    return list(struct.unpack_from(f"<{n}I", data, offset))


def test_layout_matches_the_kernel_convention() -> None:
    top = 0x10000
    image = build_stack_image(
        top, [b"prog", b"a b"], [b"K=V"], random16=bytes(range(16)), ids=(1, 2, 3, 4)
    )
    assert image.start % 16 == 0 and image.start + len(image.data) == top
    d = image.data

    def at(addr: int) -> int:
        return addr - image.start

    def cstr(addr: int) -> bytes:
        return d[at(addr) : d.index(b"\0", at(addr))]

    argc, argv0, argv1, null1, env0, null2 = words(d, 0, 6)
    assert (argc, null1, null2) == (2, 0, 0)
    assert [cstr(argv0), cstr(argv1), cstr(env0)] == [b"prog", b"a b", b"K=V"]
    aux = words(d, 24, 18)
    pairs = dict(zip(aux[::2], aux[1::2], strict=True))
    assert pairs[AT_PAGESZ] == 4096 and AT_NULL in pairs
    rnd = pairs[AT_RANDOM]
    assert d[at(rnd) : at(rnd) + 16] == bytes(range(16))


def test_too_large_or_invalid_inputs_are_refused() -> None:
    with pytest.raises(ImageTooLarge):
        build_stack_image(1 << 20, [b"x" * (ARG_MAX + 1)], [], random16=bytes(16), ids=(0,) * 4)
    with pytest.raises(ImageTooLarge):
        build_stack_image(4096, [b"x" * 5000], [], random16=bytes(16), ids=(0,) * 4)
    with pytest.raises(ValueError):
        build_stack_image(4096, [b"a\0b"], [], random16=bytes(16), ids=(0,) * 4)


def test_a_remembered_layout_gets_fresh_random_bytes() -> None:
    from lind_async.runtime import process_image

    args = (0x20000, [b"prog", b"x"], [b"A=1"])
    first = build_stack_image(*args, random16=bytes(16), ids=(0, 0, 0, 0))
    again = build_stack_image(*args, random16=b"r" * 16, ids=(0, 0, 0, 0))
    process_image._layouts.clear()
    fresh = build_stack_image(*args, random16=b"r" * 16, ids=(0, 0, 0, 0))
    assert again == fresh and again.start == first.start
    differ = [i for i, (a, b) in enumerate(zip(first.data, again.data, strict=True)) if a != b]
    assert len(differ) == 16 and differ[-1] - differ[0] == 15  # AT_RANDOM's bytes only
    # the strings are part of the key: the same number of bytes elsewhere is another layout
    other = build_stack_image(0x20000, [b"prog"], [b"x", b"A=1"], random16=b"r" * 16,
                              ids=(0, 0, 0, 0))
    assert other.data != again.data
