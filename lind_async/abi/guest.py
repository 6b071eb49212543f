"""The guest module interface: what a cage program imports and exports (DESIGN section 3).

Used by the toolchain (to validate what it links) and by the runtime (to refuse modules built for
another ABI): one definition, two checks.
"""

from typing import Final

# lind.syscall answers this when the call must wait; the guest then calls lind.syscall_wait().
WOULD_WAIT: Final = -(1 << 63)

MEMORY_IMPORT: Final = ("env", "memory")
SYSCALL_IMPORT: Final = ("lind", "syscall")
SYSCALL_WAIT_IMPORT: Final = ("lind", "syscall_wait")
FORK_IMPORT: Final = ("lind", "fork")
THREEI_CALL_IMPORT: Final = ("lind", "threei_call")

FUNCTION_IMPORTS: Final = frozenset(
    {SYSCALL_IMPORT, SYSCALL_WAIT_IMPORT, FORK_IMPORT, THREEI_CALL_IMPORT}
)
ALLOWED_IMPORTS: Final = FUNCTION_IMPORTS | {MEMORY_IMPORT}
REQUIRED_EXPORTS: Final = ("_start", "__stack_pointer", "__heap_base")
