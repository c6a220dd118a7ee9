#!/usr/bin/env bash
# Makes the CURVE certificates of an agentfleet deployment (czmq zcert format):
# DIR/<role>.cert + DIR/<role>.cert_secret per role, and DIR/allowed/<role>.cert, the
# client keys the manager and gateways admit. Existing keypairs are kept (re-running
# adds missing roles only). Keys come from OpenSSL X25519 (the curve of ZeroMQ CURVE).
#   scripts/make-certs.sh [DIR] [ROLE...]     default: var/certs manager gateway agentd autoscaler
#   --no-allow  make the keypairs without admitting them (e.g. a key to revoke later)
set -euo pipefail
allow=1
if [ "${1:-}" = "--no-allow" ]; then allow=0; shift; fi
dir=${1:-var/certs}
[ $# -gt 0 ] && shift
roles=("$@")
[ ${#roles[@]} -eq 0 ] && roles=(manager gateway agentd autoscaler)
command -v openssl >/dev/null || { echo "make-certs: openssl is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "make-certs: python3 is required" >&2; exit 1; }
umask 077
mkdir -p "$dir/allowed"
chmod 755 "$dir" "$dir/allowed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for role in "${roles[@]}"; do
    case $role in (*[!A-Za-z0-9_-]*|'') echo "make-certs: bad role name '$role'" >&2; exit 2;; esac
    if [ ! -f "$dir/$role.cert_secret" ]; then
        openssl genpkey -algorithm X25519 -outform DER -out "$tmp/key.der"
        openssl pkey -inform DER -in "$tmp/key.der" -pubout -outform DER -out "$tmp/pub.der"
        python3 - "$tmp/key.der" "$tmp/pub.der" "$dir" "$role" <<'PY'
import sys, os, datetime
Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
def z85(raw):
    out = []
    for i in range(0, len(raw), 4):
        v = int.from_bytes(raw[i:i + 4], "big")
        out.append("".join(Z85[(v // 85 ** k) % 85] for k in range(4, -1, -1)))
    return "".join(out)
sec = open(sys.argv[1], "rb").read()[-32:]
pub = open(sys.argv[2], "rb").read()[-32:]
d, role = sys.argv[3], sys.argv[4]
stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
head = "#   ****  Generated on %s by agentfleet scripts/make-certs.sh  ****\n" % stamp
body = 'metadata\n    role = "%s"\ncurve\n    public-key = "%s"\n' % (role, z85(pub))
with open(os.path.join(d, role + ".cert"), "w") as f:
    f.write(head + "#   ZeroMQ CURVE Public Certificate\n\n" + body)
os.chmod(os.path.join(d, role + ".cert"), 0o644)
fd = os.open(os.path.join(d, role + ".cert_secret"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    f.write(head + "#   ZeroMQ CURVE **Secret** Certificate\n#   DO NOT PROVIDE THIS FILE TO OTHER USERS\n\n"
            + body + '    secret-key = "%s"\n' % z85(sec))
PY
        echo "make-certs: $dir/$role.cert"
    fi
    if [ $allow = 1 ]; then
        cp "$dir/$role.cert" "$dir/allowed/$role.cert"
        chmod 644 "$dir/allowed/$role.cert"
    fi
done
