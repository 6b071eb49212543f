"""Linux x86_64 system call numbers: the guest ABI numbering.

Pure data.  3i's own calls start at 1001.
"""
from typing import Final

SYS_read: Final = 0
SYS_write: Final = 1
SYS_open: Final = 2
SYS_close: Final = 3
SYS_stat: Final = 4
SYS_fstat: Final = 5
SYS_lstat: Final = 6
SYS_poll: Final = 7
SYS_lseek: Final = 8
SYS_mmap: Final = 9
SYS_mprotect: Final = 10
SYS_munmap: Final = 11
SYS_brk: Final = 12
SYS_rt_sigaction: Final = 13
SYS_rt_sigprocmask: Final = 14
SYS_rt_sigreturn: Final = 15
SYS_ioctl: Final = 16
SYS_pread64: Final = 17
SYS_pwrite64: Final = 18
SYS_readv: Final = 19
SYS_writev: Final = 20
SYS_access: Final = 21
SYS_pipe: Final = 22
SYS_select: Final = 23
SYS_sched_yield: Final = 24
SYS_mremap: Final = 25
SYS_msync: Final = 26
SYS_mincore: Final = 27
SYS_madvise: Final = 28
SYS_shmget: Final = 29
SYS_shmat: Final = 30
SYS_shmctl: Final = 31
SYS_dup: Final = 32
SYS_dup2: Final = 33
SYS_pause: Final = 34
SYS_nanosleep: Final = 35
SYS_getitimer: Final = 36
SYS_alarm: Final = 37
SYS_setitimer: Final = 38
SYS_getpid: Final = 39
SYS_sendfile: Final = 40
SYS_socket: Final = 41
SYS_connect: Final = 42
SYS_accept: Final = 43
SYS_sendto: Final = 44
SYS_recvfrom: Final = 45
SYS_sendmsg: Final = 46
SYS_recvmsg: Final = 47
SYS_shutdown: Final = 48
SYS_bind: Final = 49
SYS_listen: Final = 50
SYS_getsockname: Final = 51
SYS_getpeername: Final = 52
SYS_socketpair: Final = 53
SYS_setsockopt: Final = 54
SYS_getsockopt: Final = 55
SYS_clone: Final = 56
SYS_fork: Final = 57
SYS_vfork: Final = 58
SYS_execve: Final = 59
SYS_exit: Final = 60
SYS_wait4: Final = 61
SYS_kill: Final = 62
SYS_uname: Final = 63
SYS_semget: Final = 64
SYS_semop: Final = 65
SYS_semctl: Final = 66
SYS_shmdt: Final = 67
SYS_msgget: Final = 68
SYS_msgsnd: Final = 69
SYS_msgrcv: Final = 70
SYS_msgctl: Final = 71
SYS_fcntl: Final = 72
SYS_flock: Final = 73
SYS_fsync: Final = 74
SYS_fdatasync: Final = 75
SYS_truncate: Final = 76
SYS_ftruncate: Final = 77
SYS_getdents: Final = 78
SYS_getcwd: Final = 79
SYS_chdir: Final = 80
SYS_fchdir: Final = 81
SYS_rename: Final = 82
SYS_mkdir: Final = 83
SYS_rmdir: Final = 84
SYS_creat: Final = 85
SYS_link: Final = 86
SYS_unlink: Final = 87
SYS_symlink: Final = 88
SYS_readlink: Final = 89
SYS_chmod: Final = 90
SYS_fchmod: Final = 91
SYS_chown: Final = 92
SYS_fchown: Final = 93
SYS_lchown: Final = 94
SYS_umask: Final = 95
SYS_gettimeofday: Final = 96
SYS_getrlimit: Final = 97
SYS_getrusage: Final = 98
SYS_sysinfo: Final = 99
SYS_times: Final = 100
SYS_ptrace: Final = 101
SYS_getuid: Final = 102
SYS_syslog: Final = 103
SYS_getgid: Final = 104
SYS_setuid: Final = 105
SYS_setgid: Final = 106
SYS_geteuid: Final = 107
SYS_getegid: Final = 108
SYS_setpgid: Final = 109
SYS_getppid: Final = 110
SYS_getpgrp: Final = 111
SYS_setsid: Final = 112
SYS_setreuid: Final = 113
SYS_setregid: Final = 114
SYS_getgroups: Final = 115
SYS_setgroups: Final = 116
SYS_setresuid: Final = 117
SYS_getresuid: Final = 118
SYS_setresgid: Final = 119
SYS_getresgid: Final = 120
SYS_getpgid: Final = 121
SYS_setfsuid: Final = 122
SYS_setfsgid: Final = 123
SYS_getsid: Final = 124
SYS_capget: Final = 125
SYS_capset: Final = 126
SYS_rt_sigpending: Final = 127
SYS_rt_sigtimedwait: Final = 128
SYS_rt_sigqueueinfo: Final = 129
SYS_rt_sigsuspend: Final = 130
SYS_sigaltstack: Final = 131
SYS_utime: Final = 132
SYS_mknod: Final = 133
SYS_uselib: Final = 134
SYS_personality: Final = 135
SYS_ustat: Final = 136
SYS_statfs: Final = 137
SYS_fstatfs: Final = 138
SYS_sysfs: Final = 139
SYS_getpriority: Final = 140
SYS_setpriority: Final = 141
SYS_sched_setparam: Final = 142
SYS_sched_getparam: Final = 143
SYS_sched_setscheduler: Final = 144
SYS_sched_getscheduler: Final = 145
SYS_sched_get_priority_max: Final = 146
SYS_sched_get_priority_min: Final = 147
SYS_sched_rr_get_interval: Final = 148
SYS_mlock: Final = 149
SYS_munlock: Final = 150
SYS_mlockall: Final = 151
SYS_munlockall: Final = 152
SYS_vhangup: Final = 153
SYS_modify_ldt: Final = 154
SYS_pivot_root: Final = 155
SYS__sysctl: Final = 156
SYS_prctl: Final = 157
SYS_arch_prctl: Final = 158
SYS_adjtimex: Final = 159
SYS_setrlimit: Final = 160
SYS_chroot: Final = 161
SYS_sync: Final = 162
SYS_acct: Final = 163
SYS_settimeofday: Final = 164
SYS_mount: Final = 165
SYS_umount2: Final = 166
SYS_swapon: Final = 167
SYS_swapoff: Final = 168
SYS_reboot: Final = 169
SYS_sethostname: Final = 170
SYS_setdomainname: Final = 171
SYS_iopl: Final = 172
SYS_ioperm: Final = 173
SYS_create_module: Final = 174
SYS_init_module: Final = 175
SYS_delete_module: Final = 176
SYS_get_kernel_syms: Final = 177
SYS_query_module: Final = 178
SYS_quotactl: Final = 179
SYS_nfsservctl: Final = 180
SYS_getpmsg: Final = 181
SYS_putpmsg: Final = 182
SYS_afs_syscall: Final = 183
SYS_tuxcall: Final = 184
SYS_security: Final = 185
SYS_gettid: Final = 186
SYS_readahead: Final = 187
SYS_setxattr: Final = 188
SYS_lsetxattr: Final = 189
SYS_fsetxattr: Final = 190
SYS_getxattr: Final = 191
SYS_lgetxattr: Final = 192
SYS_fgetxattr: Final = 193
SYS_listxattr: Final = 194
SYS_llistxattr: Final = 195
SYS_flistxattr: Final = 196
SYS_removexattr: Final = 197
SYS_lremovexattr: Final = 198
SYS_fremovexattr: Final = 199
SYS_tkill: Final = 200
SYS_time: Final = 201
SYS_futex: Final = 202
SYS_sched_setaffinity: Final = 203
SYS_sched_getaffinity: Final = 204
SYS_set_thread_area: Final = 205
SYS_io_setup: Final = 206
SYS_io_destroy: Final = 207
SYS_io_getevents: Final = 208
SYS_io_submit: Final = 209
SYS_io_cancel: Final = 210
SYS_get_thread_area: Final = 211
SYS_lookup_dcookie: Final = 212
SYS_epoll_create: Final = 213
SYS_epoll_ctl_old: Final = 214
SYS_epoll_wait_old: Final = 215
SYS_remap_file_pages: Final = 216
SYS_getdents64: Final = 217
SYS_set_tid_address: Final = 218
SYS_restart_syscall: Final = 219
SYS_semtimedop: Final = 220
SYS_fadvise64: Final = 221
SYS_timer_create: Final = 222
SYS_timer_settime: Final = 223
SYS_timer_gettime: Final = 224
SYS_timer_getoverrun: Final = 225
SYS_timer_delete: Final = 226
SYS_clock_settime: Final = 227
SYS_clock_gettime: Final = 228
SYS_clock_getres: Final = 229
SYS_clock_nanosleep: Final = 230
SYS_exit_group: Final = 231
SYS_epoll_wait: Final = 232
SYS_epoll_ctl: Final = 233
SYS_tgkill: Final = 234
SYS_utimes: Final = 235
SYS_vserver: Final = 236
SYS_mbind: Final = 237
SYS_set_mempolicy: Final = 238
SYS_get_mempolicy: Final = 239
SYS_mq_open: Final = 240
SYS_mq_unlink: Final = 241
SYS_mq_timedsend: Final = 242
SYS_mq_timedreceive: Final = 243
SYS_mq_notify: Final = 244
SYS_mq_getsetattr: Final = 245
SYS_kexec_load: Final = 246
SYS_waitid: Final = 247
SYS_add_key: Final = 248
SYS_request_key: Final = 249
SYS_keyctl: Final = 250
SYS_ioprio_set: Final = 251
SYS_ioprio_get: Final = 252
SYS_inotify_init: Final = 253
SYS_inotify_add_watch: Final = 254
SYS_inotify_rm_watch: Final = 255
SYS_migrate_pages: Final = 256
SYS_openat: Final = 257
SYS_mkdirat: Final = 258
SYS_mknodat: Final = 259
SYS_fchownat: Final = 260
SYS_futimesat: Final = 261
SYS_newfstatat: Final = 262
SYS_unlinkat: Final = 263
SYS_renameat: Final = 264
SYS_linkat: Final = 265
SYS_symlinkat: Final = 266
SYS_readlinkat: Final = 267
SYS_fchmodat: Final = 268
SYS_faccessat: Final = 269
SYS_pselect6: Final = 270
SYS_ppoll: Final = 271
SYS_unshare: Final = 272
SYS_set_robust_list: Final = 273
SYS_get_robust_list: Final = 274
SYS_splice: Final = 275
SYS_tee: Final = 276
SYS_sync_file_range: Final = 277
SYS_vmsplice: Final = 278
SYS_move_pages: Final = 279
SYS_utimensat: Final = 280
SYS_epoll_pwait: Final = 281
SYS_signalfd: Final = 282
SYS_timerfd_create: Final = 283
SYS_eventfd: Final = 284
SYS_fallocate: Final = 285
SYS_timerfd_settime: Final = 286
SYS_timerfd_gettime: Final = 287
SYS_accept4: Final = 288
SYS_signalfd4: Final = 289
SYS_eventfd2: Final = 290
SYS_epoll_create1: Final = 291
SYS_dup3: Final = 292
SYS_pipe2: Final = 293
SYS_inotify_init1: Final = 294
SYS_preadv: Final = 295
SYS_pwritev: Final = 296
SYS_rt_tgsigqueueinfo: Final = 297
SYS_perf_event_open: Final = 298
SYS_recvmmsg: Final = 299
SYS_fanotify_init: Final = 300
SYS_fanotify_mark: Final = 301
SYS_prlimit64: Final = 302
SYS_name_to_handle_at: Final = 303
SYS_open_by_handle_at: Final = 304
SYS_clock_adjtime: Final = 305
SYS_syncfs: Final = 306
SYS_sendmmsg: Final = 307
SYS_setns: Final = 308
SYS_getcpu: Final = 309
SYS_process_vm_readv: Final = 310
SYS_process_vm_writev: Final = 311
SYS_kcmp: Final = 312
SYS_finit_module: Final = 313
SYS_sched_setattr: Final = 314
SYS_sched_getattr: Final = 315
SYS_renameat2: Final = 316
SYS_seccomp: Final = 317
SYS_getrandom: Final = 318
SYS_memfd_create: Final = 319
SYS_kexec_file_load: Final = 320
SYS_bpf: Final = 321
SYS_execveat: Final = 322
SYS_userfaultfd: Final = 323
SYS_membarrier: Final = 324
SYS_mlock2: Final = 325
SYS_copy_file_range: Final = 326
SYS_preadv2: Final = 327
SYS_pwritev2: Final = 328
SYS_pkey_mprotect: Final = 329
SYS_pkey_alloc: Final = 330
SYS_pkey_free: Final = 331
SYS_statx: Final = 332
SYS_io_pgetevents: Final = 333
SYS_rseq: Final = 334
SYS_pidfd_send_signal: Final = 424
SYS_io_uring_setup: Final = 425
SYS_io_uring_enter: Final = 426
SYS_io_uring_register: Final = 427
SYS_open_tree: Final = 428
SYS_move_mount: Final = 429
SYS_fsopen: Final = 430
SYS_fsconfig: Final = 431
SYS_fsmount: Final = 432
SYS_fspick: Final = 433
SYS_pidfd_open: Final = 434
SYS_clone3: Final = 435
SYS_close_range: Final = 436
SYS_openat2: Final = 437
SYS_pidfd_getfd: Final = 438
SYS_faccessat2: Final = 439
SYS_process_madvise: Final = 440
SYS_epoll_pwait2: Final = 441
SYS_mount_setattr: Final = 442
SYS_landlock_create_ruleset: Final = 444
SYS_landlock_add_rule: Final = 445
SYS_landlock_restrict_self: Final = 446
SYS_memfd_secret: Final = 447
SYS_process_mrelease: Final = 448
SYS_futex_waitv: Final = 449
SYS_set_mempolicy_home_node: Final = 450
SYS_cachestat: Final = 451
SYS_fchmodat2: Final = 452

# 3i's own operations, interposable table entries.
SYS_register_handler: Final = 1001
SYS_copy_data_between_cages: Final = 1002
SYS_copy_handler_table_to_cage: Final = 1003

NAMES: Final[dict[int, str]] = {
    0: "read",
    1: "write",
    2: "open",
    3: "close",
    4: "stat",
    5: "fstat",
    6: "lstat",
    7: "poll",
    8: "lseek",
    9: "mmap",
    10: "mprotect",
    11: "munmap",
    12: "brk",
    13: "rt_sigaction",
    14: "rt_sigprocmask",
    15: "rt_sigreturn",
    16: "ioctl",
    17: "pread64",
    18: "pwrite64",
    19: "readv",
    20: "writev",
    21: "access",
    22: "pipe",
    23: "select",
    24: "sched_yield",
    25: "mremap",
    26: "msync",
    27: "mincore",
    28: "madvise",
    29: "shmget",
    30: "shmat",
    31: "shmctl",
    32: "dup",
    33: "dup2",
    34: "pause",
    35: "nanosleep",
    36: "getitimer",
    37: "alarm",
    38: "setitimer",
    39: "getpid",
    40: "sendfile",
    41: "socket",
    42: "connect",
    43: "accept",
    44: "sendto",
    45: "recvfrom",
    46: "sendmsg",
    47: "recvmsg",
    48: "shutdown",
    49: "bind",
    50: "listen",
    51: "getsockname",
    52: "getpeername",
    53: "socketpair",
    54: "setsockopt",
    55: "getsockopt",
    56: "clone",
    57: "fork",
    58: "vfork",
    59: "execve",
    60: "exit",
    61: "wait4",
    62: "kill",
    63: "uname",
    64: "semget",
    65: "semop",
    66: "semctl",
    67: "shmdt",
    68: "msgget",
    69: "msgsnd",
    70: "msgrcv",
    71: "msgctl",
    72: "fcntl",
    73: "flock",
    74: "fsync",
    75: "fdatasync",
    76: "truncate",
    77: "ftruncate",
    78: "getdents",
    79: "getcwd",
    80: "chdir",
    81: "fchdir",
    82: "rename",
    83: "mkdir",
    84: "rmdir",
    85: "creat",
    86: "link",
    87: "unlink",
    88: "symlink",
    89: "readlink",
    90: "chmod",
    91: "fchmod",
    92: "chown",
    93: "fchown",
    94: "lchown",
    95: "umask",
    96: "gettimeofday",
    97: "getrlimit",
    98: "getrusage",
    99: "sysinfo",
    100: "times",
    101: "ptrace",
    102: "getuid",
    103: "syslog",
    104: "getgid",
    105: "setuid",
    106: "setgid",
    107: "geteuid",
    108: "getegid",
    109: "setpgid",
    110: "getppid",
    111: "getpgrp",
    112: "setsid",
    113: "setreuid",
    114: "setregid",
    115: "getgroups",
    116: "setgroups",
    117: "setresuid",
    118: "getresuid",
    119: "setresgid",
    120: "getresgid",
    121: "getpgid",
    122: "setfsuid",
    123: "setfsgid",
    124: "getsid",
    125: "capget",
    126: "capset",
    127: "rt_sigpending",
    128: "rt_sigtimedwait",
    129: "rt_sigqueueinfo",
    130: "rt_sigsuspend",
    131: "sigaltstack",
    132: "utime",
    133: "mknod",
    134: "uselib",
    135: "personality",
    136: "ustat",
    137: "statfs",
    138: "fstatfs",
    139: "sysfs",
    140: "getpriority",
    141: "setpriority",
    142: "sched_setparam",
    143: "sched_getparam",
    144: "sched_setscheduler",
    145: "sched_getscheduler",
    146: "sched_get_priority_max",
    147: "sched_get_priority_min",
    148: "sched_rr_get_interval",
    149: "mlock",
    150: "munlock",
    151: "mlockall",
    152: "munlockall",
    153: "vhangup",
    154: "modify_ldt",
    155: "pivot_root",
    156: "_sysctl",
    157: "prctl",
    158: "arch_prctl",
    159: "adjtimex",
    160: "setrlimit",
    161: "chroot",
    162: "sync",
    163: "acct",
    164: "settimeofday",
    165: "mount",
    166: "umount2",
    167: "swapon",
    168: "swapoff",
    169: "reboot",
    170: "sethostname",
    171: "setdomainname",
    172: "iopl",
    173: "ioperm",
    174: "create_module",
    175: "init_module",
    176: "delete_module",
    177: "get_kernel_syms",
    178: "query_module",
    179: "quotactl",
    180: "nfsservctl",
    181: "getpmsg",
    182: "putpmsg",
    183: "afs_syscall",
    184: "tuxcall",
    185: "security",
    186: "gettid",
    187: "readahead",
    188: "setxattr",
    189: "lsetxattr",
    190: "fsetxattr",
    191: "getxattr",
    192: "lgetxattr",
    193: "fgetxattr",
    194: "listxattr",
    195: "llistxattr",
    196: "flistxattr",
    197: "removexattr",
    198: "lremovexattr",
    199: "fremovexattr",
    200: "tkill",
    201: "time",
    202: "futex",
    203: "sched_setaffinity",
    204: "sched_getaffinity",
    205: "set_thread_area",
    206: "io_setup",
    207: "io_destroy",
    208: "io_getevents",
    209: "io_submit",
    210: "io_cancel",
    211: "get_thread_area",
    212: "lookup_dcookie",
    213: "epoll_create",
    214: "epoll_ctl_old",
    215: "epoll_wait_old",
    216: "remap_file_pages",
    217: "getdents64",
    218: "set_tid_address",
    219: "restart_syscall",
    220: "semtimedop",
    221: "fadvise64",
    222: "timer_create",
    223: "timer_settime",
    224: "timer_gettime",
    225: "timer_getoverrun",
    226: "timer_delete",
    227: "clock_settime",
    228: "clock_gettime",
    229: "clock_getres",
    230: "clock_nanosleep",
    231: "exit_group",
    232: "epoll_wait",
    233: "epoll_ctl",
    234: "tgkill",
    235: "utimes",
    236: "vserver",
    237: "mbind",
    238: "set_mempolicy",
    239: "get_mempolicy",
    240: "mq_open",
    241: "mq_unlink",
    242: "mq_timedsend",
    243: "mq_timedreceive",
    244: "mq_notify",
    245: "mq_getsetattr",
    246: "kexec_load",
    247: "waitid",
    248: "add_key",
    249: "request_key",
    250: "keyctl",
    251: "ioprio_set",
    252: "ioprio_get",
    253: "inotify_init",
    254: "inotify_add_watch",
    255: "inotify_rm_watch",
    256: "migrate_pages",
    257: "openat",
    258: "mkdirat",
    259: "mknodat",
    260: "fchownat",
    261: "futimesat",
    262: "newfstatat",
    263: "unlinkat",
    264: "renameat",
    265: "linkat",
    266: "symlinkat",
    267: "readlinkat",
    268: "fchmodat",
    269: "faccessat",
    270: "pselect6",
    271: "ppoll",
    272: "unshare",
    273: "set_robust_list",
    274: "get_robust_list",
    275: "splice",
    276: "tee",
    277: "sync_file_range",
    278: "vmsplice",
    279: "move_pages",
    280: "utimensat",
    281: "epoll_pwait",
    282: "signalfd",
    283: "timerfd_create",
    284: "eventfd",
    285: "fallocate",
    286: "timerfd_settime",
    287: "timerfd_gettime",
    288: "accept4",
    289: "signalfd4",
    290: "eventfd2",
    291: "epoll_create1",
    292: "dup3",
    293: "pipe2",
    294: "inotify_init1",
    295: "preadv",
    296: "pwritev",
    297: "rt_tgsigqueueinfo",
    298: "perf_event_open",
    299: "recvmmsg",
    300: "fanotify_init",
    301: "fanotify_mark",
    302: "prlimit64",
    303: "name_to_handle_at",
    304: "open_by_handle_at",
    305: "clock_adjtime",
    306: "syncfs",
    307: "sendmmsg",
    308: "setns",
    309: "getcpu",
    310: "process_vm_readv",
    311: "process_vm_writev",
    312: "kcmp",
    313: "finit_module",
    314: "sched_setattr",
    315: "sched_getattr",
    316: "renameat2",
    317: "seccomp",
    318: "getrandom",
    319: "memfd_create",
    320: "kexec_file_load",
    321: "bpf",
    322: "execveat",
    323: "userfaultfd",
    324: "membarrier",
    325: "mlock2",
    326: "copy_file_range",
    327: "preadv2",
    328: "pwritev2",
    329: "pkey_mprotect",
    330: "pkey_alloc",
    331: "pkey_free",
    332: "statx",
    333: "io_pgetevents",
    334: "rseq",
    424: "pidfd_send_signal",
    425: "io_uring_setup",
    426: "io_uring_enter",
    427: "io_uring_register",
    428: "open_tree",
    429: "move_mount",
    430: "fsopen",
    431: "fsconfig",
    432: "fsmount",
    433: "fspick",
    434: "pidfd_open",
    435: "clone3",
    436: "close_range",
    437: "openat2",
    438: "pidfd_getfd",
    439: "faccessat2",
    440: "process_madvise",
    441: "epoll_pwait2",
    442: "mount_setattr",
    444: "landlock_create_ruleset",
    445: "landlock_add_rule",
    446: "landlock_restrict_self",
    447: "memfd_secret",
    448: "process_mrelease",
    449: "futex_waitv",
    450: "set_mempolicy_home_node",
    451: "cachestat",
    452: "fchmodat2",
    1001: "register_handler",
    1002: "copy_data_between_cages",
    1003: "copy_handler_table_to_cage",
}
