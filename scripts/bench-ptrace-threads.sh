#!/usr/bin/env bash
# Does the kernel serialize the ptrace stops of threads of one process?
#
#   bash scripts/bench-ptrace-threads.sh [ROUNDS]    (default 5; needs root
#                                                      or CAP_SYS_PTRACE, gcc;
#                                                      x86_64)
#
# A C program (compiled here) runs N workers, each looping open/read/close
# of /etc/hostname like bench-capture.sh's micro loop, and traces each
# worker with its *own* tracer thread (PTRACE_SYSCALL: an entry and an exit
# stop per syscall; at each stop PTRACE_GETREGS, and the path of an openat
# read with process_vm_readv, the least a recorder does). The workers are
# either N processes or N threads of one process; nothing else differs.
# If a per-process lock (the signal lock every stop and resume takes)
# bounded one process's threads, "threads" would scale worse than
# "procs". It prints iterations/s (all workers together), the median over
# interleaved rounds: 1 process, then N processes, then N threads.
#
# Environment: N (workers, default 2), ITER (iterations per worker, default
# 30000), PIN (1: tracer thread i and its worker share CPU i, so each pair's
# stops are same-CPU switches, as capture's placement does for a lone
# process: the ceiling of N pairs on N CPUs against one).
set -euo pipefail
ROUNDS=${1:-5}
N=${N:-2}
ITER=${ITER:-30000}
command -v gcc >/dev/null || { echo "bench-ptrace-threads: gcc is missing" >&2; exit 2; }
WORK=$(mktemp -d /tmp/bench-ptrace-threads.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/pt.c" <<'C'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXW 64
static long iter;
/* Shared with the workers: their tids, and the start flag. */
static struct { volatile int go; volatile int ready; volatile pid_t tid[MAXW]; } *sh;

static void *work(void *a) {
  sh->tid[(long)a] = (pid_t)syscall(SYS_gettid);
  __atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
  while (!sh->go) ;
  char b[64];
  for (long i = 0; i < iter; i++) {
    int fd = open("/etc/hostname", O_RDONLY);
    if (read(fd, b, sizeof b) < 0) _exit(3);
    close(fd);
  }
  return 0;
}

static int pin;
static volatile int slot;

static void *tracer(void *a) {
  pid_t t = (pid_t)(long)a;
  int st;
  if (pin) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(__atomic_fetch_add(&slot, 1, __ATOMIC_SEQ_CST) % sysconf(_SC_NPROCESSORS_ONLN), &one);
    if (sched_setaffinity(0, sizeof one, &one) || sched_setaffinity(t, sizeof one, &one)) { perror("pin"); exit(1); }
  }
  if (ptrace(PTRACE_SEIZE, t, 0, 0) || ptrace(PTRACE_INTERRUPT, t, 0, 0)) { perror("seize"); exit(1); }
  if (waitpid(t, &st, __WALL) != t || ptrace(PTRACE_SYSCALL, t, 0, 0)) { perror("first stop"); exit(1); }
  for (;;) {
    if (waitpid(t, &st, __WALL) != t || WIFEXITED(st) || WIFSIGNALED(st)) break;
    struct user_regs_struct r;
    ptrace(PTRACE_GETREGS, t, 0, &r);
    if (r.orig_rax == SYS_openat && r.rax == (unsigned long)-ENOSYS) {
      char p[256];
      struct iovec l = {p, sizeof p}, rm = {(void *)r.rsi, sizeof p};
      process_vm_readv(t, &l, 1, &rm, 1, 0);
    }
    int sig = WIFSTOPPED(st) && WSTOPSIG(st) != SIGTRAP && (st >> 16) == 0 ? WSTOPSIG(st) : 0;
    if (ptrace(PTRACE_SYSCALL, t, 0, sig)) break;
  }
  return 0;
}

int main(int argc, char **argv) {
  int n = atoi(argv[1]), threads = !strcmp(argv[2], "threads");
  iter = atol(argv[3]);
  pin = getenv("PIN") && !strcmp(getenv("PIN"), "1");
  if (n < 1 || n > MAXW) return 2;
  sh = mmap(0, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (threads) {
    if (fork() == 0) {
      pthread_t th[MAXW];
      for (long i = 0; i < n; i++) pthread_create(&th[i], 0, work, (void *)i);
      for (int i = 0; i < n; i++) pthread_join(th[i], 0);
      _exit(0);
    }
  } else {
    for (long i = 0; i < n; i++) if (fork() == 0) { work((void *)i); _exit(0); }
  }
  while (sh->ready < n) usleep(1000);
  pthread_t tt[MAXW];
  for (long i = 0; i < n; i++) pthread_create(&tt[i], 0, tracer, (void *)(long)sh->tid[i]);
  usleep(200000);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  sh->go = 1;
  for (int i = 0; i < n; i++) pthread_join(tt[i], 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  while (wait(0) > 0) ;
  printf("%.0f\n", n * iter / (b.tv_sec - a.tv_sec + (b.tv_nsec - a.tv_nsec) / 1e9));
  return 0;
}
C
gcc -O2 -pthread -o "$WORK/pt" "$WORK/pt.c"

: >"$WORK/results"
for r in $(seq 1 "$ROUNDS"); do
  for c in "1 procs" "$N procs" "$N threads"; do
    # shellcheck disable=SC2086
    v=$("$WORK/pt" $c "$ITER")
    echo "round $r: $c $v" >&2
    echo "${c// /-} $v" >>"$WORK/results"
  done
done
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  kernel: $(uname -r)  cpus: $(nproc)  rounds: $ROUNDS  pinned: ${PIN:-0}  load: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    rows.setdefault(k, []).append(float(v))
one = statistics.median(rows[next(iter(rows))])
print("| workers | iterations/s (median) | x 1 process | rounds |")
print("|---|---|---|---|")
for k, vs in rows.items():
    m = statistics.median(vs)
    print(f"| {k.replace('-', ' ')} | {m:,.0f} | {m / one:.2f} | {', '.join(f'{v:,.0f}' for v in vs)} |")
PY
