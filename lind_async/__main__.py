"""``python -m lind_async``."""

import gc
import sys

gc.disable()  # the CLI's own imports make only long-lived objects (see lind_async.cli)
try:
    from lind_async.cli import main
except BaseException as exc:
    # Ctrl-C while the CLI's modules load (a KeyboardInterrupt inside a class body arrives as
    # the cause of a RuntimeError): the shell's status, no traceback.
    if isinstance(exc, KeyboardInterrupt) or isinstance(exc.__cause__, KeyboardInterrupt):
        sys.exit(130)
    raise
finally:
    gc.enable()

sys.exit(main())
