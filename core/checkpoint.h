/* checkpoint.h - a thread that checkpoints the database's write-ahead log
 * for the daemon's connections, so that their commits do not
 * (checkpoint.c says why).
 */
#ifndef BK_CHECKPOINT_H
#define BK_CHECKPOINT_H

#include "err.h"
#include "store.h"

struct bk_ckpt;

/* Opens a connection of its own to db_path and starts the thread. */
int bk_ckpt_start(const char *db_path, struct bk_ckpt **out,
		  struct bk_err *err);

/* Stops the thread (after the run in progress) and closes its
 * connection.  NULL: nothing. */
void bk_ckpt_stop(struct bk_ckpt *c);

/* Waits until c's thread has run the checkpoints asked for so far.  Before a large
 * write: the log starts again from its beginning only once all of it is
 * in the database; a write during a checkpoint appends to it, and the
 * longer the log, the slower every page read (SQLite looks the page up
 * in the log's index first).  NULL: nothing. */
void bk_ckpt_drain(struct bk_ckpt *c);

/* From now on s's commits leave checkpoints to c's thread (SQLite's
 * write-ahead log hook; it replaces s's automatic checkpoints).  c NULL:
 * s keeps checkpointing itself. */
void bk_ckpt_attach(struct bk_ckpt *c, struct bk_store *s);

#endif
