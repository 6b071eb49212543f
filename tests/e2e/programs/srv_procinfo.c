/* What servers read at start-up and for metrics: /proc/self/{stat,status,cmdline,comm},
 * /proc/meminfo, /proc/sys/..., sysinfo, prctl(PR_SET/GET_NAME, PR_SET/GET_DUMPABLE),
 * gettimeofday's timezone, /proc/self/exe (readlink: an absolute path to the program; execve
 * re-runs it). Structure and relations are printed, never host-specific numbers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[16384];
static char expected_comm[16]; /* the program's base name, as the kernel truncates it */

static int slurp(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -errno;
    int n = 0, r;
    while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
    buf[n] = 0;
    close(fd);
    return n;
}

static const char *field(const char *key) {
    static char value[256];
    size_t len = strlen(key);
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            while (*v == ' ' || *v == '\t') v++;
            size_t n = strcspn(v, "\n");
            memcpy(value, v, n);
            value[n] = 0;
            return value;
        }
    }
    return NULL;
}

static void stat_file(void) {
    if (slurp("/proc/self/stat") <= 0) { printf("stat: unreadable\n"); return; }
    char *close_paren = strrchr(buf, ')');
    char comm[64] = "";
    char *open_paren = strchr(buf, '(');
    memcpy(comm, open_paren + 1, close_paren - open_paren - 1);
    int fields = 2;
    for (char *p = close_paren + 1; *p && *p != '\n'; p++)
        if (*p == ' ' && p[1] && p[1] != ' ' && p[1] != '\n') fields++;
    char state;
    int ppid, pgrp, sid;
    sscanf(close_paren + 2, "%c %d %d %d", &state, &ppid, &pgrp, &sid);
    unsigned long long vals[60] = {0};
    char *p = close_paren + 2;
    for (int i = 3; i <= 52 && p; i++) {
        vals[i] = strtoull(p, NULL, 10);
        p = strchr(p, ' ');
        if (p) p++;
    }
    printf("stat: pid ok %d comm ok %d state %c ppid ok %d pgrp ok %d sid ok %d fields>=52 %d\n",
           atoi(buf) == getpid(), strcmp(comm, expected_comm) == 0, state, ppid == getppid(), pgrp == getpgrp(),
           sid == getsid(0), fields >= 52);
    printf("stat: threads %llu vsize>0 %d rss>0 %d\n", vals[20], vals[23] > 0, vals[24] > 0);
}

static void status_file(void) {
    char self[64];
    snprintf(self, sizeof self, "/proc/%d/status", getpid());
    if (slurp(self) <= 0) { printf("status: unreadable\n"); return; }
    const char *keys[] = {"Name", "State", "Tgid", "Pid", "PPid", "Uid", "Gid", "Groups",
                          "VmRSS", "Threads", "SigBlk"};
    for (unsigned i = 0; i < sizeof keys / sizeof *keys; i++)
        printf("status %s: %s\n", keys[i], field(keys[i]) ? "present" : "missing");
    printf("status Name ok %d\n", strcmp(field("Name"), expected_comm) == 0);
    printf("status Pid ok %d PPid ok %d\n", atoi(field("Pid")) == getpid(),
           atoi(field("PPid")) == getppid());
    char uid[64];
    snprintf(uid, sizeof uid, "%u\t%u\t%u\t%u", getuid(), geteuid(), getuid(), geteuid());
    printf("status Uid ok %d\n", strcmp(field("Uid"), uid) == 0);
    printf("status Threads %s\n", field("Threads"));
    const char *rss = field("VmRSS");
    printf("status VmRSS kB %d\n", rss && strstr(rss, " kB") != NULL);
}

static void meminfo(void) {
    if (slurp("/proc/meminfo") <= 0) { printf("meminfo: unreadable\n"); return; }
    const char *keys[] = {"MemTotal", "MemFree", "MemAvailable", "Cached", "SwapTotal"};
    for (unsigned i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *v = field(keys[i]);
        printf("meminfo %s: %s\n", keys[i], v && strstr(v, " kB") ? "kB" : "missing");
    }
    long total = atol(field("MemTotal")), avail = atol(field("MemAvailable"));
    printf("meminfo avail<=total %d total>0 %d\n", avail <= total, total > 0);
}

static void sys_files(void) {
    const char *files[] = {"/proc/sys/kernel/pid_max", "/proc/sys/net/core/somaxconn",
                           "/proc/sys/kernel/ngroups_max", "/proc/sys/kernel/ostype"};
    for (unsigned i = 0; i < sizeof files / sizeof *files; i++) {
        int n = slurp(files[i]);
        printf("%s: read %d line %d value>0 %d\n", files[i], n > 0, n > 0 && buf[n - 1] == '\n',
               atol(buf) > 0 || strcmp(buf, "Linux\n") == 0);
    }
    struct stat st;
    int r = stat("/proc/meminfo", &st);
    printf("stat meminfo: %d regular %d size %ld\n", r, S_ISREG(st.st_mode), (long)st.st_size);
    slurp("/proc/self/cmdline");
    printf("cmdline argv[1] %s\n", buf + strlen(buf) + 1);
}

static void info(void) {
    struct sysinfo si;
    memset(&si, 0xAB, sizeof si);
    int r = sysinfo(&si);
    unsigned long long total = (unsigned long long)si.totalram * si.mem_unit;
    printf("sysinfo %d uptime>0 %d total>0 %d free<=total %d procs>0 %d unit>0 %d\n", r,
           si.uptime > 0, total > 0, si.freeram <= si.totalram, si.procs > 0, si.mem_unit > 0);
}

static void names(void) {
    char name[32] = "";
    prctl(PR_GET_NAME, name);
    printf("name at start ok %d\n", strcmp(name, expected_comm) == 0);
    printf("set name %d\n", prctl(PR_SET_NAME, "worker process"));
    prctl(PR_GET_NAME, name);
    printf("name %s\n", name);
    printf("set long name %d\n", prctl(PR_SET_NAME, "a-very-long-process-name"));
    prctl(PR_GET_NAME, name);
    printf("name %s\n", name);
    slurp("/proc/self/comm");
    printf("comm %s", buf);
    slurp("/proc/self/status");
    printf("status Name %s\n", field("Name"));
    printf("dumpable %d\n", prctl(PR_GET_DUMPABLE));
    int r = prctl(PR_SET_DUMPABLE, 0);
    printf("set dumpable 0: %d -> %d\n", r, prctl(PR_GET_DUMPABLE));
    r = prctl(PR_SET_DUMPABLE, 1);
    printf("set dumpable 1: %d -> %d\n", r, prctl(PR_GET_DUMPABLE));
    errno = 0;
    r = prctl(PR_SET_DUMPABLE, 7);
    printf("set dumpable 7: %d %s\n", r, strerror(errno));
}

static void timezone_(void) {
    struct timeval tv;
    struct timezone tz = {123, 456};
    int r = gettimeofday(&tv, &tz);
    printf("gettimeofday %d tz %d %d sec>0 %d\n", r, tz.tz_minuteswest, tz.tz_dsttime, tv.tv_sec > 0);
}

static void exe(char *argv0) {
    char link[4096];
    ssize_t n = readlink("/proc/self/exe", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
    size_t lb = strlen(base), ll = strlen(link);
    printf("readlink exe: absolute %d ends with program %d\n", link[0] == '/',
           ll >= lb && strcmp(link + ll - lb, base) == 0);
    pid_t child = fork();
    if (child == 0) {
        char *args[] = {argv0, "again", NULL};
        execv("/proc/self/exe", args);
        _exit(100 + errno);
    }
    int st;
    waitpid(child, &st, 0);
    printf("re-exec exit %d\n", WEXITSTATUS(st));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "exe") == 0) {
        char link[4096];
        ssize_t n = readlink("/proc/self/exe", link, sizeof link - 1);
        printf("%.*s\n", (int)(n > 0 ? n : 0), link);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "again") == 0) {
        printf("again: %s\n", argv[1]);
        return 42;
    }
    const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    snprintf(expected_comm, sizeof expected_comm, "%s", base);
    stat_file();
    status_file();
    meminfo();
    sys_files();
    info();
    names();
    timezone_();
    exe(argv[0]);
    return 0;
}
