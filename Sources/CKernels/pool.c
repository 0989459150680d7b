// A fork-join pool for splitting one kernel across cores. The caller runs part 0; every other
// part is claimed by whichever thread gets to it first, the workers and the caller alike, so a
// worker the system has not scheduled (more threads than free cores, a busy neighbour) delays
// nothing: the caller runs its parts. Which thread runs a part never changes the result, since a
// part's work and output depend only on its index. Workers spin for a short while after each job
// (the next kernel of a training step is microseconds away), yielding the core now and then so a
// thread that has work can have it, and then sleep on a condition variable, so an idle program
// does not hold a core.
#define _GNU_SOURCE
#include "CKernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

enum { MAX_WORKERS = 63 };
/// Spin iterations (each a pause, tens of nanoseconds) before a worker sleeps: about 0.2 ms.
enum { SPIN_LIMIT = 20000 };
/// Pauses between yields of the core while spinning: a spinner on a core another runnable
/// thread needs gives it up within a few microseconds.
enum { YIELD_EVERY = 64 };

// The claim word: the job's generation (40 bits), its part count (12 bits) and the next
// unclaimed part (12 bits), in one atomic so a claim is only ever taken for the job it read.
#define CLAIM(generation, parts, next) \
    ((((uint64_t)(generation) & 0xFFFFFFFFFFull) << 24) | ((uint64_t)(parts) << 12) | (uint64_t)(next))
#define CLAIM_GENERATION(word) ((word) >> 24)
#define CLAIM_PARTS(word) (((word) >> 12) & 0xFFF)
#define CLAIM_NEXT(word) ((word) & 0xFFF)

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t threads[MAX_WORKERS];
    unsigned long first_generation[MAX_WORKERS];  // the generation each worker was created at
    int started;                 // worker threads created so far (they are never stopped)
    _Atomic int width;           // parts a job may have: 1 + the workers taking part
    _Atomic unsigned long generation;
    _Atomic uint64_t claim;      // see CLAIM
    _Atomic long remaining;      // parts of the current job not finished yet
    int sleepers;                // workers waiting on `wake` (guarded by `lock`)
    atomic_flag busy;            // a job is being run (submitters that find it set run alone)
    ad_pool_task task;
    void *context;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .width = 1, .busy = ATOMIC_FLAG_INIT};

/// The next unclaimed part of job `generation`, or -1 when it has none left (or is over).
static long claim_part(unsigned long generation) {
    uint64_t word = atomic_load_explicit(&pool.claim, memory_order_acquire);
    for (;;) {
        if (CLAIM_GENERATION(word) != (generation & 0xFFFFFFFFFFull)) return -1;
        if (CLAIM_NEXT(word) >= CLAIM_PARTS(word)) return -1;
        if (atomic_compare_exchange_weak_explicit(&pool.claim, &word, word + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return (long)CLAIM_NEXT(word);
    }
}

/// Runs parts of job `generation` until none is left unclaimed.
static void run_claimed_parts(unsigned long generation) {
    long part;
    while ((part = claim_part(generation)) >= 0) {
        pool.task(pool.context, part);
        atomic_fetch_sub_explicit(&pool.remaining, 1, memory_order_release);
    }
}

static void *worker_main(void *argument) {
    long worker = (long)(intptr_t)argument;
    // Not the generation now: a job may have been submitted between pthread_create and this
    // line, and this worker must take part in it.
    unsigned long seen = pool.first_generation[worker - 1];
    for (;;) {
        unsigned long now = seen;
        for (int i = 0; i < SPIN_LIMIT; i++) {
            now = atomic_load_explicit(&pool.generation, memory_order_acquire);
            if (now != seen) break;
            if (i % YIELD_EVERY == YIELD_EVERY - 1) sched_yield();
            else CPU_RELAX();
        }
        if (now == seen) {
            pthread_mutex_lock(&pool.lock);
            pool.sleepers++;
            while ((now = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pool.sleepers--;
            pthread_mutex_unlock(&pool.lock);
        }
        seen = now;
        run_claimed_parts(now);
    }
    return NULL;
}

void ad_pool_set_width(int width) {
    if (width < 1) width = 1;
    if (width > MAX_WORKERS + 1) width = MAX_WORKERS + 1;
    // Wait for a running job to finish before the set of workers changes.
    while (atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire)) CPU_RELAX();
    while (pool.started < width - 1) {
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setstacksize(&attributes, 1 << 20);
        // A worker waits for the first job after the generation at its creation (which cannot
        // change while `busy` is held here).
        pool.first_generation[pool.started] = atomic_load_explicit(&pool.generation, memory_order_relaxed);
        if (pthread_create(&pool.threads[pool.started], &attributes, worker_main,
                           (void *)(intptr_t)(pool.started + 1)) != 0) {
            pthread_attr_destroy(&attributes);
            break;
        }
        pthread_attr_destroy(&attributes);
        pool.started++;
    }
    atomic_store_explicit(&pool.width, width <= pool.started + 1 ? width : pool.started + 1, memory_order_release);
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}

int ad_pool_width(void) { return atomic_load_explicit(&pool.width, memory_order_acquire); }

void ad_pool_run(long parts, ad_pool_task task, void *context) {
    int width = atomic_load_explicit(&pool.width, memory_order_acquire);
    // One part, more parts than threads, a job already running (another thread's, or this
    // one's from inside a task): the parts run here, one after another. Results do not depend
    // on which path ran, since the parts are the same.
    if (parts <= 1 || parts > width || atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire)) {
        for (long part = 0; part < parts; part++) task(context, part);
        return;
    }
    width = atomic_load_explicit(&pool.width, memory_order_acquire);
    if (parts > width) {
        atomic_flag_clear_explicit(&pool.busy, memory_order_release);
        for (long part = 0; part < parts; part++) task(context, part);
        return;
    }
    pool.task = task;
    pool.context = context;
    atomic_store_explicit(&pool.remaining, parts - 1, memory_order_relaxed);
    unsigned long generation = atomic_load_explicit(&pool.generation, memory_order_relaxed) + 1;
    // Part 0 is the caller's; the claim word is published before the generation a worker wakes on.
    atomic_store_explicit(&pool.claim, CLAIM(generation, parts, 1), memory_order_release);
    pthread_mutex_lock(&pool.lock);
    atomic_store_explicit(&pool.generation, generation, memory_order_release);
    if (pool.sleepers > 0) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    task(context, 0);
    run_claimed_parts(generation);
    // Parts claimed by workers may still be running: wait for them, giving the core away now
    // and then in case a claimant is waiting for it.
    for (long i = 1; atomic_load_explicit(&pool.remaining, memory_order_acquire) > 0; i++) {
        if (i % YIELD_EVERY == 0) sched_yield();
        else CPU_RELAX();
    }
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}

/// The cores the process may use: the CPUs in its affinity mask, bounded by the CPU quota of its
/// cgroup (v2 `cpu.max`, else v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), rounded up.
int ad_available_cpus(void) {
    int cpus = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
    if (cpus < 1) cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
    long long quota = -1, period = 0;
    FILE *file = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (file) {
        char first[32];
        if (fscanf(file, "%31s %lld", first, &period) == 2 && first[0] != 'm') quota = atoll(first);
        fclose(file);
    } else if ((file = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r"))) {
        if (fscanf(file, "%lld", &quota) != 1) quota = -1;
        fclose(file);
        if ((file = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r"))) {
            if (fscanf(file, "%lld", &period) != 1) period = 0;
            fclose(file);
        }
    }
    if (quota > 0 && period > 0) {
        long long limit = (quota + period - 1) / period;
        if (limit < cpus) cpus = (int)limit;
    }
    return cpus;
}
