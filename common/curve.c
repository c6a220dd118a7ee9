/* CURVE certificates and a ZAP handler on the loop. See curve.h.
 * Why our own ZAP handler rather than czmq's zauth actor: zauth is a thread that
 * answers on its own, so refusals cannot be counted in the daemon's metrics, and the
 * house rule is one loop per daemon. ZAP (RFC 27) is one REP exchange per handshake. */
#include "curve.h"

#include "log.h"
#include "util.h"
#include "zev.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_DOMAIN "agentfleet"
#define S_ROLES_MAX 16
#define S_KEY_LEN 40 /* Z85 text of a 32-byte key */

typedef struct {
    char role[32];
    char key[S_KEY_LEN + 1];
} s_server_key_t;

static struct {
    bool on;
    char dir[512];
    zcert_t *cert;                    /* ours, with secret */
    s_server_key_t servers[S_ROLES_MAX];
    int nservers;
    zhashx_t *allowed;                /* Z85 public key -> file name (owned strings) */
    uint64_t last_scan_ns;
    struct timespec allowed_mtime; /* of DIR/allowed at the last scan */
    zsock_t *zap;
    af_zev_t *zev;
    uint64_t refused, admitted;
    uint64_t last_log_ns;
} s;

/* Loads a cert's public key (Z85) into out and, when role is not NULL, its
 * role: the `role` metadata make-certs.sh writes, else the file name without
 * ".cert". Returns 0 / -1. */
static int s_public_key(const char *path, char *out, char *role, size_t rolelen)
{
    zcert_t *c = zcert_load(path);
    if (!c)
        return -1;
    snprintf(out, S_KEY_LEN + 1, "%s", zcert_public_txt(c));
    if (role) {
        const char *meta = zcert_meta(c, "role");
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        if (meta && *meta)
            snprintf(role, rolelen, "%s", meta);
        else
            snprintf(role, rolelen, "%.*s", (int)(strlen(base) - 5), base);
    }
    zcert_destroy(&c);
    return 0;
}

static bool s_is_cert(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && !strcmp(name + n - 5, ".cert") && name[0] != '.';
}

/* (Re)reads the certs under DIR/allowed into the allow set. Returns how many keys. */
static int s_scan_allowed(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/allowed", s.dir);
    s.last_scan_ns = af_now_ns();
    struct stat st;
    if (stat(path, &st) == 0)
        s.allowed_mtime = st.st_mtim;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    zhashx_purge(s.allowed);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!s_is_cert(e->d_name))
            continue;
        char file[1400], key[S_KEY_LEN + 1], role[32];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (s_public_key(file, key, role, sizeof role) == 0)
            zhashx_update(s.allowed, key, role);
        else
            af_warn("event=curve_bad_cert file=%s", file);
    }
    closedir(d);
    return (int)zhashx_size(s.allowed);
}

/* Reads every DIR/<role>.cert as a server public key. */
static int s_scan_servers(void)
{
    DIR *d = opendir(s.dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) && s.nservers < S_ROLES_MAX) {
        if (!s_is_cert(e->d_name))
            continue;
        s_server_key_t *k = &s.servers[s.nservers];
        char file[1400];
        snprintf(file, sizeof file, "%s/%s", s.dir, e->d_name);
        snprintf(k->role, sizeof k->role, "%.*s", (int)(strlen(e->d_name) - 5), e->d_name);
        if (s_public_key(file, k->key, NULL, 0) == 0)
            s.nservers++;
    }
    closedir(d);
    return 0;
}

/* The role an admitted key was issued for, or NULL when the key is unknown. */
static const char *s_allowed(const char *key)
{
    const char *role = zhashx_lookup(s.allowed, key);
    if (role)
        return role;
    /* A cert added since the last look is admitted without a restart: at once
     * when DIR/allowed changed (a new file changes its mtime; a client refused
     * once does not come back, libzmq ends the session), and at most once a
     * second otherwise (a cert rewritten in place), so a flood of unknown keys
     * costs a stat each. */
    char path[1024];
    snprintf(path, sizeof path, "%s/allowed", s.dir);
    struct stat st;
    bool changed = stat(path, &st) == 0 && (st.st_mtim.tv_sec != s.allowed_mtime.tv_sec ||
                                            st.st_mtim.tv_nsec != s.allowed_mtime.tv_nsec);
    if (changed || af_now_ns() - s.last_scan_ns > 1000000000ULL) {
        s_scan_allowed();
        return zhashx_lookup(s.allowed, key);
    }
    return NULL;
}

/* Whether a socket of ZAP domain `domain` admits role: "agentfleet" admits
 * every allowed key, "agentfleet:r1,r2" only those roles (af_curve_server). */
static bool s_domain_admits(const char *domain, const char *role)
{
    const char *list = domain ? strchr(domain, ':') : NULL;
    if (!list)
        return true;
    size_t n = strlen(role);
    for (const char *p = list + 1; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, role, n))
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* One ZAP request: [version][request id][domain][address][identity][mechanism][creds..]. */
static void s_on_zap(zsock_t *sock, void *arg)
{
    (void)arg;
    zmsg_t *req = zmsg_recv(sock);
    if (!req)
        return;
    char *version = zmsg_popstr(req);
    zframe_t *request_id = zmsg_pop(req);
    char *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req);
    zframe_t *identity = zmsg_pop(req);
    char *mechanism = zmsg_popstr(req);
    zframe_t *cred = zmsg_pop(req);
    const char *status = "400", *text = "no access";
    char key[S_KEY_LEN + 1] = "", role[32] = "";
    if (version && !strcmp(version, "1.0") && mechanism && !strcmp(mechanism, "CURVE") && cred &&
        zframe_size(cred) == 32) {
        zmq_z85_encode(key, zframe_data(cred), 32);
        const char *r = s_allowed(key);
        if (r)
            snprintf(role, sizeof role, "%s", r);
        if (r && s_domain_admits(domain, r)) {
            status = "200";
            text = "OK";
        }
    }
    if (*status == '2') {
        s.admitted++;
        af_debug("event=curve_admitted address=%s key=%.8s role=%s", address ? address : "", key,
                 role);
    } else {
        s.refused++;
        uint64_t now = af_now_ns();
        if (now - s.last_log_ns > 1000000000ULL) {
            s.last_log_ns = now;
            af_warn("event=curve_refused address=%s mechanism=%s key=%.8s role=%s "
                    "refused_total=%llu",
                    address ? address : "", mechanism ? mechanism : "", *key ? key : "-",
                    *role ? role : "-", (unsigned long long)s.refused);
        }
    }
    zmsg_t *rep = zmsg_new();
    zmsg_addstr(rep, "1.0");
    if (request_id)
        zmsg_append(rep, &request_id);
    else
        zmsg_addstr(rep, "");
    zmsg_addstr(rep, status);
    zmsg_addstr(rep, text);
    /* User-Id: the role, which every message from this peer then carries
     * (af_msg_t.peer_role), so servers can check who may send what. */
    zmsg_addstr(rep, *status == '2' ? role : "");
    zmsg_addmem(rep, "", 0);
    if (zmsg_send(&rep, sock) < 0)
        zmsg_destroy(&rep);
    zstr_free(&version);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&mechanism);
    zframe_destroy(&request_id);
    zframe_destroy(&identity);
    zframe_destroy(&cred);
    zmsg_destroy(&req);
}

static void s_free_str(void **item)
{
    free(*item);
    *item = NULL;
}

static void *s_dup_str(const void *item)
{
    return strdup(item);
}

int af_curve_init(struct event_base *base, const char *dir, const char *name)
{
    if (!dir || !*dir)
        return 0;
    if (s.on) {
        af_error("event=curve_init_twice");
        return -1;
    }
    snprintf(s.dir, sizeof s.dir, "%s", dir);
    char path[1024], secret[1100];
    snprintf(path, sizeof path, "%s/%s.cert", dir, name);
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (access(secret, R_OK) < 0) {
        af_error("event=curve_cert_missing file=%s error=\"%s\"", secret, strerror(errno));
        return -1;
    }
    s.cert = zcert_load(path);
    if (!s.cert) {
        af_error("event=curve_cert_unreadable file=%s", path);
        return -1;
    }
    s.allowed = zhashx_new();
    if (!s.allowed)
        goto fail;
    zhashx_set_destructor(s.allowed, s_free_str);
    zhashx_set_duplicator(s.allowed, s_dup_str);
    s_scan_servers();
    int nallowed = s_scan_allowed();
    s.zap = zsock_new(ZMQ_REP);
    if (!s.zap || zsock_bind(s.zap, S_ZAP_ENDPOINT) < 0) {
        af_error("event=curve_zap_bind_failed error=\"%s\"", zmq_strerror(zmq_errno()));
        goto fail;
    }
    zsock_set_linger(s.zap, 0);
    s.zev = af_zev_new(base, s.zap, s_on_zap, NULL, 0);
    if (!s.zev)
        goto fail;
    s.on = true;
    af_info("event=curve_on dir=%s cert=%s public=%.8s servers=%d allowed=%d", dir, name,
            zcert_public_txt(s.cert), s.nservers, nallowed);
    return 0;
fail:
    af_curve_shutdown();
    return -1;
}

bool af_curve_enabled(void)
{
    return s.on;
}

int af_curve_server(zsock_t *sock, const char *roles)
{
    if (!s.on)
        return 0;
    zcert_apply(s.cert, sock);
    zsock_set_curve_server(sock, 1);
    char domain[128];
    if (roles && *roles)
        snprintf(domain, sizeof domain, S_DOMAIN ":%s", roles);
    else
        snprintf(domain, sizeof domain, S_DOMAIN);
    zsock_set_zap_domain(sock, domain);
    return 0;
}

int af_curve_client(zsock_t *sock, const char *server)
{
    if (!s.on)
        return 0;
    for (int i = 0; i < s.nservers; i++) {
        if (!strcmp(s.servers[i].role, server)) {
            zcert_apply(s.cert, sock);
            zsock_set_curve_serverkey(sock, s.servers[i].key);
            return 0;
        }
    }
    af_error("event=curve_server_key_missing role=%s dir=%s", server, s.dir);
    return -1;
}

uint64_t af_curve_refused(void)
{
    return s.refused;
}

uint64_t af_curve_admitted(void)
{
    return s.admitted;
}

static double s_metric_refused(void *arg)
{
    (void)arg;
    return (double)s.refused;
}

static double s_metric_admitted(void *arg)
{
    (void)arg;
    return (double)s.admitted;
}

int af_curve_metrics(af_metrics_t *m)
{
    if (!s.on || !m)
        return 0;
    if (!af_metrics_callback(m, "zmq_curve_refused_total",
                             "ZeroMQ handshakes refused: unknown CURVE key or wrong mechanism",
                             AF_METRIC_COUNTER, s_metric_refused, NULL) ||
        !af_metrics_callback(m, "zmq_curve_admitted_total",
                             "ZeroMQ CURVE handshakes admitted by the allow-list",
                             AF_METRIC_COUNTER, s_metric_admitted, NULL))
        return -1;
    return 0;
}

void af_curve_shutdown(void)
{
    af_zev_destroy(&s.zev);
    zsock_destroy(&s.zap);
    zcert_destroy(&s.cert);
    zhashx_destroy(&s.allowed);
    memset(&s, 0, sizeof s);
}
