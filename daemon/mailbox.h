/*
 * mailbox.h: the daemon's side of one client's mailbox (the layout is in
 * protocol/mailbox_layout.h): a page of shared memory, created per connection and
 * passed to the client with WELCOME, through which the next batch reaches a
 * trainer without a round trip on the socket.
 *
 * The client may write anything into the page, so every value read back
 * from it is checked; what the daemon posted it remembers on its own side.
 */
#ifndef MOGEN_MAILBOX_H
#define MOGEN_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

typedef struct mailbox {
    int fd;           /* The memfd, until it has been passed on; else -1. */
    uint8_t *page;    /* Mapping of MOGEN_MAILBOX_SIZE bytes, or NULL. */
    uint32_t posted;  /* Batches posted so far, as last written. */
    int pending;      /* 1 from a post until the daemon has seen it taken. */
    uint32_t slot;    /* The batch posted last: slot, epoch, batch. */
    uint32_t epoch;
    uint32_t batch;
    uint32_t consumed; /* Releases acted on so far, as last written. */
} mailbox_t;

/* Creates the page, zeroed. Returns 0 or -errno with a message in err. */
int mailbox_create(mailbox_t *mb, char *err, size_t errlen);

/* Closes the fd (after it went to the client); the mapping stays. */
void mailbox_close_fd(mailbox_t *mb);

/* Unmaps and closes. Safe on a zeroed mailbox with fd -1 and twice. */
void mailbox_destroy(mailbox_t *mb);

/* The client's `taken`, as it is now. */
uint32_t mailbox_taken(const mailbox_t *mb);

/*
 * What the client's `taken` says about the posted batch: 1 when it is
 * posted and not taken, 0 when taken (or nothing was ever posted), -1 when
 * `taken` holds a value the client had no right to write. `taken` only
 * moves forward: once the daemon has seen a batch taken, `taken` must stay
 * equal to `posted` until the next post.
 */
int mailbox_pending(mailbox_t *mb);

/* Posts a batch; only when mailbox_pending() is 0. */
void mailbox_post(mailbox_t *mb, uint32_t slot, uint32_t epoch, uint32_t batch,
                  uint32_t count);

/*
 * The next slot the client released through the mailbox: 1 with *slot set
 * (and the release counted as consumed), 0 when there is none, -1 when
 * `released` holds a count the client had no right to write. Which slots
 * the client may release is the caller's to check.
 */
int mailbox_next_release(mailbox_t *mb, uint32_t *slot);

/* Marks the posted batch taken on the client's behalf (while it waits for
 * the reply to a NEXT that this batch answers). */
void mailbox_take(mailbox_t *mb);

#endif
