/*
 * mailbox.c: one client's mailbox page (see mailbox.h and
 * docs/protocol.md, "The mailbox").
 *
 * The fields are 32-bit atomics: `posted` is stored with release order after
 * the entry, so a client that loads `posted` first and the entry after it
 * sees the entry whole; `taken` is loaded with acquire order. On x86-64
 * these are plain loads and stores.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mailbox.h"
#include "mailbox_layout.h"

/* The 32-bit field at offset in the page. Lock-free 32-bit atomics are
 * address-free, so they work between processes on shared memory. */
static _Atomic uint32_t *mailbox_field(const mailbox_t *mb, size_t offset)
{
    return (_Atomic uint32_t *)(void *)(mb->page + offset);
}

int mailbox_create(mailbox_t *mb, char *err, size_t errlen)
{
    void *page;
    int e;

    memset(mb, 0, sizeof(*mb));
    mb->fd = memfd_create("mogen-mailbox", MFD_CLOEXEC);
    if (mb->fd < 0) {
        e = errno;
        snprintf(err, errlen, "memfd_create: %s", strerror(e));
        return -e;
    }
    if (ftruncate(mb->fd, MOGEN_MAILBOX_SIZE) < 0) {
        e = errno;
        snprintf(err, errlen, "ftruncate of the mailbox: %s", strerror(e));
        goto fail;
    }
    page = mmap(NULL, MOGEN_MAILBOX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mb->fd, 0);
    if (page == MAP_FAILED) {
        e = errno;
        snprintf(err, errlen, "mmap of the mailbox: %s", strerror(e));
        goto fail;
    }
    mb->page = page;
    return 0;

fail:
    close(mb->fd);
    mb->fd = -1;
    return -e;
}

void mailbox_close_fd(mailbox_t *mb)
{
    if (mb->fd >= 0)
        close(mb->fd);
    mb->fd = -1;
}

void mailbox_destroy(mailbox_t *mb)
{
    mailbox_close_fd(mb);
    if (mb->page != NULL)
        munmap(mb->page, MOGEN_MAILBOX_SIZE);
    mb->page = NULL;
}

uint32_t mailbox_taken(const mailbox_t *mb)
{
    return atomic_load_explicit(mailbox_field(mb, MOGEN_MAILBOX_TAKEN), memory_order_acquire);
}

int mailbox_pending(mailbox_t *mb)
{
    uint32_t taken = mailbox_taken(mb);

    if (taken == mb->posted) {
        mb->pending = 0;
        return 0;
    }
    if (mb->pending && taken == mb->posted - 1)
        return 1;
    return -1;
}

void mailbox_post(mailbox_t *mb, uint32_t slot, uint32_t epoch, uint32_t batch, uint32_t count)
{
    atomic_store_explicit(mailbox_field(mb, MOGEN_MAILBOX_SLOT), slot, memory_order_relaxed);
    atomic_store_explicit(mailbox_field(mb, MOGEN_MAILBOX_EPOCH), epoch, memory_order_relaxed);
    atomic_store_explicit(mailbox_field(mb, MOGEN_MAILBOX_BATCH), batch, memory_order_relaxed);
    atomic_store_explicit(mailbox_field(mb, MOGEN_MAILBOX_COUNT), count, memory_order_relaxed);
    mb->slot = slot;
    mb->epoch = epoch;
    mb->batch = batch;
    mb->posted++;
    mb->pending = 1;
    atomic_store_explicit(mailbox_field(mb, MOGEN_MAILBOX_POSTED), mb->posted,
                          memory_order_release);
}

int mailbox_next_release(mailbox_t *mb, uint32_t *slot)
{
    uint32_t released =
        atomic_load_explicit(mailbox_field(mb, MOGEN_MAILBOX_RELEASED), memory_order_acquire);
    uint32_t waiting = released - mb->consumed;
    size_t at;

    if (waiting == 0)
        return 0;
    if (waiting > MOGEN_MAILBOX_RELEASES)
        return -1;
    at = MOGEN_MAILBOX_RELEASE_AT + 4 * (size_t)(mb->consumed % MOGEN_MAILBOX_RELEASES);
    *slot = atomic_load_explicit(mailbox_field(mb, at), memory_order_relaxed);
    mb->consumed++;
    atomic_store_explicit(mailbox_field(mb, MOGEN_MAILBOX_CONSUMED), mb->consumed,
                          memory_order_release);
    return 1;
}

void mailbox_take(mailbox_t *mb)
{
    mb->pending = 0;
    atomic_store_explicit(mailbox_field(mb, MOGEN_MAILBOX_TAKEN), mb->posted,
                          memory_order_release);
}
