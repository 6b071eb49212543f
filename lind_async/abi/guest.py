"""The guest module interface: what a cage program imports and exports.

Used by the toolchain (to validate what it links) and by the runtime (to refuse modules built for
another ABI): one definition, two checks.
"""

from typing import Final

ARG_MAX: Final = 256 * 1024  # bytes of argument + environment strings a cage may start with

# lind.syscall answers this when the call must wait; the guest then calls lind.syscall_wait().
WOULD_WAIT: Final = -(1 << 63)

MEMORY_IMPORT: Final = ("env", "memory")
SYSCALL_IMPORT: Final = ("lind", "syscall")
SYSCALL_WAIT_IMPORT: Final = ("lind", "syscall_wait")
FORK_IMPORT: Final = ("lind", "fork")
THREEI_CALL_IMPORT: Final = ("lind", "threei_call")
# A signal handler run by libc on the thread's own stack (runtime/guest_signals.py).
SIGNAL_FRAME_IMPORT: Final = ("lind", "signal_frame")
SIGNAL_RETURN_IMPORT: Final = ("lind", "signal_return")

FUNCTION_IMPORTS: Final = frozenset(
    {
        SYSCALL_IMPORT,
        SYSCALL_WAIT_IMPORT,
        FORK_IMPORT,
        THREEI_CALL_IMPORT,
        SIGNAL_FRAME_IMPORT,
        SIGNAL_RETURN_IMPORT,
    }
)
ALLOWED_IMPORTS: Final = FUNCTION_IMPORTS | {MEMORY_IMPORT}
REQUIRED_EXPORTS: Final = ("_start", "__stack_pointer", "__heap_base")
