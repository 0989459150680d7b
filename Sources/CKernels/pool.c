// A fork-join pool for splitting one kernel across cores: the caller runs part 0 and worker w
// runs part w + 1, always, so a part stays on the same core from one kernel to the next and the
// rows it touched are still in that core's cache. Workers spin for a short while after each job
// (the next kernel of a training step is microseconds away) and then sleep on a condition
// variable, so an idle program does not hold a core.
#include "CKernels.h"

#include <pthread.h>
#include <stdatomic.h>
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

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t threads[MAX_WORKERS];
    unsigned long first_generation[MAX_WORKERS];  // the generation each worker was created at
    int started;                 // worker threads created so far (they are never stopped)
    _Atomic int width;           // parts a job may have: 1 + the workers taking part
    _Atomic unsigned long generation;
    _Atomic long pending;        // workers that have not finished the current job
    int sleepers;                // workers waiting on `wake` (guarded by `lock`)
    atomic_flag busy;            // a job is being run (submitters that find it set run alone)
    ad_pool_task task;
    void *context;
    long parts;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .width = 1, .busy = ATOMIC_FLAG_INIT};

static void *worker_main(void *argument) {
    long part = (long)(intptr_t)argument;
    // Not the generation now: a job may have been submitted between pthread_create and this
    // line, and this worker must take part in it.
    unsigned long seen = pool.first_generation[part - 1];
    for (;;) {
        unsigned long now = seen;
        for (int i = 0; i < SPIN_LIMIT; i++) {
            now = atomic_load_explicit(&pool.generation, memory_order_acquire);
            if (now != seen) break;
            CPU_RELAX();
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
        if (part < pool.parts) pool.task(pool.context, part);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
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
    pool.parts = parts;
    atomic_store_explicit(&pool.pending, pool.started, memory_order_relaxed);
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    if (pool.sleepers > 0) pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    task(context, 0);
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) CPU_RELAX();
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}
