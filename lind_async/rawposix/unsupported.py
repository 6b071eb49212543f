"""The Linux calls RawPOSIX does not implement: each fails with a fixed errno, for a stated reason.

Theory of operation
-------------------
Every x86_64 number in :data:`lind_async.abi.syscalls.NAMES` has a row in the table
(``table.py``); the rows here are the ones without a handler, in gVisor's ``linux64.go`` style:
a fixed errno and a reason a user can act on. ``python -m lind_async syscalls --all`` and
``docs/syscalls.md`` print them, and ``--grate strace`` names them from the same table.

The errno is what Linux, or gVisor, gives an unprivileged process in a container for the same
call, so programs take the paths they already have for that case:

* ``EPERM`` — the call needs a privilege no cage has (``CAP_SYS_ADMIN``, ``CAP_SYS_BOOT``,
  ``CAP_SYS_MODULE``, ``CAP_SYS_TIME``...): mounting, rebooting, loading kernel modules, setting
  the clock, tracing or reading other processes.
* ``ENOSYS`` — what a kernel built without the feature answers (io_uring, AIO, POSIX message
  queues, inotify, keyrings, NUMA...), and what the call was before this table listed it, so
  libc's fallbacks (``clone3`` → ``clone``, ``close_range`` → a ``close`` loop, ``fchmodat2`` →
  ``fchmodat``) keep working. Calls Linux itself removed or never implemented are here too.
* A few answer as Linux does when the feature is absent: ``ENOTSUP`` for extended attributes (a
  file system without them), ``EINVAL`` for ``personality`` (gVisor's answer), ``EINTR`` for a
  ``restart_syscall`` with nothing to restart.

A reason starting ``not implemented yet`` marks a call a cage could have and may get a handler
(it then moves to its family module); the others are limits of the sandbox by design.
"""

from __future__ import annotations

from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EBADF, EINTR, EINVAL, ENOSYS, EOPNOTSUPP, EPERM
from lind_async.rawposix.table import Fixed, Row, Support


def _fails(errno: int, reason: str, *numbers: int) -> list[Row]:
    return [(n, Fixed(errno), Support.UNSUPPORTED, reason) for n in numbers]


_SANDBOX = "not permitted in a sandbox"

ROWS: list[Row] = [
    # -- privileged: the host's machine, clock, kernel and mounts ----------
    *_fails(EPERM, f"{_SANDBOX}: rebooting the host", nr.SYS_reboot),
    *_fails(EPERM, f"{_SANDBOX}: kernel modules", nr.SYS_init_module, nr.SYS_finit_module,
            nr.SYS_delete_module),
    *_fails(EPERM, f"{_SANDBOX}: loading another kernel", nr.SYS_kexec_load,
            nr.SYS_kexec_file_load),
    *_fails(EPERM, f"{_SANDBOX}: swap areas", nr.SYS_swapon, nr.SYS_swapoff),
    *_fails(EPERM, f"{_SANDBOX}: I/O port access", nr.SYS_iopl, nr.SYS_ioperm),
    *_fails(EPERM, f"{_SANDBOX}: setting the host's clock", nr.SYS_settimeofday,
            nr.SYS_clock_settime),
    *_fails(EPERM, f"{_SANDBOX}: adjusting the host's clock (reading it: clock_gettime)",
            nr.SYS_adjtimex, nr.SYS_clock_adjtime),
    *_fails(EPERM, f"{_SANDBOX}: naming the host", nr.SYS_sethostname, nr.SYS_setdomainname),
    *_fails(EPERM, f"{_SANDBOX}: process accounting", nr.SYS_acct),
    *_fails(EPERM, f"{_SANDBOX}: the kernel log", nr.SYS_syslog),
    *_fails(EPERM, f"{_SANDBOX}: hanging up the terminal", nr.SYS_vhangup),
    *_fails(EPERM, f"{_SANDBOX}: BPF programs", nr.SYS_bpf),
    *_fails(EPERM, f"{_SANDBOX}: mounts; the file system is the --root directory",
            nr.SYS_mount, nr.SYS_umount2, nr.SYS_pivot_root, nr.SYS_open_tree,
            nr.SYS_move_mount, nr.SYS_fsopen, nr.SYS_fsconfig, nr.SYS_fsmount, nr.SYS_fspick,
            nr.SYS_mount_setattr),
    *_fails(EPERM, f"{_SANDBOX}: the cage's root directory is --root", nr.SYS_chroot),
    *_fails(EPERM, f"{_SANDBOX}: namespaces", nr.SYS_unshare, nr.SYS_setns),
    *_fails(EPERM, f"{_SANDBOX}: opening files by handle", nr.SYS_open_by_handle_at),
    *_fails(EOPNOTSUPP, "file handles are not supported by the sandbox's file system",
            nr.SYS_name_to_handle_at),
    *_fails(EPERM, f"{_SANDBOX}: file-system-wide monitoring (fanotify)", nr.SYS_fanotify_init),
    *_fails(EBADF, "no fanotify descriptor can exist (fanotify_init fails)",
            nr.SYS_fanotify_mark),
    # -- other processes: tracing, their memory, their kernel objects ----------
    *_fails(EPERM, f"{_SANDBOX}: tracing processes (--grate strace traces a cage)",
            nr.SYS_ptrace),
    *_fails(EPERM, f"{_SANDBOX}: another process's memory", nr.SYS_process_vm_readv,
            nr.SYS_process_vm_writev),
    *_fails(EPERM, f"{_SANDBOX}: comparing processes' kernel resources", nr.SYS_kcmp),
    # -- features a cage does not have, by design ----------
    *_fails(ENOSYS, "not supported: io_uring", nr.SYS_io_uring_setup, nr.SYS_io_uring_enter,
            nr.SYS_io_uring_register),
    *_fails(ENOSYS, "not supported: Linux AIO (use threads, or poll/epoll)", nr.SYS_io_setup,
            nr.SYS_io_destroy, nr.SYS_io_getevents, nr.SYS_io_submit, nr.SYS_io_cancel,
            nr.SYS_io_pgetevents),
    *_fails(ENOSYS, "not supported: kernel keyrings", nr.SYS_add_key, nr.SYS_request_key,
            nr.SYS_keyctl),
    *_fails(ENOSYS, "not supported: performance counters", nr.SYS_perf_event_open),
    *_fails(ENOSYS, "not supported: kernel seccomp filters (--grate seccomp filters calls)",
            nr.SYS_seccomp),
    *_fails(ENOSYS, "not supported: Landlock (a cage is confined to --root)",
            nr.SYS_landlock_create_ruleset, nr.SYS_landlock_add_rule,
            nr.SYS_landlock_restrict_self),
    *_fails(ENOSYS, "not supported: disk quotas", nr.SYS_quotactl),
    *_fails(ENOSYS, "not supported: NUMA; a cage's memory is one wasm linear memory",
            nr.SYS_mbind, nr.SYS_set_mempolicy, nr.SYS_get_mempolicy, nr.SYS_migrate_pages,
            nr.SYS_move_pages, nr.SYS_set_mempolicy_home_node),
    *_fails(ENOSYS, "not supported: memory protection keys (wasm has no page protection)",
            nr.SYS_pkey_mprotect, nr.SYS_pkey_alloc, nr.SYS_pkey_free),
    *_fails(ENOSYS, "not supported: userfaultfd (wasm memory has no page faults)",
            nr.SYS_userfaultfd),
    *_fails(ENOSYS, "not supported: secret memory", nr.SYS_memfd_secret),
    *_fails(ENOSYS, "not supported: advice on another process's memory (no pidfds)",
            nr.SYS_process_madvise, nr.SYS_process_mrelease),
    *_fails(ENOSYS, "not supported: restartable sequences (libc does without)", nr.SYS_rseq),
    *_fails(ENOSYS, "x86 only: wasm has no segment registers (TLS is the cage's own)",
            nr.SYS_arch_prctl, nr.SYS_modify_ldt, nr.SYS_set_thread_area,
            nr.SYS_get_thread_area),
    *_fails(ENOSYS, "signal handlers return through the runtime, not a signal frame",
            nr.SYS_rt_sigreturn),
    *_fails(EINTR, "only the kernel calls it, after a signal; the runtime restarts calls itself",
            nr.SYS_restart_syscall),
    *_fails(ENOSYS, "lind-musl's vfork() is fork(), and clone(CLONE_VM|CLONE_VFORK) is supported",
            nr.SYS_vfork),
    *_fails(EINVAL, "changing the execution domain is not supported", nr.SYS_personality),
    *_fails(EOPNOTSUPP, "extended attributes are not supported by the sandbox's file system",
            nr.SYS_setxattr, nr.SYS_lsetxattr, nr.SYS_fsetxattr, nr.SYS_getxattr,
            nr.SYS_lgetxattr, nr.SYS_fgetxattr, nr.SYS_listxattr, nr.SYS_llistxattr,
            nr.SYS_flistxattr, nr.SYS_removexattr, nr.SYS_lremovexattr, nr.SYS_fremovexattr),
    # -- obsolete: removed from Linux, or never implemented there ----------
    *_fails(ENOSYS, "removed from Linux", nr.SYS_create_module, nr.SYS_get_kernel_syms,
            nr.SYS_query_module, nr.SYS_nfsservctl, nr.SYS__sysctl, nr.SYS_uselib,
            nr.SYS_lookup_dcookie),
    *_fails(ENOSYS, "obsolete (statfs replaces it)", nr.SYS_ustat, nr.SYS_sysfs),
    *_fails(ENOSYS, "not implemented by Linux either", nr.SYS_getpmsg, nr.SYS_putpmsg,
            nr.SYS_afs_syscall, nr.SYS_tuxcall, nr.SYS_security, nr.SYS_vserver,
            nr.SYS_epoll_ctl_old, nr.SYS_epoll_wait_old),
    *_fails(ENOSYS, "deprecated by Linux (mmap the file instead)", nr.SYS_remap_file_pages),
    *_fails(ENOSYS, "the old getdents; libc uses getdents64", nr.SYS_getdents),
    *_fails(ENOSYS, "libc uses utimensat, which is supported", nr.SYS_utime, nr.SYS_utimes,
            nr.SYS_futimesat),
    *_fails(ENOSYS, "libc's time() uses clock_gettime, which is supported", nr.SYS_time),
    # -- not implemented yet: a cage could have these ----------
    *_fails(ENOSYS, "not implemented yet; libc falls back to clone", nr.SYS_clone3),
    *_fails(ENOSYS, "not implemented yet; libc falls back to closing each descriptor",
            nr.SYS_close_range),
    *_fails(ENOSYS, "not implemented yet; libc falls back to fchmodat", nr.SYS_fchmodat2),
    *_fails(ENOSYS, "not implemented yet (openat is supported)", nr.SYS_openat2),
    *_fails(ENOSYS, "not implemented yet: resource usage (wait4 reports zeros)",
            nr.SYS_getrusage, nr.SYS_times),
    *_fails(ENOSYS, "not implemented yet: scheduling priorities and policies",
            nr.SYS_getpriority, nr.SYS_setpriority, nr.SYS_sched_setparam,
            nr.SYS_sched_getparam, nr.SYS_sched_setscheduler, nr.SYS_sched_getscheduler,
            nr.SYS_sched_get_priority_max, nr.SYS_sched_get_priority_min,
            nr.SYS_sched_rr_get_interval, nr.SYS_sched_setattr, nr.SYS_sched_getattr,
            nr.SYS_ioprio_set, nr.SYS_ioprio_get),
    *_fails(ENOSYS, "not implemented yet: CPU affinity", nr.SYS_sched_setaffinity,
            nr.SYS_sched_getaffinity, nr.SYS_getcpu),
    *_fails(ENOSYS, "not implemented yet: memory locking", nr.SYS_mlock, nr.SYS_munlock,
            nr.SYS_mlockall, nr.SYS_munlockall, nr.SYS_mlock2),
    *_fails(ENOSYS, "not implemented yet: capabilities", nr.SYS_capget, nr.SYS_capset),
    *_fails(ENOSYS, "not implemented yet: POSIX timers (setitimer, alarm, timerfd are supported)",
            nr.SYS_timer_create, nr.SYS_timer_settime, nr.SYS_timer_gettime,
            nr.SYS_timer_getoverrun, nr.SYS_timer_delete),
    *_fails(ENOSYS, "not implemented yet: queued signals (signalfd is supported)",
            nr.SYS_rt_sigtimedwait, nr.SYS_rt_sigqueueinfo, nr.SYS_rt_tgsigqueueinfo),
    *_fails(ENOSYS, "not implemented yet (wait4 is supported)", nr.SYS_waitid),
    *_fails(ENOSYS, "not implemented yet: pidfds", nr.SYS_pidfd_open,
            nr.SYS_pidfd_send_signal, nr.SYS_pidfd_getfd),
    *_fails(ENOSYS, "not implemented yet: POSIX message queues (System V msg* are supported)",
            nr.SYS_mq_open, nr.SYS_mq_unlink, nr.SYS_mq_timedsend, nr.SYS_mq_timedreceive,
            nr.SYS_mq_notify, nr.SYS_mq_getsetattr),
    *_fails(ENOSYS, "not implemented yet: inotify (programs fall back to polling)",
            nr.SYS_inotify_init, nr.SYS_inotify_init1, nr.SYS_inotify_add_watch,
            nr.SYS_inotify_rm_watch),
    *_fails(ENOSYS, "not implemented yet: pipe splicing (read and write, or sendfile)",
            nr.SYS_splice, nr.SYS_tee, nr.SYS_vmsplice),
    *_fails(ENOSYS, "not implemented yet: batched socket calls (sendmsg/recvmsg are supported)",
            nr.SYS_sendmmsg, nr.SYS_recvmmsg),
    *_fails(ENOSYS, "not implemented yet: memfd (use a file)", nr.SYS_memfd_create),
    *_fails(ENOSYS, "not implemented yet: file read-ahead and access hints", nr.SYS_readahead,
            nr.SYS_fadvise64),
    *_fails(ENOSYS, "not implemented yet: whole-system and whole-fs sync (fsync is supported)",
            nr.SYS_sync, nr.SYS_syncfs),
    *_fails(ENOSYS, "not implemented yet: page-cache statistics", nr.SYS_cachestat),
    *_fails(ENOSYS, "not implemented yet (futex is supported)", nr.SYS_futex_waitv),
    # Replaced by 3i's rows when a microvisor starts (table.extend; threei/ops.py).
    *_fails(ENOSYS, "3i operation: served by the microvisor's 3i layer",
            nr.SYS_register_handler, nr.SYS_copy_data_between_cages,
            nr.SYS_copy_handler_table_to_cage),
]
