/* fault.h - fault injection, for tests only.
 *
 * BACKUPFS_FAULT="point[:N][:what]" in the environment of a process makes
 * the N-th call (default 1) of bk_fault(point) in it fail: it returns
 * -errno for what = an errno name (EIO, the default, ENOSPC, EDQUOT,
 * EROFS), or, for what = "kill", the process SIGKILLs itself there (a
 * crash at a chosen point), or, for what = "stall", the call waits until
 * the file $BACKUPFS_FAULT_RELEASE exists (at most 5 minutes) and
 * returns 0 (an operation held In Progress).  Every other call returns 0.  Unset (the
 * production case), bk_fault costs one load and a compare.  The points
 * are listed in docs/OPERATIONS.md ("Fault injection").
 */
#ifndef BK_FAULT_H
#define BK_FAULT_H

int bk_fault(const char *point);

#endif
