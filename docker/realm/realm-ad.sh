#!/usr/bin/env bash
# The aurora-krb test realm, Active Directory flavour: a Samba AD domain controller in place of
# the MIT KDC, and the same PostgreSQL server shaped like Amazon Aurora PostgreSQL.
#
# Aurora's KDC is AWS Managed Microsoft AD. AD differs from MIT in ways that break logins: user
# names are case-insensitive, service principals live on service accounts, and an account
# gets AES tickets only when its msDS-SupportedEncryptionTypes allows them. This flavour is a
# real AD DC so those behaviours are met in tests.
#
# It reuses realm.sh (beside this file, or $REALM_SH) for everything that is not the directory:
# the client krb5.conf, the CA and server certificate, the PostgreSQL cluster and its roles,
# realm.env. The commands and the files in REALM_DIR are the same as realm.sh's.
#
# Usage: realm-ad.sh COMMAND          (settings come from the environment, see below)
#    or: FLAVOR=ad realm.sh COMMAND
#   init        provision everything: the DC (from a cached provisioned template), users,
#               keytabs, CA and server certificate, PostgreSQL cluster and roles
#   init-kdc | init-tls | init-pg   one part of init
#   start-kdc | stop-kdc            run the DC (samba) in the background / stop it and all its
#                                   processes
#   start-pg | stop-pg | run-pg     as realm.sh
#   run-kdc     run the DC in the foreground (container entry point)
#   down        stop both services
#   status      print which services run
#   env         print the client environment (export lines), also kept in realm.env
#   failover [N] | start-instance N | stop-instance N | instances
#               as realm.sh, with REPLICAS readers: each instance's name is a service
#               principal of the one service account
#   template    only make the cached provisioned template (init does it when missing)
#   readdress   move a stopped DC to AD_ADDR (its interfaces and DNS records), e.g. when a
#               container is created anew with another address on a provisioned folder
#   fault NAME [USER]  inject an AD-only fault; heal NAME [USER] undoes it. NAME is one of
#               rc4-only          the service account allows only RC4 (msDS-SupportedEncryptionTypes=4)
#               spn-missing       no account holds postgres/DB_HOST
#               disabled USER     the account is disabled
#               password-expired USER   the password must be changed (pwdLastSet=0)
#               account-expired USER    the account expired yesterday (accountExpires)
#               (a user typing another case, `kinit Alice`, needs no injection: see docs/realm.md, "Faults only AD has")
#
# Settings (besides realm.sh's REALM_DIR, REALM, DB_HOST, PG_*, CLIENT_PG_*, TICKET_LIFETIME,
# RENEW_LIFETIME, CERT_NAMES):
#   AD_ADDR          the loopback address the DC binds (127.0.0.2). The DC uses the well-known
#                    ports (53, 88, 389, 464, 3268), so realms that run at once need distinct
#                    addresses.
#   AD_DOMAIN        NetBIOS domain name (the realm's first label: CORP)
#   AD_DC_NAME       the DC's host name (dc1)
#   AD_SERVICE_ACCOUNT  the account holding postgres/DB_HOST (svc-postgres)
#   AD_TEMPLATE_CACHE   where provisioned templates are kept (/var/tmp/aurora-krb-ad); "none"
#                    provisions in place (slow: about 9 s more)
#   CLIENT_KDC       what clients use for the KDC (AD_ADDR, port 88)
#   AD_CONTAINER     1 in a container: AD_ADDR may then be the container's own (non-loopback)
#                    address, the one its published ports lead to
#
# Needs root: samba binds the well-known ports and keeps ACLs in root-only extended attributes.
set -euo pipefail

AD_ADDR=${AD_ADDR:-127.0.0.2}
KDC_LISTEN=$AD_ADDR
KDC_PORT=88
CLIENT_KDC=${CLIENT_KDC:-$AD_ADDR}
AD_REALM_SH_HOME=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
REALM_SH=${REALM_SH:-$AD_REALM_SH_HOME/realm.sh}
[ -f "$REALM_SH" ] || { echo "realm-ad.sh: realm.sh not found at $REALM_SH: keep both scripts in one folder or set REALM_SH" >&2; exit 1; }
REALM_SH_LIBRARY=1
# shellcheck source=realm.sh
. "$REALM_SH"

die() { echo "realm-ad.sh: $*" >&2; exit 1; }

AD_DOMAIN=${AD_DOMAIN:-$(printf '%s' "${REALM%%.*}" | tr '[:lower:]' '[:upper:]')}
AD_DC_NAME=${AD_DC_NAME:-dc1}
AD_SERVICE_ACCOUNT=${AD_SERVICE_ACCOUNT:-svc-postgres}
AD_TEMPLATE_CACHE=${AD_TEMPLATE_CACHE:-/var/tmp/aurora-krb-ad}
# The address the template is provisioned with; each realm rewrites the DC's DNS records to
# its own AD_ADDR.
AD_TEMPLATE_ADDR=127.0.0.2
S=$D/samba
SAMDB=$S/private/sam.ldb
SMB_CONF=$S/smb.conf

case "$AD_ADDR" in
    # Any 127.x address routes to lo, but Samba accepts only interface addresses unless given
    # with a netmask: the /8 makes it take the address, and bind interfaces only keeps it to it.
    127.*.*.*) AD_IFACE=$AD_ADDR/8 ;;
    *)  [ "${AD_CONTAINER:-}" = 1 ] \
            || die "AD_ADDR=$AD_ADDR is not a loopback address: natively the AD realm binds 127.0.0.0/8 only (e.g. AD_ADDR=127.0.0.3); in a container, where the DC must bind the container's own address, set AD_CONTAINER=1"
        AD_IFACE=$AD_ADDR ;;
esac

need_root() {
    [ "$(id -u)" = 0 ] && return 0
    die "the AD flavour needs root natively: Samba binds the well-known AD ports (53, 88, 389, 464) and keeps ACLs in root-only extended attributes. Run it as root, or use the docker flavour: docker compose -f docker/compose.yaml up -d --wait dc postgres-ad (the compose realm's ad profile, see docs/docker.md, 'The Active Directory flavour in Docker')"
}

need_samba() {
    need samba "Debian's samba and samba-ad-dc"
    need samba-tool "Debian's samba-ad-dc and samba-ad-provision"
    [ -d /usr/share/samba/setup ] || die "Samba's provisioning files are missing: install Debian's samba-ad-provision"
}

# samba-tool's own Python, which has the samba modules.
samba_python() {
    local py
    py=$(head -1 "$(command -v samba-tool)" | sed 's/^#! *//')
    [ -x "${py%% *}" ] || py=/usr/bin/python3
    echo "$py"
}

# Runs a batch of samba-tool commands (one per line on stdin, shell-quoted) in one Python
# process: samba-tool costs ~0.5 s a call to start, a batch pays it once. A token
# "@file:PATH" (or "--opt=@file:PATH") stands for the file's content, so no password is ever
# on a command line where `ps` shows it. Two more verbs do what samba-tool cannot without an
# editor: "attr ACCOUNT ATTRIBUTE VALUE" (VALUE "-" deletes) and "dns-retarget OLD NEW"
# (rewrites the DC's A records).
samba_batch() {
    local conf=$1
    "$(samba_python)" -c '
import shlex, sys
conf = sys.argv[1]

def secret(tok):
    key, sep, path = tok.partition("@file:")
    if not sep or (key and not key.endswith("=")):
        return tok
    with open(path) as f:
        return key + f.read().strip()

def samdb():
    import ldb
    from samba.auth import system_session
    from samba.param import LoadParm
    from samba.samdb import SamDB
    lp = LoadParm()
    lp.load(conf)
    return SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp), ldb

def attr(account, name, value):
    db, ldb = samdb()
    res = db.search(base=db.domain_dn(), scope=ldb.SCOPE_SUBTREE,
                    expression="(sAMAccountName=%s)" % ldb.binary_encode(account), attrs=["dn"])
    if len(res) != 1:
        raise SystemExit("no account %s" % account)
    m = ldb.Message(res[0].dn)
    if value == "-":
        m[name] = ldb.MessageElement([], ldb.FLAG_MOD_DELETE, name)
    else:
        m[name] = ldb.MessageElement([value], ldb.FLAG_MOD_REPLACE, name)
    db.modify(m)

def dns_retarget(old, new):
    from samba.dcerpc import dnsp
    from samba.ndr import ndr_pack, ndr_unpack
    db, ldb = samdb()
    for part in ("DC=DomainDnsZones,", "DC=ForestDnsZones,"):
        for msg in db.search(base=part + db.get_root_basedn().get_linearized(),
                             scope=ldb.SCOPE_SUBTREE, expression="(objectClass=dnsNode)",
                             attrs=["dnsRecord"]):
            recs, changed = [], False
            for v in msg.get("dnsRecord", []):
                r = ndr_unpack(dnsp.DnssrvRpcRecord, v)
                if r.wType == dnsp.DNS_TYPE_A and r.data == old:
                    r.data, changed = new, True
                recs.append(ndr_pack(r))
            if changed:
                m = ldb.Message(msg.dn)
                m["dnsRecord"] = ldb.MessageElement(recs, ldb.FLAG_MOD_REPLACE, "dnsRecord")
                db.modify(m)

from samba.netcmd.main import cmd_sambatool
for line in sys.stdin:
    argv = shlex.split(line)
    if not argv:
        continue
    if argv[0] == "attr":
        attr(*argv[1:])
    elif argv[0] == "dns-retarget":
        dns_retarget(*argv[1:])
    else:
        rc = cmd_sambatool()._run("samba-tool", *[secret(a) for a in argv])
        if rc not in (None, 0):
            # The command line without its secrets: name the step that failed.
            sys.exit("samba-tool %s failed" % " ".join(argv[:2]))
' "$conf"
}

# Appends one shell-quoted line to the batch in $batch.
add() { batch+=$(printf '%q ' "$@")$'\n'; }

# Bump when provision() changes what it makes.
AD_TEMPLATE_FORMAT=1
template_key() {
    printf 'v%s-%s-%s-%s-%s' "$AD_TEMPLATE_FORMAT" "$REALM" "$AD_DOMAIN" "$AD_DC_NAME" \
        "$(samba --version | tr -c 'A-Za-z0-9.\n-' _)"
}

# Provisions a DC for REALM into $1/samba. Provisioning writes the schema, display specifiers
# and DNS zones (~9 s); nothing of it depends on REALM_DIR or AD_ADDR, so init copies it.
provision() {
    local dir=$1 log=$1/provision.log
    mkdir -p "$dir/secrets"
    chmod 700 "$dir" "$dir/secrets"
    ad_password > "$dir/secrets/Administrator.password"
    printf '[global]\n' > "$dir/empty.conf"
    # An empty input configuration: without it, provision copies /etc/samba/smb.conf's
    # settings and takes the machine's resolver as its DNS forwarder. The interfaces keep the
    # machine's own addresses (an IPv6 one would become an AAAA record) out of the zone.
    local batch="" acls=()
    # Provisioning writes the sysvol's NT ACLs as security.* extended attributes, which need
    # CAP_SYS_ADMIN: a container's root (docker build included) lacks it. There they go to a
    # tdb file (Samba's xattr_tdb module) instead; nothing the realm runs reads them.
    # shellcheck disable=SC2016 # Python's code, not the shell's
    if ! "$(samba_python)" -c '
import os, sys
os.setxattr(sys.argv[1], "security.aurora_krb_probe", b"1")
os.removexattr(sys.argv[1], "security.aurora_krb_probe")' "$dir" 2>/dev/null; then
        acls=(--option="vfs objects=dfs_samba4 acl_xattr xattr_tdb"
              --option="xattr_tdb:file=$dir/samba/state/xattr.tdb")
    fi
    add domain provision -s "$dir/empty.conf" --realm="$REALM" --domain="$AD_DOMAIN" \
        --server-role=dc --dns-backend=SAMBA_INTERNAL --host-name="$AD_DC_NAME" \
        --host-ip="$AD_TEMPLATE_ADDR" --base-schema=2008_R2 --option="dns forwarder=" \
        --option="interfaces=$AD_TEMPLATE_ADDR/8" --option="bind interfaces only=yes" \
        "${acls[@]}" \
        --adminpass="@file:$dir/secrets/Administrator.password" \
        --targetdir="$dir/samba"
    printf '%s' "$batch" | RESOLV_CONF=/dev/null samba_batch "$dir/empty.conf" >"$log" 2>&1 \
        || { tail -20 "$log" >&2; die "samba-tool domain provision failed: see $log"; }
    # Runtime leftovers of provisioning; each realm gets its own.
    rm -rf "$dir/samba/msg.lock" "$dir/samba/msg.sock" "$dir/samba/etc" "$dir/empty.conf"
}

# Makes (once, shared by concurrent callers) the provisioned template and prints its folder.
ensure_template() {
    local key dir
    key=$(template_key)
    dir=$AD_TEMPLATE_CACHE/$key
    if [ ! -f "$dir/ready" ]; then
        mkdir -p "$AD_TEMPLATE_CACHE"
        chmod 700 "$AD_TEMPLATE_CACHE"
        (
            flock 9
            if [ ! -f "$dir/ready" ]; then
                rm -rf "$dir.tmp"
                provision "$dir.tmp" >&2
                touch "$dir.tmp/ready"
                mv "$dir.tmp" "$dir"
            fi
        ) 9>"$AD_TEMPLATE_CACHE/$key.lock"
    fi
    echo "$dir"
}

# AD's default policy wants three character classes; the random part carries the strength.
ad_password() { printf 'Ak9-%s\n' "$(openssl rand -hex 12)"; }

write_smb_conf() {
    mkdir -p "$S/run" "$S/log" "$S/cache"
    cat > "$SMB_CONF" <<EOF
# aurora-krb test realm: a Samba AD DC for $REALM, bound to $AD_ADDR only, talking to
# nothing beyond it.
[global]
	netbios name = $(printf '%s' "$AD_DC_NAME" | tr '[:lower:]' '[:upper:]')
	realm = $REALM
	workgroup = $AD_DOMAIN
	server role = active directory domain controller
	interfaces = $AD_IFACE
	bind interfaces only = yes
	# What a Kerberos login needs, plus LDAP, CLDAP and DNS for looking at the directory.
	# No smbd, nbt, rpc, winbindd, replication or dnsupdate service.
	server services = kdc ldap cldap dns
	disable netbios = yes
	# Nothing leaves loopback: no forwarder for the DNS server, no dynamic DNS or SPN
	# updates, no LDAP TLS key generation.
	dns forwarder =
	allow dns updates = disabled
	dns update command = /bin/true
	spn update command = /bin/true
	nsupdate command = /bin/true
	multicast dns register = no
	name resolve order = lmhosts
	tls enabled = no
	prefork children = 2
	private dir = $S/private
	lock directory = $S
	state directory = $S/state
	cache directory = $S/cache
	binddns dir = $S/bind-dns
	pid directory = $S/run
	ncalrpc dir = $S/run/ncalrpc
	winbindd socket directory = $S/run/winbindd
	ntp signd socket directory = $S/run/ntp_signd
	log file = $S/log/samba.log
	logging = file
	log level = 1
EOF
    printf 'nameserver %s\n' "$AD_ADDR" > "$S/resolv.conf"
}

init_dc() {
    need_root
    need_samba
    need openssl "Debian's openssl"
    need flock "Debian's util-linux"
    [ -e "$S" ] && die "$D already holds a domain controller: run down and remove $D first"
    # Samba's messaging sockets live in $S/msg.sock/<pid>: a Unix socket path has 107 bytes.
    [ "${#S}" -le 80 ] || die "REALM_DIR is too long for Samba's Unix sockets (${#D} characters): use a path of at most 74"
    mkdir -p "$D/secrets"
    chmod 700 "$D/secrets"
    if [ "$AD_TEMPLATE_CACHE" = none ]; then
        provision "$D/provision"
        mv "$D/provision/samba" "$S"
        rm -rf "$D/provision"
    else
        local tpl
        tpl=$(ensure_template)
        cp -a --reflink=auto "$tpl/samba" "$S"
    fi
    write_smb_conf
    local u batch="" sa=$AD_SERVICE_ACCOUNT H=(-H "$SAMDB" -s "$SMB_CONF")
    [ "$AD_ADDR" = "$AD_TEMPLATE_ADDR" ] || add dns-retarget "$AD_TEMPLATE_ADDR" "$AD_ADDR"
    # Realms copied from one template would trust each other's tickets: a key of their own.
    add user setpassword krbtgt --random-password "${H[@]}"
    for u in alice bob carol; do
        ad_password > "$D/secrets/$u.password"
        chmod 600 "$D/secrets/$u.password"
        add user create "$u" "@file:$D/secrets/$u.password" "${H[@]}"
    done
    # Service accounts: random passwords that nobody knows, keys only in keytabs.
    add user create app-svc --random-password "${H[@]}"
    add user setexpiry app-svc --noexpiry "${H[@]}"
    add user create "$sa" --random-password "${H[@]}"
    add user setexpiry "$sa" --noexpiry "${H[@]}"
    add spn add "postgres/$DB_HOST" "$sa" "${H[@]}"
    # With readers, each instance's own name is a principal of the same account, as each
    # Aurora instance endpoint is a name of the cluster's one service identity.
    local h
    if [ "$REPLICAS" != 0 ]; then
        for h in $(instance_hosts); do add spn add "postgres/$h" "$sa" "${H[@]}"; done
    fi
    # AES128 + AES256: without it the KDC issues RC4 service tickets for this account.
    add attr "$sa" msDS-SupportedEncryptionTypes 24
    # exportkeytab writes the keys the account's msDS-SupportedEncryptionTypes allows.
    add domain exportkeytab "$D/postgres.keytab" --principal="postgres/$DB_HOST" -s "$SMB_CONF"
    # exportkeytab adds to an existing keytab: every instance reads the one file.
    if [ "$REPLICAS" != 0 ]; then
        for h in $(instance_hosts); do
            add domain exportkeytab "$D/postgres.keytab" --principal="postgres/$h" -s "$SMB_CONF"
        done
    fi
    add domain exportkeytab "$D/app-svc.keytab" --principal=app-svc -s "$SMB_CONF"
    rm -f "$D/postgres.keytab" "$D/app-svc.keytab"
    printf '%s' "$batch" | samba_batch "$SMB_CONF" >"$S/log/provision.log" 2>&1 \
        || { tail -5 "$S/log/provision.log" >&2; die "creating the realm's accounts failed: see $S/log/provision.log"; }
    chmod 600 "$D/postgres.keytab" "$D/app-svc.keytab"
    write_krb5_conf
}

dc_pid() { [ -f "$S/run/samba.pid" ] && tr -dc '0-9' < "$S/run/samba.pid"; }

# True when $1 is a samba process of this realm: samba rewrites its command line, so look for
# the realm's directory database among its open files.
is_our_samba() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null \
        && [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$(readlink -f "$(command -v samba)")" ] \
        && [ "$(readlink "/proc/$1/fd/"* 2>/dev/null | grep -cxF "$SAMDB")" -gt 0 ]
}

start_dc() {
    need_root
    [ -f "$SMB_CONF" ] || die "the realm in $D is not initialised: run init first"
    local pid
    if pid=$(dc_pid) && is_our_samba "$pid"; then return 0; fi
    local p busy=""
    for p in 88 389 53 464; do
        ss -Hltn "sport = :$p" | awk '{print $4}' | grep -qxF "$AD_ADDR:$p" && busy+=" $p"
        ss -Hltn "sport = :$p" | awk '{print $4}' | grep -qxE "(0\.0\.0\.0|\*):$p" && busy+=" $p"
    done
    [ -z "$busy" ] || die "port(s)$busy on $AD_ADDR are taken (another AD realm, or a service on all addresses): give this realm another AD_ADDR"
    rm -f "$S/run/samba.pid"
    # RESOLV_CONF: Samba's own resolver asks only the DC itself.
    RESOLV_CONF=$S/resolv.conf samba -s "$SMB_CONF" -D
    # Ready when every service listens, not only the KDC: samba binds its services one by
    # one, and a client (or a test) that arrives in between meets a half-started DC.
    local waiting
    for _ in $(seq 300); do
        waiting=""
        if pid=$(dc_pid) && [ -n "$pid" ]; then
            for p in 88 389 53 464 3268; do
                ss -Hltn "sport = :$p" | awk '{print $4}' | grep -qxF "$AD_ADDR:$p" || waiting+=" $p"
            done
            for p in 88 389 53; do
                ss -Hlun "sport = :$p" | awk '{print $4}' | grep -qxF "$AD_ADDR:$p" || waiting+=" udp/$p"
            done
            [ -z "$waiting" ] && return 0
        fi
        sleep 0.05
    done
    stop_dc
    tail -20 "$S/log/samba.log" >&2
    die "the domain controller did not start: see $S/log/samba.log"
}

# True while a process of group $1 runs; zombies (dead, waiting for their parent or init to
# reap them) do not count.
group_alive() { ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'; }

stop_dc() {
    local pid
    pid=$(dc_pid) || return 0
    if is_our_samba "$pid"; then
        # samba -D leads its own process group; its forked services are in it.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do group_alive "$pid" || break; sleep 0.05; done
        kill -KILL -- "-$pid" 2>/dev/null || true
        for _ in $(seq 40); do group_alive "$pid" || break; sleep 0.05; done
    fi
    rm -f "$S/run/samba.pid"
}

status_ad() {
    local pid kdc=stopped pg=stopped
    if pid=$(dc_pid) && is_our_samba "$pid"; then kdc="running (pid $pid)"; fi
    if [ -f "$PGDATA/postmaster.pid" ] && kill -0 "$(head -1 "$PGDATA/postmaster.pid")" 2>/dev/null; then
        pg="running (pid $(head -1 "$PGDATA/postmaster.pid"))"
    fi
    echo "kdc: $kdc"
    echo "postgres: $pg"
}

# fault NAME [USER] / heal NAME [USER]: AD-only faults, changed in the directory while the DC
# runs (the KDC reads each change at once). Clients holding tickets keep them: kdestroy first.
fault() {
    need_root
    [ -f "$SAMDB" ] || die "the realm in $D is not initialised: run init first"
    local mode=$1 name=${2:-} user=${3:-} sa=$AD_SERVICE_ACCOUNT H=(-H "$SAMDB" -s "$SMB_CONF") batch=""
    case "$name" in
        disabled|password-expired|account-expired)
            [ -n "$user" ] || die "fault $name needs a user, e.g. fault $name alice" ;;
    esac
    case "$mode:$name" in
        fault:rc4-only)         add attr "$sa" msDS-SupportedEncryptionTypes 4 ;;
        heal:rc4-only)          add attr "$sa" msDS-SupportedEncryptionTypes 24 ;;
        fault:spn-missing)      add spn delete "postgres/$DB_HOST" "$sa" "${H[@]}" ;;
        heal:spn-missing)       add spn add "postgres/$DB_HOST" "$sa" "${H[@]}" ;;
        fault:disabled)         add user disable "$user" "${H[@]}" ;;
        heal:disabled)          add user enable "$user" "${H[@]}" ;;
        # pwdLastSet 0 is AD's "must change password at next logon": the KDC then refuses
        # tickets with KDC_ERR_KEY_EXPIRED, as for a password past its maximum age.
        fault:password-expired) add attr "$user" pwdLastSet 0 ;;
        heal:password-expired)  add attr "$user" pwdLastSet -1 ;;
        fault:account-expired)  add attr "$user" accountExpires "$(ad_time_yesterday)" ;;
        heal:account-expired)   add attr "$user" accountExpires "$AD_NEVER" ;;
        *) die "unknown fault '$name': one of rc4-only, spn-missing, disabled USER, password-expired USER, account-expired USER" ;;
    esac
    local out rc=0
    out=$(printf '%s' "$batch" | samba_batch "$SMB_CONF" 2>&1) || rc=$?
    printf '%s\n' "$out" >> "$S/log/faults.log"
    [ "$rc" = 0 ] || { printf '%s\n' "$out" | tail -3 >&2; die "$mode $name failed"; }
}

# Moves a stopped DC to AD_ADDR: its interfaces, resolver file and DNS A records. A container
# gets a new address when it is created anew on a provisioned realm folder.
readdress() {
    [ -f "$SMB_CONF" ] || die "the realm in $D is not initialised: run init first"
    local pid old
    if pid=$(dc_pid) && is_our_samba "$pid"; then
        die "the domain controller runs (pid $pid): stop it (stop-kdc) before moving it to $AD_ADDR"
    fi
    old=$(sed -n 's|^[[:space:]]*interfaces = \([^/[:space:]]*\).*|\1|p' "$SMB_CONF")
    [ -n "$old" ] || die "$SMB_CONF names no interface: remove the realm folder and init again"
    [ "$old" = "$AD_ADDR" ] && return 0
    write_smb_conf
    printf 'dns-retarget %s %s\n' "$old" "$AD_ADDR" | samba_batch "$SMB_CONF" >>"$S/log/provision.log" 2>&1 \
        || { tail -5 "$S/log/provision.log" >&2; die "moving the DC's DNS records to $AD_ADDR failed"; }
}

# AD time: 100 ns intervals since 1601-01-01.
AD_NEVER=9223372036854775807
ad_time_yesterday() { echo $(( ($(date +%s) - 86400 + 11644473600) * 10000000 )); }

run_dc() {
    need_root
    [ -f "$SMB_CONF" ] || die "the realm in $D is not initialised: run init first"
    RESOLV_CONF=$S/resolv.conf exec samba -s "$SMB_CONF" --foreground --no-process-group --debug-stdout
}

cmd=${1:-}
case "$cmd" in
    env|status) ;;
    *) need_root ;;
esac
case "$cmd" in
    init)      mkdir -p "$D"; init_dc; init_tls; init_pg; print_env > "$D/realm.env" ;;
    init-kdc)  mkdir -p "$D"; init_dc ;;
    init-tls)  mkdir -p "$D/secrets"; init_tls ;;
    init-pg)   init_pg; stop_pg ;;
    start-kdc) start_dc ;;
    stop-kdc)  stop_dc ;;
    start-pg)  start_pg ;;
    stop-pg)   stop_pg ;;
    run-kdc)   run_dc ;;
    run-pg)    FLAVOR=mit REALM_SH_LIBRARY=0 exec bash "$REALM_SH" run-pg ;;
    down)      stop_pg; stop_dc ;;
    status)    status_ad ;;
    env)       print_env ;;
    template)  need_samba; ensure_template ;;
    readdress) readdress ;;
    fault|heal) fault "$cmd" "${2:-}" "${3:-}" ;;
    failover)  failover "${2:-}" ;;
    start-instance) start_instance "${2:?start-instance needs an instance number}" ;;
    stop-instance)  stop_instance "${2:?stop-instance needs an instance number}" ;;
    instances) print_instances ;;
    *)         die "unknown command '${cmd}': see the usage at the top of this script" ;;
esac
