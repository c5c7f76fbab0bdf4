/*
 * mailbox_layout.h: the layout of a client's mailbox, a page of shared memory
 * through which the daemon hands a stream connection its next batch without
 * a reply on the socket (docs/protocol.md, "The mailbox").
 *
 * Little-endian 32-bit fields at fixed offsets. The daemon writes the entry
 * (slot, epoch, batch, size) and then `posted`; the client, seeing `posted`
 * one ahead of `taken`, reads the entry and then writes `taken`. So at most
 * one batch is posted and not taken at any time, and each side writes only
 * what it owns, except that the daemon may set `taken` while the client
 * waits for its reply to NEXT.
 *
 * Slots go back the same way: the client writes the slot number at
 * releases[released % MOGEN_MAILBOX_RELEASES] and then `released`; the
 * daemon reads them, frees the slots and writes `consumed`. A client with
 * MOGEN_MAILBOX_RELEASES releases not yet consumed sends RELEASE instead.
 */
#ifndef MOGEN_MAILBOX_LAYOUT_H
#define MOGEN_MAILBOX_LAYOUT_H

/* Bytes of the shared memory that holds one mailbox (one page). */
#define MOGEN_MAILBOX_SIZE 4096

/* Offsets of the fields, in bytes from the start. */
#define MOGEN_MAILBOX_POSTED 0 /* Batches posted so far (daemon), mod 2^32. */
#define MOGEN_MAILBOX_TAKEN 4  /* Batches taken so far (client), mod 2^32. */
#define MOGEN_MAILBOX_SLOT 8   /* The posted batch: its ring slot, */
#define MOGEN_MAILBOX_EPOCH 12 /* epoch, */
#define MOGEN_MAILBOX_BATCH 16 /* batch index in the epoch */
#define MOGEN_MAILBOX_COUNT 20 /* and sample count. */
#define MOGEN_MAILBOX_RELEASED 24 /* Slots released so far (client), mod 2^32. */
#define MOGEN_MAILBOX_CONSUMED 28 /* Releases the daemon has acted on, mod 2^32. */
#define MOGEN_MAILBOX_RELEASE_AT 64 /* The ring of released slot numbers, */
#define MOGEN_MAILBOX_RELEASES 64   /* this many 32-bit entries long. */

#endif
