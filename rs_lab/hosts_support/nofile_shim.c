/* rs-lab nofile shim: report a host's configured RLIMIT_NOFILE to getrlimit/prlimit callers.
 *
 * Why: the lab machine lacks CAP_SYS_RESOURCE, so no process can raise its hard nofile limit
 * above the machine's (20000), yet hosts must present 8192/65536/100000 to `ulimit` and
 * Python's resource.getrlimit (../../../shared/LAB.md, "Hosts"). Loaded through the host's
 * /etc/ld.so.preload; reads "SOFT HARD" from /etc/rs-lab/nofile at start.
 * Limits: only reads are faked (setrlimit is untouched and sees the real limits);
 * /proc/PID/limits shows the real values; statically linked and Go programs ignore it.
 * sshd is left alone: it must see real limits before its sandbox applies them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int active;
static rlim_t fake_soft, fake_hard;

__attribute__((constructor)) static void rs_nofile_init(void)
{
    if (strcmp(program_invocation_short_name, "sshd") == 0)
        return;
    FILE *f = fopen("/etc/rs-lab/nofile", "re");
    if (!f)
        return;
    unsigned long long soft, hard;
    if (fscanf(f, "%llu %llu", &soft, &hard) == 2) {
        fake_soft = soft;
        fake_hard = hard;
        active = 1;
    }
    fclose(f);
}

static void fake(int resource, struct rlimit *rl)
{
    if (active && resource == RLIMIT_NOFILE && rl) {
        rl->rlim_cur = fake_soft;
        rl->rlim_max = fake_hard;
    }
}

int getrlimit(__rlimit_resource_t resource, struct rlimit *rl)
{
    static int (*real)(__rlimit_resource_t, struct rlimit *);
    if (!real)
        real = dlsym(RTLD_NEXT, "getrlimit");
    int rc = real(resource, rl);
    if (rc == 0)
        fake(resource, rl);
    return rc;
}

int getrlimit64(__rlimit_resource_t resource, struct rlimit64 *rl)
{
    return getrlimit(resource, (struct rlimit *)rl); /* same layout on LP64 */
}

int prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *new_rl,
            struct rlimit *old_rl)
{
    static int (*real)(pid_t, __rlimit_resource_t, const struct rlimit *, struct rlimit *);
    if (!real)
        real = dlsym(RTLD_NEXT, "prlimit");
    int rc = real(pid, resource, new_rl, old_rl);
    if (rc == 0 && (pid == 0 || pid == getpid()))
        fake(resource, old_rl);
    return rc;
}

int prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *new_rl,
              struct rlimit64 *old_rl)
{
    return prlimit(pid, resource, (const struct rlimit *)new_rl, (struct rlimit *)old_rl);
}
