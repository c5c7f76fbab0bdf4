/*
 * internal.h: the running daemon's shared state and the entry points its
 * runtime modules call in one another.
 *
 * Ownership, in one place:
 *  - main.c creates the daemon_t and tears it down;
 *  - feed.c owns each stream's ring, scheduler, cursors and waiting clients,
 *    and is the only code that changes slot states;
 *  - worker.c owns the worker processes and the jobs in flight;
 *  - server.c owns the listening socket, conn.c each connection's buffers,
 *    service.c what each message does;
 *  - status.c turns all of it into the STATUS JSON.
 * Everything here runs on the one libuv loop thread of the main process;
 * workers are separate processes that see only their job socket and the
 * shared memory.
 */
#ifndef MOGEN_INTERNAL_H
#define MOGEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "config.h"
#include "dataset.h"
#include "mailbox.h"
#include "ring.h"
#include "scheduler.h"

struct cJSON;
struct jsonw;
typedef struct daemon_state daemon_t;
typedef struct conn conn_t;

/* ------------------------------------------------------------------------
 * Failures of single samples, as reported to clients and to status.
 */

/* Most failures a worker reports in detail per job; the rest are counted.
 * Bounded so a job result always fits one SOCK_SEQPACKET message. */
#define FILL_MAX_REPORTED_FAILURES 32

/* Most accepted decoder warnings a worker reports in detail per job. */
#define FILL_MAX_REPORTED_WARNINGS 4

/* Longest failure reason kept, including the NUL. */
#define FILL_REASON_MAX 200

typedef struct sample_failure {
    uint32_t row;                  /* Kept-row index within the stream. */
    char reason[FILL_REASON_MAX];
} sample_failure_t;

/* ------------------------------------------------------------------------
 * feed.c: one stream at run time.
 */

/* A NEXT that could not be answered yet. */
typedef struct feed_waiter {
    conn_t *conn;
    uint64_t since_ns; /* When the NEXT arrived, for the starvation figure. */
} feed_waiter_t;

typedef struct feed {
    daemon_t *daemon;
    uint32_t index;                 /* Index of the stream in config and dataset. */
    const dataset_stream_t *rows;   /* The stream's kept rows. */
    const stream_config_t *config;
    ring_t ring;
    scheduler_t scheduler;
    uint32_t batches_per_epoch;     /* All ranks together. */
    uint32_t rank;                  /* Position set by the first HELLO. */
    uint32_t world;
    uint32_t generation;            /* Bumped when the stream is repositioned. */
    uint32_t produce_epoch;         /* Next batch to give to a worker. */
    uint32_t produce_batch;
    uint32_t deliver_epoch;         /* Next batch to hand to a client. */
    uint32_t deliver_batch;
    uint32_t attached;              /* Connections that said HELLO for this stream. */
    feed_waiter_t *waiters;         /* FIFO of pending NEXTs. */
    size_t waiter_count;
    size_t waiter_capacity;
    sample_failure_t **slot_failures; /* Per slot: failures of the batch in it. */
    uint32_t *slot_failure_count;     /* Per slot: entries in slot_failures. */
    uint64_t samples_ok;            /* Totals since start. */
    uint64_t samples_failed;        /* Every failed decode, repeats included. */
    uint8_t *row_reported;          /* Per kept row: FEED_REPORTED_* bits, so that a
                                       file failing every epoch is logged once. */
    uint32_t failed_rows;           /* Distinct rows whose file has failed. */
    uint32_t warned_rows;           /* Distinct rows decoded with a warning. */
    uint64_t failed_since_ok;       /* Consecutive failures; a whole epoch of them stops the stream. */
    int failed;                     /* 1 = stopped: every file failed. */
    char failure[512];              /* Why it stopped. */
    uint64_t batches_delivered;
    uint64_t wait_ns;               /* Time clients spent waiting for batches. */
    uint64_t wait_ns_window;        /* Same, since the last status tick. */
    double wait_fraction;           /* Share of the last window clients waited. */
} feed_t;

/* Bits of feed_t.row_reported. */
#define FEED_REPORTED_FAILURE 1u /* The row's failure was logged. */
#define FEED_REPORTED_WARNING 2u /* The row's decoder warning was logged. */

/* Creates the ring and scheduler of stream `index`. Returns 0 or -errno with err. */
int feed_init(feed_t *feed, daemon_t *d, uint32_t index, char *err, size_t errlen);
void feed_destroy(feed_t *feed);

/* Steps the cursor (epoch, batch) to this feed's next batch for its rank. */
void feed_advance(const feed_t *feed, uint32_t *epoch, uint32_t *batch);

/* Batches per epoch that this feed's rank receives. */
uint32_t feed_steps_per_epoch(const feed_t *feed);

/*
 * Moves the stream to (epoch, batch) for rank/world: discards prepared
 * batches and bumps the generation so that fills in flight are discarded
 * when they complete. Only legal with nobody attached.
 */
void feed_reposition(feed_t *feed, uint32_t epoch, uint32_t batch, uint32_t rank, uint32_t world);

/* Claims a FREE slot for the next batch to produce; returns it or -1. */
int feed_claim_slot(feed_t *feed, uint32_t *epoch, uint32_t *batch);

/* What a worker reports about one filled batch. */
typedef struct fill_report {
    uint32_t sample_count;   /* Samples in the batch. */
    uint32_t failed_count;   /* Samples whose file failed (all of them). */
    uint32_t reported;       /* Entries in failures. */
    uint32_t warning_count;  /* Samples decoded despite a decoder warning. */
    uint32_t warnings_reported; /* Entries in warnings. */
    sample_failure_t failures[FILL_MAX_REPORTED_FAILURES];
    sample_failure_t warnings[FILL_MAX_REPORTED_WARNINGS];
} fill_report_t;

/* A worker finished filling slot with the outcome in report. */
void feed_fill_done(feed_t *feed, uint32_t slot, uint32_t generation, const fill_report_t *report);

/* Queues a NEXT from conn and answers what can be answered now. */
void feed_request_next(feed_t *feed, conn_t *conn);
/* Answers waiting NEXTs whose batch is READY. */
void feed_serve_waiters(feed_t *feed);
/* 1 when a NEXT of any stream is waiting for a batch. */
int feeds_have_waiters(const daemon_t *d);
/* Drops conn's waiting NEXTs and gives back its leases (disconnect); a
 * batch posted in its mailbox and not taken goes back to the stream when
 * it can. Returns 1 when that happened. */
int feed_detach(feed_t *feed, conn_t *conn);
/* RELEASE of slot by conn; returns 0, -EPERM when conn does not hold it,
 * -EAGAIN when it is the batch posted in conn's mailbox and not yet taken. */
int feed_release(feed_t *feed, conn_t *conn, uint32_t slot);
/* Posts the next batch to every mailbox of the feed that is empty, when
 * that batch is READY, in order and plain (see feed.c). */
void feed_fill_mailboxes(feed_t *feed);
/* Frees the slots conn's client released through its mailbox. Returns how
 * many, or -1 when conn was closed for releasing one it does not hold. */
int feed_sync_mailbox(feed_t *feed, conn_t *conn);
/* Every mailbox: frees what was released there, posts what can be posted,
 * and gives freed slots to the workers. Returns 1 when anything changed. */
int feeds_poll_mailboxes(daemon_t *d);
/* A NEXT from conn while its mailbox holds a batch it has not taken: marks
 * it taken and answers with it. Returns 1 when it answered, 0 when the
 * mailbox is empty (or conn has none), -1 when conn was closed for
 * writing nonsense into its mailbox. */
int feed_answer_from_mailbox(feed_t *feed, conn_t *conn);

/* ------------------------------------------------------------------------
 * worker.c: the pool of worker processes.
 */

typedef enum worker_state {
    WORKER_STARTING, /* Forked; no job yet. */
    WORKER_IDLE,     /* Waiting for a job. */
    WORKER_BUSY,     /* Filling a slot. */
    WORKER_DEAD,     /* Exited; being replaced. */
    WORKER_STATE_MAX
} worker_state_t;

/* What a worker is asked to do: fill one slot with one batch. */
typedef struct worker_job {
    uint32_t id;
    uint32_t feed;
    uint32_t slot;
    uint32_t epoch;
    uint32_t batch;
    uint32_t generation;
    uint32_t attempts; /* Times this job was started; a job that keeps killing
                          workers is given up after WORKER_MAX_ATTEMPTS. */
} worker_job_t;

typedef struct worker {
    daemon_t *daemon;
    uint32_t index;
    pid_t pid;
    int fd;                /* Main process end of the job socket. */
    uv_poll_t *poll;       /* Watches fd; freed in its close callback. */
    worker_state_t state;
    worker_job_t job;      /* Valid while BUSY. */
    uint64_t job_sent_ns;  /* When job was sent (daemon_now_ns). */
    int overdue;           /* 1 once killed for batch_timeout, until reaped. */
    uint64_t images;       /* Samples filled since start. */
    uint64_t restarts;
} worker_t;

typedef struct worker_pool {
    worker_t *workers;
    uint32_t count;
    worker_job_t *redo;    /* Jobs of dead workers, to send again first. */
    size_t redo_count;
    size_t redo_capacity;
    uint32_t next_job_id;
    uint32_t next_feed;    /* Round-robin start for fairness between streams. */
    uint32_t next_worker;  /* Round-robin start so that work spreads over workers. */
    uv_timer_t respawn;    /* Retries workers whose replacement failed to start. */
    uv_timer_t pump_later; /* Runs worker_pool_pump_soon's deferred pump. */
    uv_timer_t watchdog;   /* Kills workers over batch_timeout (when it is set). */
    int timers_open;       /* 1 while respawn, pump_later and watchdog are open. */
    uint64_t deaths;
} worker_pool_t;

/* The number of CPUs this process may use (affinity mask and cgroup quota). */
uint32_t worker_usable_cpus(void);

int worker_pool_start(worker_pool_t *pool, daemon_t *d, uint32_t count, char *err, size_t errlen);
/* Gives idle workers work while any stream has a free slot. */
void worker_pool_pump(worker_pool_t *pool);
/* The same, a millisecond from now (once, however often called meanwhile):
 * for hand-offs that no client is waiting on (see worker.c). */
void worker_pool_pump_soon(worker_pool_t *pool);
/* Stops every worker and waits for it. */
void worker_pool_stop(worker_pool_t *pool);
/* Frees the pool's memory (after stop, once the loop has closed handles). */
void worker_pool_free(worker_pool_t *pool);
const char *worker_state_name(worker_state_t state);

/* ------------------------------------------------------------------------
 * fill.c: what a worker process does with a job (runs in the worker).
 */

struct pipeline;

/*
 * Fills slot job->slot of feed with batch (job->epoch, job->batch): decodes
 * every sample into the image tensor, writes labels, row ids and error
 * flags. A failed sample is recorded in report->failures and replaced by a
 * copy of the next sample of the batch that succeeded; a sample decoded
 * despite a decoder warning (accepted by policy, see decode.h) is recorded
 * in report->warnings.
 */
void fill_batch(feed_t *feed, struct pipeline *pipeline, const worker_job_t *job,
                fill_report_t *report);

/* ------------------------------------------------------------------------
 * server.c, conn.c, service.c: the Unix socket and its connections.
 */

/* Most bytes a connection may have queued for writing before it is
 * considered stuck and closed: a client that stops reading must not make the
 * daemon buffer without bound. Large enough for a WELCOME with huge class
 * lists. */
#define CONN_MAX_PENDING_WRITE (64u * 1024u * 1024u)

struct conn {
    uv_pipe_t handle;       /* Must be first: callbacks cast the handle back. */
    daemon_t *daemon;
    uint64_t id;
    conn_t *prev, *next;    /* In the daemon's list. */
    uint8_t *rbuf;          /* Bytes read and not yet parsed. */
    size_t rlen;
    size_t rcap;
    int closing;            /* uv_close called; freed in close_cb. */
    int peer_closed;        /* The client closed it (EOF or a reset). */
    int feed;               /* Stream index after HELLO, else -1. */
    uint32_t epoch_seen;    /* Epoch of the last batch (or start) this conn saw. */
    uint32_t leases;        /* Slots this conn holds. */
    uint64_t batches;       /* Batches handed to this conn. */
    int waiting;            /* 1 while a NEXT is queued in the feed. */
    int read_paused;        /* 1 while replies wait in libuv's queue: the
                             * client is not reading, so neither do we. */
    uint32_t errors_logged; /* ERRORs that kept it open, logged so far. */
    uint64_t connected_ns;
    mailbox_t mailbox;      /* page is NULL unless HELLO asked for one. */
};

/* ERRORs that keep a connection open are logged this many times per
 * connection, then no more: a client looping on a refused request must not
 * flood the journal. */
#define CONN_MAX_LOGGED_ERRORS 8

/* Most connections served at once. Each costs a read buffer and queued
 * replies; past this a new connection gets ERROR too_many_connections and
 * is closed, so that a runaway client cannot exhaust memory or descriptors. */
#define SERVER_MAX_CONNECTIONS 1024

/* Descriptors kept free of connections for everything else (workers'
 * sockets, the ring, files, libuv's own). */
#define SERVER_RESERVED_FDS 128

typedef struct server {
    uv_pipe_t listener;
    int listener_open;
    char *path;             /* Socket path; unlinked at stop. */
    conn_t *conns;          /* Doubly linked list of open connections. */
    uint32_t conn_count;
    uint32_t max_conns;     /* SERVER_MAX_CONNECTIONS, or fewer when the
                             * descriptor limit allows fewer. */
    uint64_t next_conn_id;
    uv_timer_t mailbox_poll;   /* Reads the mailboxes while any client has one. */
    int mailbox_poll_open;
    uint32_t mailbox_conns;    /* Open connections with a mailbox. */
    uint32_t mailbox_idle_ticks; /* Polls in a row that found nothing to do. */
    uint64_t mailbox_interval; /* SERVER_MAILBOX_POLL_MS or the idle one. */
} server_t;

/* How often the mailboxes are read: every millisecond while batches move,
 * every 20 ms after a second with nothing taken or released. A client's
 * socket traffic brings the fast pace back at once. */
#define SERVER_MAILBOX_POLL_MS 1
#define SERVER_MAILBOX_IDLE_POLL_MS 20
#define SERVER_MAILBOX_IDLE_TICKS 1000

/* Returns -EADDRINUSE with a message when a daemon already answers at
 * path, else 0. Changes nothing: main.c asks before the (possibly long)
 * load, so that a second instance is refused at once. */
int server_probe(const char *path, char *err, size_t errlen);

/* Returns 0 when path fits a Unix socket address and the directory that is
 * to hold it exists, else -ENAMETOOLONG, or -errno (-ENOENT: no such
 * directory) with a message saying what to do. (libuv reports a bind in a
 * missing directory as EACCES, which would send the reader the wrong way.) */
int server_check_socket_path(const char *path, char *err, size_t errlen);

/* Returns 0 when group is NULL or names a group of this system, else
 * -EINVAL with a message: mogend would refuse to start at the bind. */
int server_check_socket_group(const char *group, char *err, size_t errlen);

/* Binds and listens on the configured socket; refuses when another daemon
 * answers there, takes over a stale socket file. Returns 0 or -errno. */
int server_start(server_t *server, daemon_t *d, char *err, size_t errlen);
/* Sends every connection ERROR shutting_down and closes it; closes the
 * listener; unlinks the socket file. */
void server_stop(server_t *server);
/* A connection got (or lost) a mailbox: the poll runs while any has one. */
void server_mailbox_added(server_t *server);
void server_mailbox_removed(server_t *server);
/* A client with a mailbox spoke on its socket: poll at the fast pace. */
void server_mailbox_busy(server_t *server);

conn_t *conn_create(daemon_t *d);
/* Starts reading from an accepted connection. */
void conn_start(conn_t *conn);
void conn_close(conn_t *conn);
/* Close callback that frees a connection. */
void conn_on_closed(uv_handle_t *handle);
/* Queues one frame; closes the conn when too much is queued. */
int conn_send(conn_t *conn, uint16_t type, const struct cJSON *body);
/* Sends a frame with fds[0..count) attached (SCM_RIGHTS; count 1 or 2). */
int conn_send_with_fds(conn_t *conn, uint16_t type, const struct cJSON *body, const int *fds,
                       size_t count);
/*
 * Queues one frame whose body is the text of w, which must have been started
 * with jsonw_init(w, MOGEN_FRAME_HEADER_SIZE): the header goes into that room
 * and the buffer is sent as is, taken from w (left empty). Returns as
 * conn_send.
 */
int conn_send_json(conn_t *conn, uint16_t type, struct jsonw *w);
/* Sends ERROR {code, message}; closes the conn afterwards when close_after. */
void conn_send_error(conn_t *conn, const char *code, int close_after, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Handles one complete frame from conn. */
void service_handle(conn_t *conn, uint16_t type, const uint8_t *body, uint32_t length);
/* Sends BATCH for slot, or END_OF_EPOCH; called by the feed. */
void service_send_batch(conn_t *conn, feed_t *feed, uint32_t slot);
void service_send_end_of_epoch(conn_t *conn, uint32_t epoch);
void service_send_stream_failed(conn_t *conn, feed_t *feed);

/* ------------------------------------------------------------------------
 * status.c: counters and the STATUS JSON.
 */

/* Failures remembered for `mogenctl status`. */
#define STATUS_RECENT_ERRORS 16

typedef struct status_error {
    uint32_t stream;
    uint32_t csv_row;
    uint32_t line;
    char path[512];
    char reason[FILL_REASON_MAX];
    uint64_t when_ns;
} status_error_t;

typedef struct status_state {
    uint64_t started_ns;
    uint64_t images_total;
    uint64_t images_at_tick;
    double images_per_s;      /* Over the last tick window. */
    uint64_t errors_total;
    uint64_t warnings_total;  /* Samples decoded despite a decoder warning. */
    status_error_t recent[STATUS_RECENT_ERRORS]; /* Ring buffer. */
    uint32_t recent_next;
    uint32_t recent_count;
    uv_timer_t tick;
    int tick_open;
    uint64_t last_tick_ns;
} status_state_t;

void status_init(status_state_t *st, daemon_t *d);
void status_close(status_state_t *st);
void status_record_error(status_state_t *st, uint32_t stream, uint32_t csv_row, uint32_t line,
                         const char *path, const char *reason);
/* The whole daemon state as a new cJSON object (caller deletes). */
struct cJSON *status_json(daemon_t *d);

/* ------------------------------------------------------------------------
 * notify.c: systemd's readiness protocol.
 */

/* Sends state (e.g. "READY=1") to $NOTIFY_SOCKET when set. Returns 0 when
 * sent or not under systemd, -errno otherwise. */
int notify_systemd(const char *state);

/* ------------------------------------------------------------------------
 * The daemon.
 */

struct daemon_state {
    uv_loop_t *loop;
    const config_t *config;
    const dataset_t *dataset;
    feed_t *feeds;
    uint32_t feed_count;
    worker_pool_t pool;
    server_t server;
    status_state_t status;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_signal_t sighup;     /* Logged and ignored: reloading is not supported yet. */
    int stopping;
};

uint64_t daemon_now_ns(void);
/* Begins a clean stop: the loop exits when every handle is closed. */
void daemon_stop(daemon_t *d);

#endif
