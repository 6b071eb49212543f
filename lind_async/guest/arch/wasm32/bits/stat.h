/* lind-musl wasm32: struct stat.
 *
 * Byte-for-byte the Linux x86_64 kernel `struct stat` (144 bytes), which is
 * what the runtime writes for fstat/stat/lstat/newfstatat: libc passes the
 * caller's buffer straight through, with no conversion.  Where a wasm32 type
 * is narrower than the x86_64 kernel field (nlink_t, blksize_t, the tv_nsec
 * of struct timespec) the high half is explicit padding; on little-endian
 * wasm the kernel's 64-bit value lands in the low half.  The field table is
 * lind_async/abi/layouts.py (STAT). */
struct stat {
	dev_t st_dev;
	ino_t st_ino;
	nlink_t st_nlink;
	unsigned int __st_nlink_hi;

	mode_t st_mode;
	uid_t st_uid;
	gid_t st_gid;
	unsigned int __pad0;
	dev_t st_rdev;
	off_t st_size;
	blksize_t st_blksize;
	int __st_blksize_hi;
	blkcnt_t st_blocks;

	struct timespec st_atim;
	struct timespec st_mtim;
	struct timespec st_ctim;
	long long __unused[3];
};
