"""Reference grates. The Python ones are loaded by name (``run --grate strace``) through
``lind_async.grate.BUILTIN_GRATES``; see README.md."""
