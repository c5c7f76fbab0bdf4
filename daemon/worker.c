/*
 * worker.c: forks, feeds, watches and replaces the worker processes.
 *
 * Each worker is a fork of the main process made after the dataset is loaded
 * and the rings are mapped, so it reads the rows copy-on-write and writes
 * straight into the shared slots. It talks to the main process over one
 * SOCK_SEQPACKET socketpair: one message is one job or one result, so there
 * is no framing to get wrong. The main process watches each socket with a
 * uv_poll_t; end-of-file on it means the worker died, and its job is sent
 * again to the replacement, so no batch is lost or repeated.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "internal.h"
#include "log.h"
#include "pipeline.h"

/* A job that has killed this many workers in a row is given up: its samples
 * are reported as failed instead of killing workers for ever. */
#define WORKER_MAX_ATTEMPTS 3

/* How often a worker whose replacement failed to start (fork, socketpair:
 * out of memory or file descriptors) is tried again. Without retries one such
 * failure would leave its jobs waiting for ever. */
#define WORKER_RESPAWN_RETRY_MS 1000

/* How often the watchdog looks for workers over batch_timeout. */
#define WORKER_WATCHDOG_MS 1000

/* How long worker_pool_pump_soon defers a hand-off: libuv's timer
 * resolution, and far below the time a worker takes for a batch. */
#define WORKER_PUMP_DELAY_MS 1

/* What a worker sends back for one job: one SOCK_SEQPACKET message. */
typedef struct worker_result {
    uint32_t job_id;
    fill_report_t report;
} worker_result_t;

static const char *const worker_state_text[WORKER_STATE_MAX] = {
    [WORKER_STARTING] = "starting",
    [WORKER_IDLE] = "idle",
    [WORKER_BUSY] = "busy",
    [WORKER_DEAD] = "dead",
};

const char *worker_state_name(worker_state_t state)
{
    return state < WORKER_STATE_MAX ? worker_state_text[state] : "unknown";
}

/* Reads the cgroup v2 CPU quota ("max 100000" or "200000 100000") and
 * returns it rounded up to whole CPUs, or 0 when there is none. */
static uint32_t worker_cgroup_cpus(void)
{
    char line[128];
    long long quota, period;
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");

    if (f == NULL)
        return 0;
    if (fgets(line, sizeof(line), f) == NULL || sscanf(line, "%lld %lld", &quota, &period) != 2 ||
        quota <= 0 || period <= 0) {
        fclose(f);
        return 0;
    }
    fclose(f);
    return (uint32_t)((quota + period - 1) / period);
}

uint32_t worker_usable_cpus(void)
{
    cpu_set_t set;
    uint32_t cpus = 1;
    uint32_t quota;

    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        cpus = (uint32_t)CPU_COUNT(&set);
    quota = worker_cgroup_cpus();
    if (quota > 0 && quota < cpus)
        cpus = quota;
    return cpus > 0 ? cpus : 1;
}

/*
 * Workers decode for throughput; what waits on them can wait a few
 * microseconds more. SCHED_BATCH keeps their wake-ups from preempting the
 * main process's loop and the trainer (same CPU share, no wake-up
 * preemption). Measured with bench_rtt, toggling the policy of live
 * workers: on a quiet host the round trip's median was 39-46 us against
 * 46-52 us; on a noisy one no difference, nor in images/s with batch 64.
 * Only from the default policy: a
 * daemon an administrator started as SCHED_IDLE (or real-time) keeps that.
 * Failing to set it costs nothing.
 */
static void worker_be_batch(void)
{
    struct sched_param param = {.sched_priority = 0};

    if (sched_getscheduler(0) != SCHED_OTHER)
        return;
    if (sched_setscheduler(0, SCHED_BATCH, &param) != 0)
        log_debug("worker %d: cannot use SCHED_BATCH: %s", (int)getpid(), strerror(errno));
}

/*
 * The worker process: resets what it inherited from the main process, then
 * answers jobs until its socket closes. It never returns.
 */
static void worker_main(daemon_t *d, int fd) __attribute__((noreturn));
static void worker_main(daemon_t *d, int fd)
{
    pipeline_t *pipeline = NULL;
    worker_result_t result;
    worker_job_t job;
    sigset_t all;

    /* The main process handles signals through libuv, whose pipe this
     * process must not touch: go back to defaults. Ctrl-C reaches the whole
     * process group; the main process decides when workers stop. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    /* Die with the main process rather than fill slots nobody reads. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(0);
    worker_be_batch();

    /* Keep only the job socket (as fd 3) and stdio; the shared memory stays
     * mapped without its fd. */
    if (fd != 3) {
        if (dup2(fd, 3) < 0)
            _exit(127);
        fd = 3;
    }
    close_range(4, ~0U, 0);

    if (pipeline_create(&pipeline, &d->config->image) < 0)
        _exit(126);

    for (;;) {
        ssize_t n = recv(fd, &job, sizeof(job), 0);
        if (n == 0)
            _exit(0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if ((size_t)n != sizeof(job) || job.feed >= d->feed_count)
            _exit(2);
        memset(&result, 0, sizeof(result));
        result.job_id = job.id;
        fill_batch(&d->feeds[job.feed], pipeline, &job, &result.report);
        if (send(fd, &result, sizeof(result), MSG_NOSIGNAL) < 0)
            _exit(3);
    }
}

static void worker_on_readable(uv_poll_t *handle, int status, int events);

/* Forks worker w. Returns 0 or -errno. */
static int worker_spawn(worker_t *w)
{
    int fds[2];
    pid_t pid;
    int rc;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
        return -errno;
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    if (pid == 0) {
        close(fds[0]);
        worker_main(w->daemon, fds[1]);
    }
    close(fds[1]);
    w->pid = pid;
    w->fd = fds[0];
    w->state = WORKER_IDLE;
    w->overdue = 0;
    /* Each process gets its own poll handle: the previous one may still be
     * closing, and libuv must not see a closing handle initialised again. */
    w->poll = mogen_malloc(sizeof(*w->poll));
    rc = uv_poll_init(w->daemon->loop, w->poll, w->fd);
    if (rc < 0) {
        mogen_free(w->poll);
        w->poll = NULL;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(w->fd);
        w->fd = -1;
        return rc;
    }
    w->poll->data = w;
    uv_poll_start(w->poll, UV_READABLE | UV_DISCONNECT, worker_on_readable);
    log_debug("worker %u started (pid %d)", w->index, (int)pid);
    return 0;
}

static void worker_on_poll_closed(uv_handle_t *handle)
{
    mogen_free(handle);
}

/* Closes our end of w's socket and reaps it. */
static void worker_reap(worker_t *w, int sig)
{
    int status = 0;

    if (w->poll != NULL) {
        uv_close((uv_handle_t *)w->poll, worker_on_poll_closed);
        w->poll = NULL;
    }
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->pid > 0) {
        if (sig != 0)
            kill(w->pid, sig);
        while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (WIFSIGNALED(status))
            log_debug("worker %u (pid %d) ended by signal %d", w->index, (int)w->pid,
                      WTERMSIG(status));
        w->pid = 0;
    }
    w->state = WORKER_DEAD;
}

/* Queues job to be sent again before any new work. */
static void worker_pool_redo(worker_pool_t *pool, const worker_job_t *job)
{
    if (pool->redo_count == pool->redo_capacity) {
        pool->redo_capacity = pool->redo_capacity ? pool->redo_capacity * 2 : 8;
        pool->redo = mogen_reallocarray(pool->redo, pool->redo_capacity, sizeof(*pool->redo));
    }
    pool->redo[pool->redo_count++] = *job;
}

/*
 * Gives up a job that kept killing workers: the slot is completed with every
 * sample marked failed, so the stream moves on and the rows are reported.
 */
static void worker_give_up(daemon_t *d, const worker_job_t *job)
{
    feed_t *feed = &d->feeds[job->feed];
    uint32_t *rows = mogen_malloc(feed->config->batch_size * sizeof(*rows));
    uint32_t count = scheduler_batch_rows(&feed->scheduler, job->epoch, job->batch, rows);
    int errors = ring_layout_find(&feed->ring.layout, "errors");
    fill_report_t report;

    mogen_free(rows);
    memset(&report, 0, sizeof(report));
    report.sample_count = count;
    report.failed_count = count;
    log_error("stream %s: batch %u of epoch %u killed %u workers in a row; "
              "it is delivered with every sample flagged as failed",
              feed->config->name, job->batch, job->epoch, job->attempts);
    if (errors >= 0)
        memset(ring_slot_data(&feed->ring, job->slot) + feed->ring.layout.tensors[errors].offset,
               1, count);
    feed_fill_done(feed, job->slot, job->generation, &report);
}

/* Tries again to start every worker whose replacement failed; stops
 * retrying once all are running. */
static void worker_on_respawn_timer(uv_timer_t *timer)
{
    worker_pool_t *pool = timer->data;
    int still_dead = 0;

    for (uint32_t i = 0; i < pool->count; i++) {
        worker_t *w = &pool->workers[i];
        int rc;
        if (w->state != WORKER_DEAD || w->daemon->stopping)
            continue;
        rc = worker_spawn(w);
        if (rc < 0) {
            still_dead = 1;
            log_debug("worker %u still cannot start: %s", w->index, strerror(-rc));
        } else {
            log_info("worker %u started again", w->index);
        }
    }
    if (!still_dead)
        uv_timer_stop(timer);
    worker_pool_pump(pool);
}

/* w's socket closed or failed: the worker is gone. Its job is redone by a
 * replacement, which is started at once unless the daemon is stopping. */
static void worker_died(worker_t *w)
{
    daemon_t *d = w->daemon;
    worker_pool_t *pool = &d->pool;
    int had_job = w->state == WORKER_BUSY;
    worker_job_t job = w->job;
    int rc;

    worker_reap(w, SIGKILL);
    if (d->stopping)
        return;
    pool->deaths++;
    w->restarts++;
    log_warn("worker %u died%s; starting a replacement", w->index,
             had_job ? " while filling a batch; its batch will be redone" : "");
    if (had_job) {
        if (job.attempts >= WORKER_MAX_ATTEMPTS)
            worker_give_up(d, &job);
        else
            worker_pool_redo(pool, &job);
    }
    rc = worker_spawn(w);
    if (rc < 0) {
        log_error("cannot start a replacement for worker %u: %s; retrying every %d ms",
                  w->index, strerror(-rc), WORKER_RESPAWN_RETRY_MS);
        if (pool->timers_open && !uv_is_active((uv_handle_t *)&pool->respawn))
            uv_timer_start(&pool->respawn, worker_on_respawn_timer, WORKER_RESPAWN_RETRY_MS,
                           WORKER_RESPAWN_RETRY_MS);
    }
    worker_pool_pump(pool);
}

static void worker_on_readable(uv_poll_t *handle, int status, int events)
{
    worker_t *w = handle->data;
    daemon_t *d = w->daemon;
    worker_result_t result;
    ssize_t n;

    if (status < 0 || (events & UV_DISCONNECT)) {
        /* Drain a result that arrived just before the hang-up first. */
        n = recv(w->fd, &result, sizeof(result), MSG_DONTWAIT);
        if (n != (ssize_t)sizeof(result)) {
            worker_died(w);
            return;
        }
    } else {
        n = recv(w->fd, &result, sizeof(result), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n != (ssize_t)sizeof(result)) {
            worker_died(w);
            return;
        }
    }
    if (w->state != WORKER_BUSY || result.job_id != w->job.id) {
        log_error("worker %u sent a result for job %u it was not given", w->index, result.job_id);
        worker_died(w);
        return;
    }
    /* The counts index arrays below: never trust them past their size. */
    if (result.report.reported > FILL_MAX_REPORTED_FAILURES)
        result.report.reported = FILL_MAX_REPORTED_FAILURES;
    if (result.report.warnings_reported > FILL_MAX_REPORTED_WARNINGS)
        result.report.warnings_reported = FILL_MAX_REPORTED_WARNINGS;
    w->state = WORKER_IDLE;
    w->images += result.report.sample_count;
    feed_fill_done(&d->feeds[w->job.feed], w->job.slot, w->job.generation, &result.report);
    worker_pool_pump(&d->pool);
}

/* Sends job to idle worker w. Returns 0, or -errno when the worker is gone
 * (it is then handled as dead and the job goes to the redo list). */
static int worker_send_job(worker_t *w, const worker_job_t *job)
{
    w->job = *job;
    w->job.attempts++;
    w->state = WORKER_BUSY;
    w->job_sent_ns = daemon_now_ns();
    if (send(w->fd, &w->job, sizeof(w->job), MSG_NOSIGNAL | MSG_DONTWAIT) != sizeof(w->job)) {
        int rc = -errno;
        worker_died(w);
        return rc;
    }
    return 0;
}

/* Finds the next job: a redone one first, else the next free slot of the
 * streams in round-robin order. Returns 1 when job was filled in. */
static int worker_pool_next_job(worker_pool_t *pool, daemon_t *d, worker_job_t *job)
{
    if (pool->redo_count > 0) {
        *job = pool->redo[0];
        memmove(&pool->redo[0], &pool->redo[1], (pool->redo_count - 1) * sizeof(*pool->redo));
        pool->redo_count--;
        return 1;
    }
    for (uint32_t i = 0; i < d->feed_count; i++) {
        uint32_t f = (pool->next_feed + i) % d->feed_count;
        feed_t *feed = &d->feeds[f];
        uint32_t epoch, batch;
        int slot = feed_claim_slot(feed, &epoch, &batch);
        if (slot < 0)
            continue;
        pool->next_feed = (f + 1) % d->feed_count;
        memset(job, 0, sizeof(*job));
        job->id = ++pool->next_job_id;
        job->feed = f;
        job->slot = (uint32_t)slot;
        job->epoch = epoch;
        job->batch = batch;
        job->generation = feed->generation;
        return 1;
    }
    return 0;
}

void worker_pool_pump(worker_pool_t *pool)
{
    daemon_t *d;
    worker_job_t job;

    if (pool->count == 0)
        return;
    d = pool->workers[0].daemon;
    if (d->stopping)
        return;
    /* Start after the worker that got the last job, so that work spreads
     * over all workers even when one alone could keep up: otherwise the
     * lowest-numbered worker takes nearly every job and a burst finds the
     * others cold. */
    for (uint32_t n = 0; n < pool->count; n++) {
        uint32_t i = (pool->next_worker + n) % pool->count;
        worker_t *w = &pool->workers[i];
        if (w->state != WORKER_IDLE)
            continue;
        if (!worker_pool_next_job(pool, d, &job))
            return;
        pool->next_worker = (i + 1) % pool->count;
        if (worker_send_job(w, &job) < 0)
            return; /* worker_died() queued the job and pumped again. */
    }
}

/*
 * Kills every worker that has spent over batch_timeout seconds on its batch:
 * a decode that never ends (a corrupt file that sends a decoder into a loop,
 * a read from a network share that hangs) would otherwise hold its slot, and
 * the trainer waiting for it, for ever. The end of its socket then runs the
 * usual path for a dead worker: a replacement, the batch redone, and after
 * WORKER_MAX_ATTEMPTS the batch delivered with its samples flagged failed.
 */
static void worker_on_watchdog(uv_timer_t *timer)
{
    worker_pool_t *pool = timer->data;
    uint64_t now = daemon_now_ns();

    for (uint32_t i = 0; i < pool->count; i++) {
        worker_t *w = &pool->workers[i];
        const daemon_t *d = w->daemon;
        uint64_t limit_ns = (uint64_t)d->config->batch_timeout * 1000000000u;
        if (w->state != WORKER_BUSY || w->overdue || w->pid <= 0 ||
            now - w->job_sent_ns <= limit_ns)
            continue;
        log_error("worker %u (pid %d) has spent over %u s on batch %u of epoch %u of stream %s "
                  "(batch_timeout); killing it",
                  w->index, (int)w->pid, d->config->batch_timeout, w->job.batch, w->job.epoch,
                  d->feeds[w->job.feed].config->name);
        w->overdue = 1;
        kill(w->pid, SIGKILL);
    }
}

static void worker_on_pump_later(uv_timer_t *timer)
{
    worker_pool_pump(timer->data);
}

/*
 * Waking an idle worker costs this process 10-15 us (measured on a 2-vCPU
 * VM: a request/reply echo that also wakes a third process after each reply
 * takes 41-45 us instead of 31), and when the client shares a CPU with the
 * daemon that cost lands inside the client's round trip, even though the
 * reply went out first: the client runs again only when the daemon sleeps.
 * A hand-off no client waits on (the refill of a slot just released, while
 * the ring is ahead) loses nothing by waiting a millisecond.
 */
void worker_pool_pump_soon(worker_pool_t *pool)
{
    if (pool->timers_open && !uv_is_active((uv_handle_t *)&pool->pump_later))
        uv_timer_start(&pool->pump_later, worker_on_pump_later, WORKER_PUMP_DELAY_MS, 0);
}

int worker_pool_start(worker_pool_t *pool, daemon_t *d, uint32_t count, char *err, size_t errlen)
{
    memset(pool, 0, sizeof(*pool));
    pool->workers = mogen_calloc(count, sizeof(*pool->workers));
    pool->count = count;
    uv_timer_init(d->loop, &pool->respawn);
    pool->respawn.data = pool;
    uv_timer_init(d->loop, &pool->pump_later);
    pool->pump_later.data = pool;
    uv_timer_init(d->loop, &pool->watchdog);
    pool->watchdog.data = pool;
    pool->timers_open = 1;
    if (d->config->batch_timeout > 0)
        uv_timer_start(&pool->watchdog, worker_on_watchdog, WORKER_WATCHDOG_MS,
                       WORKER_WATCHDOG_MS);
    for (uint32_t i = 0; i < count; i++) {
        worker_t *w = &pool->workers[i];
        int rc;
        w->daemon = d;
        w->index = i;
        w->fd = -1;
        w->state = WORKER_STARTING;
        rc = worker_spawn(w);
        if (rc < 0) {
            snprintf(err, errlen, "cannot start worker %u: %s", i, strerror(-rc));
            worker_pool_stop(pool);
            return rc;
        }
    }
    return 0;
}

void worker_pool_stop(worker_pool_t *pool)
{
    if (pool->timers_open) {
        uv_close((uv_handle_t *)&pool->respawn, NULL);
        uv_close((uv_handle_t *)&pool->pump_later, NULL);
        uv_close((uv_handle_t *)&pool->watchdog, NULL);
        pool->timers_open = 0;
    }
    for (uint32_t i = 0; i < pool->count; i++) {
        worker_t *w = &pool->workers[i];
        if (w->pid > 0 || w->fd >= 0 || w->poll != NULL)
            worker_reap(w, SIGTERM);
    }
}

void worker_pool_free(worker_pool_t *pool)
{
    mogen_free(pool->workers);
    mogen_free(pool->redo);
    memset(pool, 0, sizeof(*pool));
}
