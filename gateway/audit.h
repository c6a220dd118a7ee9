/* Audit log: one JSON object per line (ts, event, user, role, ip, request_id,
 * result, detail) for auth failures, spawn/delete/scale and admin actions.
 * Never given a token or key; the log scrubber is a second line of defence. */
#ifndef AF_GW_AUDIT_H
#define AF_GW_AUDIT_H

typedef struct af_audit_t af_audit_t;

/* path NULL or "" writes nothing (audit disabled). Returns NULL if the file
 * cannot be opened (logged). */
af_audit_t *af_audit_open(const char *path);
void af_audit_destroy(af_audit_t **self_p);

/* Appends one line. Any string may be NULL (written as null). Flushed at once so
 * a crash loses nothing. */
void af_audit_write(af_audit_t *self, const char *event, const char *user, const char *role,
                    const char *ip, const char *request_id, int status, const char *result,
                    const char *detail);

unsigned long af_audit_lines(const af_audit_t *self);

#endif
