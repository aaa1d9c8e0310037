//! A local Kerberos realm and PostgreSQL server shaped like Amazon Aurora PostgreSQL behind
//! AWS Managed Microsoft AD: for tests, and for people trying `aurora-krb` or testing their
//! applications without an AWS account.
//!
//! The realm's one definition is the script `docker/realm/realm.sh`, embedded in this crate;
//! the same script runs inside the docker images. This crate picks the folder and the ports,
//! runs the script, and gives tests a handle that stops everything when it is dropped, and
//! even when the test process dies.
//!
//! ```no_run
//! use aurora_krb_realm::{Realm, RealmOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // An MIT KDC for CORP.EXAMPLE.COM and PostgreSQL on free loopback ports, in a temp dir.
//! let realm = Realm::start_temp(RealmOptions::default())?;
//! let ccache = realm.dir().join("alice.ccache");
//! realm.kinit("alice", &ccache)?;
//! let out = realm
//!     .psql("alice", &ccache)
//!     .arg("-c")
//!     .arg("select gss_authenticated from pg_stat_gssapi where pid = pg_backend_pid()")
//!     .output()?;
//! assert!(out.status.success());
//! # Ok(())
//! # }
//! ```
//!
//! Users of the realm and what they stand for on Aurora: `alice` (an AD user with a database
//! role granted `rds_ad`, password in `secrets/alice.password`), `app-svc` (a service account
//! with a client keytab, `app-svc.keytab`), `bob` (no database role), `carol` (a role not
//! granted `rds_ad`: the server asks her for a password, as Aurora does).
//!
//! The trust flavour ([`Flavor::Trust`]) adds an on-premises realm, `ONPREM.EXAMPLE.COM`,
//! trusted one way by the AWS realm: its users `dave` (password) and `onprem-svc` (client
//! keytab) log in across the trust, and [`TrustFault`] breaks the trust in the ways real ones
//! break. [`Realm::principal`] names them in their own realm. A third realm,
//! `BRANCH.EXAMPLE.NET` (user `erin`), reaches the AWS realm only through the on-premises one:
//! a transitive path, named in `[capaths]`.
//!
//! With [`RealmOptions::replicas`], PostgreSQL runs as an Aurora cluster: a writer and hot
//! standby readers, each [`Instance`] with a host name, service principal and port of its
//! own; [`Realm::failover`] moves the writer's role as Aurora does.
#![forbid(unsafe_code)]

mod ad;
mod error;
mod iam;
mod ports;
mod replicas;
mod state;
mod trust;

pub use ad::AdFault;
pub use error::Error;
pub use iam::{IAM_AND_AD_USER, IAM_USER, IamKey};
pub use replicas::{Instance, Role};
pub use state::{Flavor, RealmOptions};
pub use trust::{BRANCH_REALM, TrustFault, USER_REALM, USER_REALM_USERS};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use state::State;

/// The script that defines the realm, run by this crate and by the docker images.
pub const REALM_SCRIPT: &str = include_str!("../../../docker/realm/realm.sh");

/// Users of the realm that log in with a password.
pub const PASSWORD_USERS: [&str; 3] = ["alice", "bob", "carol"];

/// A realm on this machine: its folder, its settings, and the services it runs.
///
/// A realm made by [`Realm::start_temp`] is stopped and its folder removed when the handle is
/// dropped; one made by [`Realm::up`] keeps running until [`Realm::down`].
#[derive(Debug)]
pub struct Realm {
    dir: PathBuf,
    state: State,
    temp: Option<TempRealm>,
}

#[derive(Debug)]
struct TempRealm {
    _dir: tempfile::TempDir,
    watchdog: Child,
}

/// Which services of a realm run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// The KDC answers.
    pub kdc: bool,
    /// PostgreSQL runs.
    pub postgres: bool,
}

impl Realm {
    /// Creates a realm in a new temporary folder on free loopback ports and starts it.
    ///
    /// Everything stops, and the folder is removed, when the handle is dropped; a watchdog
    /// also stops the realm if this process dies without dropping it (a crashed or killed
    /// test run, or a realm kept in a `static`).
    pub fn start_temp(options: RealmOptions) -> Result<Realm, Error> {
        let temp = tempfile::Builder::new()
            .prefix("aurora-krb-realm-")
            .tempdir()
            .map_err(|e| Error::io("creating a temporary realm folder", e))?;
        let dir = temp.path().to_path_buf();
        let mut realm = Realm::create(&dir, options)?;
        let watchdog = realm.spawn_watchdog()?;
        realm.temp = Some(TempRealm {
            _dir: temp,
            watchdog,
        });
        Ok(realm)
    }

    /// Starts the realm in `dir`, creating it first when the folder holds none.
    pub fn up(dir: &Path, options: RealmOptions) -> Result<Realm, Error> {
        if State::exists(dir) {
            let realm = Realm::open(dir)?;
            realm.start()?;
            Ok(realm)
        } else {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            Realm::create(dir, options)
        }
    }

    /// Opens the realm that [`Realm::up`] created in `dir`, whether it runs or not.
    pub fn open(dir: &Path) -> Result<Realm, Error> {
        let state = State::load(dir)?;
        Ok(Realm {
            dir: dir.to_path_buf(),
            state,
            temp: None,
        })
    }

    fn create(dir: &Path, options: RealmOptions) -> Result<Realm, Error> {
        let state = State::new(options)?;
        let realm = Realm {
            dir: dir.to_path_buf(),
            state,
            temp: None,
        };
        realm.state.save(dir)?;
        realm.script(&["init"])?;
        realm.script(&["start-kdc"])?;
        realm.wait_for_kdc()?;
        Ok(realm)
    }

    /// Starts whatever of the realm's services is not running.
    pub fn start(&self) -> Result<(), Error> {
        self.start_kdc()?;
        self.start_postgres()
    }

    /// Stops the realm's services; its folder stays.
    pub fn down(&self) -> Result<(), Error> {
        self.script(&["down"]).map(drop)
    }

    /// Which services run. For the trust flavour, `kdc` means all its KDCs.
    pub fn status(&self) -> Result<Status, Error> {
        let out = self.script(&["status"])?;
        let running = |name: &str| {
            out.lines()
                .any(|l| l.starts_with(&format!("{name}: running")))
        };
        Ok(Status {
            kdc: running("kdc")
                && (self.state.flavor != Flavor::Trust
                    || (running("user-kdc") && running("branch-kdc"))),
            postgres: running("postgres"),
        })
    }

    /// Starts the KDC (a fault-injection step for tests: see [`Realm::stop_kdc`]).
    pub fn start_kdc(&self) -> Result<(), Error> {
        self.script(&["start-kdc"])?;
        self.wait_for_kdc()
    }

    /// Stops the KDC (both KDCs of the trust flavour): logins that need a ticket from it now
    /// fail.
    pub fn stop_kdc(&self) -> Result<(), Error> {
        self.script(&["stop-kdc"]).map(drop)
    }

    /// Starts PostgreSQL.
    pub fn start_postgres(&self) -> Result<(), Error> {
        self.script(&["start-pg"]).map(drop)
    }

    /// Stops PostgreSQL.
    pub fn stop_postgres(&self) -> Result<(), Error> {
        self.script(&["stop-pg"]).map(drop)
    }

    /// The realm's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The kind of KDC the realm runs.
    pub fn flavor(&self) -> Flavor {
        self.state.flavor
    }

    /// The longest ticket the realm's KDC issues.
    pub fn ticket_lifetime(&self) -> Duration {
        Duration::from_secs(self.state.ticket_lifetime_secs)
    }

    /// The Kerberos realm, `CORP.EXAMPLE.COM` unless chosen otherwise.
    pub fn realm(&self) -> &str {
        &self.state.realm
    }

    /// The database host name: the service principal is `postgres/<db_host>`, and the
    /// server certificate is issued for it. The server listens on 127.0.0.1: dial that
    /// address (libpq's `hostaddr`) and keep this name for Kerberos and TLS.
    pub fn db_host(&self) -> &str {
        &self.state.db_host
    }

    /// The address PostgreSQL listens on.
    pub fn pg_addr(&self) -> &str {
        "127.0.0.1"
    }

    /// PostgreSQL's port; with readers, the port of instance 1 (the writer until a
    /// failover: see [`Realm::instances`]).
    pub fn pg_port(&self) -> u16 {
        self.state.pg_port
    }

    /// The KDC's port (UDP and TCP, on [`Realm::kdc_addr`]).
    pub fn kdc_port(&self) -> u16 {
        self.state.kdc_port
    }

    /// The realm's krb5.conf: every client of the realm must read this one
    /// (`KRB5_CONFIG`), never the machine's.
    pub fn krb5_conf(&self) -> PathBuf {
        self.dir.join("krb5.conf")
    }

    /// The CA that issued the server certificate: it plays the RDS CA bundle.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The keytab of a principal, named after it: `app-svc` (the client keytab of the
    /// service account) or `postgres` (the server's).
    pub fn keytab(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.keytab"))
    }

    /// PostgreSQL's log file: the server's own reason for a refused login is there.
    pub fn pg_log(&self) -> PathBuf {
        self.dir.join("pg.log")
    }

    /// The KDC's log file.
    pub fn kdc_log(&self) -> PathBuf {
        if let Some(log) = self.ad_log() {
            return log;
        }
        self.dir.join("kdc").join("kdc.log")
    }

    /// The file that holds the environment for a shell (`KRB5_CONFIG`, `PG*`): source it.
    pub fn env_file(&self) -> PathBuf {
        self.dir.join("realm.env")
    }

    /// The full principal name of a realm user: `alice` gives `alice@CORP.EXAMPLE.COM`; in a
    /// trust realm the on-premises users are in their realms: `dave@ONPREM.EXAMPLE.COM`,
    /// `erin@BRANCH.EXAMPLE.NET`.
    pub fn principal(&self, user: &str) -> String {
        format!("{user}@{}", trust::user_realm_of(&self.state, user))
    }

    /// The service principal of the database: `postgres/<db_host>@REALM`.
    pub fn service_principal(&self) -> String {
        format!("postgres/{}@{}", self.state.db_host, self.state.realm)
    }

    /// The password of a realm user that has one (`alice`, `bob`, `carol`; `dave` and `erin`
    /// in a trust realm).
    pub fn password(&self, user: &str) -> Result<String, Error> {
        let path = self.dir.join("secrets").join(format!("{user}.password"));
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::io(
                format!(
                    "reading the password of {user} (only alice, bob, carol and, in a \
                     trust realm, dave and erin have one)"
                ),
                e,
            )
        })?;
        Ok(text.trim().to_string())
    }

    /// The client environment of the realm as name/value pairs: `KRB5_CONFIG`,
    /// `KRB5CCNAME`, `PGHOST`, `PGHOSTADDR`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGSSLMODE`,
    /// `PGSSLROOTCERT`, `PGGSSENCMODE`, `PGKRBSRVNAME`.
    pub fn env(&self) -> Result<Vec<(String, String)>, Error> {
        let text = std::fs::read_to_string(self.env_file())
            .map_err(|e| Error::io("reading realm.env", e))?;
        Ok(text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// A command that runs with the realm's Kerberos configuration and nothing of the
    /// caller's Kerberos or PostgreSQL environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        for var in [
            "KRB5CCNAME",
            "KRB5_CLIENT_KTNAME",
            "KRB5_KTNAME",
            "KRB5_TRACE",
            "PGHOST",
            "PGHOSTADDR",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGPASSWORD",
            "PGSERVICE",
            "PGSSLMODE",
            "PGSSLROOTCERT",
            "PGGSSENCMODE",
            "PGKRBSRVNAME",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("KRB5_CONFIG", self.krb5_conf());
        cmd
    }

    /// Gets a ticket for a realm user with their password (`kinit`) into `ccache` (a path;
    /// a FILE cache).
    pub fn kinit(&self, user: &str, ccache: &Path) -> Result<(), Error> {
        let password = self.password(user)?;
        let mut child = self
            .command("kinit")
            .arg("-c")
            .arg(format!("FILE:{}", ccache.display()))
            .arg(self.principal(user))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("running kinit (install Debian's krb5-user)", e))?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin is piped");
            writeln!(stdin, "{password}").map_err(|e| Error::io("writing to kinit", e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io("running kinit", e))?;
        if !out.status.success() {
            return Err(Error::command("kinit", &out.stderr));
        }
        Ok(())
    }

    /// Gets a ticket for `app-svc` (or `onprem-svc`) from its client keytab (`kinit -k`) into `ccache`.
    pub fn kinit_keytab(&self, user: &str, ccache: &Path) -> Result<(), Error> {
        let out = self
            .command("kinit")
            .arg("-k")
            .arg("-t")
            .arg(self.keytab(user))
            .arg("-c")
            .arg(format!("FILE:{}", ccache.display()))
            .arg(self.principal(user))
            .output()
            .map_err(|e| Error::io("running kinit (install Debian's krb5-user)", e))?;
        if !out.status.success() {
            return Err(Error::command("kinit -k", &out.stderr));
        }
        Ok(())
    }

    /// A `psql` command that logs in as `user` with the tickets in `ccache`, the way libpq
    /// users connect to Aurora: TLS verified against the realm's CA for the database host
    /// name, GSSAPI authentication, no GSS encryption. Add `-c SQL` and run it.
    pub fn psql(&self, user: &str, ccache: &Path) -> Command {
        let mut cmd = self.command("psql");
        cmd.env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
            .env("PGCONNECT_TIMEOUT", "10")
            .arg("-X")
            .arg("-w")
            .arg("-At")
            .arg(self.conninfo(user))
            .stdin(Stdio::null());
        cmd
    }

    /// A libpq connection string for `user` against this realm's server.
    pub fn conninfo(&self, user: &str) -> String {
        format!(
            "host={} hostaddr={} port={} user={} dbname=postgres krbsrvname=postgres \
             sslmode=verify-full sslrootcert={} gssencmode=disable",
            self.db_host(),
            self.pg_addr(),
            self.pg_port(),
            self.principal(user),
            self.ca_file().display()
        )
    }

    /// Runs SQL as the database superuser over the realm's private socket and returns what
    /// psql printed (unaligned, tuples only).
    pub fn admin_sql(&self, sql: &str) -> Result<String, Error> {
        let out = self
            .command("psql")
            .arg("-X")
            .arg("-At")
            .arg("-v")
            .arg("ON_ERROR_STOP=1")
            .arg("-h")
            .arg(self.dir.join("run"))
            .arg("-p")
            .arg(self.pg_port().to_string())
            .arg("-U")
            .arg("postgres")
            .arg("-d")
            .arg("postgres")
            .arg("-c")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io("running psql (install Debian's postgresql-client)", e))?;
        if !out.status.success() {
            return Err(Error::command("psql (admin)", &out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// Runs one `kadmin.local` query against the realm's KDC database (for example
    /// `cpw -randkey app-svc` to make the client keytab stale).
    pub fn kadmin(&self, query: &str) -> Result<String, Error> {
        self.kadmin_in(
            &self.state.realm,
            &self.dir.join("kdc").join("kdc.conf"),
            query,
        )
    }

    fn kadmin_in(&self, realm: &str, kdc_conf: &Path, query: &str) -> Result<String, Error> {
        let out = self
            .command("kadmin.local")
            .env("KRB5_KDC_PROFILE", kdc_conf)
            .arg("-r")
            .arg(realm)
            .arg("-q")
            .arg(query)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::io(
                    "running kadmin.local (install Debian's krb5-admin-server)",
                    e,
                )
            })?;
        // kadmin.local exits 0 even when the query fails; it says so on stderr.
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || stderr.contains("while ") {
            return Err(Error::command("kadmin.local", &out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs a command of the realm script with this realm's settings.
    pub(crate) fn script(&self, args: &[&str]) -> Result<String, Error> {
        let script = self.dir.join("realm.sh");
        // Written on every call so that a realm folder always runs the script of the
        // binary that manages it.
        write_script_file(&script, REALM_SCRIPT)?;
        ad::write_script(&self.dir, self.state.flavor)?;
        trust::write_script(&self.dir, self.state.flavor)?;
        let mut cmd = Command::new("bash");
        cmd.arg(&script).args(args);
        self.state.apply_env(&mut cmd, &self.dir);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io("running the realm script with bash", e))?;
        if !out.status.success() {
            return Err(Error::command(
                &format!("realm.sh {}", args.join(" ")),
                &out.stderr,
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn wait_for_kdc(&self) -> Result<(), Error> {
        self.wait_for_port(self.kdc_socket_addr(), "the KDC", self.kdc_log())?;
        self.wait_for_user_kdc()
    }

    fn wait_for_port(
        &self,
        addr: std::net::SocketAddr,
        what: &str,
        log: PathBuf,
    ) -> Result<(), Error> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(Error::NotReady {
                    what: what.into(),
                    log,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A process that stops the realm and removes its folder once this process is gone.
    fn spawn_watchdog(&self) -> Result<Child, Error> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(
                r#"while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
bash "$2/realm.sh" down >/dev/null 2>&1; rm -rf "$2""#,
            )
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.dir);
        self.state.apply_env(&mut cmd, &self.dir);
        // Its own process group: a Ctrl-C aimed at the test run must not kill the
        // watchdog before it has cleaned up.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::io("starting the realm's watchdog", e))
    }
}

impl Drop for Realm {
    fn drop(&mut self) {
        if let Some(mut temp) = self.temp.take() {
            if let Err(e) = self.script(&["down"]) {
                tracing::warn!("stopping the realm in {}: {e}", self.dir.display());
            }
            let _ = temp.watchdog.kill();
            let _ = temp.watchdog.wait();
        }
    }
}

/// Writes a script of the realm unless it is there already. Never in place: bash reads a
/// script as it runs it, so a call running beside this one (two tests of one realm) would
/// read a truncated file; a new file renamed over the old one leaves it its copy.
pub(crate) fn write_script_file(path: &Path, text: &str) -> Result<(), Error> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(());
    }
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = path.with_extension(format!(
        "sh.{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// The folder `aurora-krb realm` uses when none is given: `$XDG_STATE_HOME/aurora-krb/realm`
/// (or `~/.local/state/aurora-krb/realm`); for root `/var/lib/aurora-krb/realm`, because
/// PostgreSQL runs as its own account and cannot enter root's home.
pub fn default_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/aurora-krb/realm");
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("aurora-krb").join("realm")
}
