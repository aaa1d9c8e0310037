//! `aurora-krb realm`: the local test realm, an MIT KDC and a PostgreSQL server configured
//! like Aurora behind AWS Managed Microsoft AD. The realm itself is `aurora-krb-realm`.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use aurora_krb_realm::{Flavor, Realm, RealmOptions};
use clap::{Args, Subcommand, ValueEnum};

/// Arguments of `aurora-krb realm`.
#[derive(Args)]
pub struct RealmArgs {
    #[command(subcommand)]
    action: Action,
    /// The realm's folder [default: ~/.local/state/aurora-krb/realm; for root
    /// /var/lib/aurora-krb/realm].
    #[arg(long, global = true, env = "AURORA_KRB_REALM_DIR")]
    dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Action {
    /// Create the realm if the folder holds none, then start its KDC and PostgreSQL.
    Up(UpArgs),
    /// Stop the realm's services (the folder stays; `up` starts them again).
    Down,
    /// Say which services run, and where.
    Status,
    /// Print the realm's client environment as `export` lines: `eval "$(aurora-krb realm env)"`.
    Env,
    /// Fail over as Aurora does (a realm made with --replicas): stop the writer, promote a
    /// reader, and bring the old writer back as a reader of the new one.
    Failover(FailoverArgs),
}

#[derive(Args)]
struct FailoverArgs {
    /// The reader instance to promote (its number in `status`) [default: the first running
    /// reader].
    #[arg(long)]
    to: Option<u32>,
}

#[derive(Args)]
struct UpArgs {
    /// The KDC's port on 127.0.0.1 (a free one when the realm is created without it).
    #[arg(long)]
    kdc_port: Option<u16>,
    /// PostgreSQL's port on 127.0.0.1 (a free one when the realm is created without it).
    #[arg(long)]
    pg_port: Option<u16>,
    /// The longest ticket the KDC issues, in seconds (short ones test expiry) [default: 36000].
    #[arg(long)]
    ticket_lifetime: Option<u64>,
    /// The KDC of a new realm: an MIT KDC, a Samba AD domain controller (needs root; it
    /// listens on the well-known ports of a loopback address of its own), or trust: two MIT
    /// KDCs, the AWS realm CORP.EXAMPLE.COM trusting the on-premises realm
    /// ONPREM.EXAMPLE.COM, whose user dave logs in across the trust.
    /// [default: mit]
    #[arg(long, value_enum)]
    flavor: Option<FlavorArg>,
    /// Readers beside the writer, as in an Aurora cluster: hot standbys streaming from it,
    /// each with a host name (db-instance-N.example.test), service principal and port of its
    /// own; realm.env lists them, writer first (MIT flavour) [default: 0].
    #[arg(long)]
    replicas: Option<u32>,
    /// IAM database authentication as Aurora does it (MIT flavour, needs root): role
    /// iam_user (granted rds_iam) logs in with a token that PAM checks against the realm's
    /// test key (secrets/iam.credentials); realm.env names the key and the region.
    #[arg(long)]
    iam: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum FlavorArg {
    Mit,
    Ad,
    Trust,
}

pub fn run(args: RealmArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(aurora_krb_realm::default_dir);
    match args.action {
        Action::Up(up) => {
            let started = Instant::now();
            let flavor = up.flavor.map(|f| match f {
                FlavorArg::Mit => Flavor::Mit,
                FlavorArg::Ad => Flavor::Ad,
                FlavorArg::Trust => Flavor::Trust,
            });
            let lifetime = up.ticket_lifetime.map(Duration::from_secs);
            if let Ok(existing) = Realm::open(&dir) {
                refuse_changes(&existing, &up, flavor, lifetime)?;
            }
            let mut options = RealmOptions::default();
            if let Some(lifetime) = lifetime {
                options = options.ticket_lifetime(lifetime);
            }
            options.kdc_port = up.kdc_port;
            options.pg_port = up.pg_port;
            options.flavor = flavor.unwrap_or_default();
            options.replicas = up.replicas.unwrap_or(0);
            options.iam = up.iam;
            let realm = Realm::up(&dir, options)
                .with_context(|| format!("starting the realm in {}", dir.display()))?;
            println!(
                "realm {} up in {} ms: KDC on {}:{}, PostgreSQL for {} on 127.0.0.1:{}",
                realm.realm(),
                started.elapsed().as_millis(),
                realm.kdc_addr(),
                realm.kdc_port(),
                realm.db_host(),
                realm.pg_port()
            );
            if let (Some(user_realm), Some(port)) = (realm.user_realm(), realm.user_kdc_port()) {
                println!(
                    "trusted realm {user_realm}: KDC on 127.0.0.1:{port}; {} trusts it (one way)",
                    realm.realm()
                );
                if let Some(branch) = realm.branch_kdc_port() {
                    println!(
                        "{}: KDC on 127.0.0.1:{branch}; reaches {} through {user_realm} \
                         ([capaths])",
                        aurora_krb_realm::BRANCH_REALM,
                        realm.realm()
                    );
                }
            }
            print_instances(&realm)?;
            if realm.iam() {
                println!(
                    "IAM: role {} logs in with a token signed by the key in {} for {}:{}",
                    aurora_krb_realm::IAM_USER,
                    realm.iam_credentials_file().display(),
                    realm.db_host(),
                    realm.pg_port()
                );
            }
            println!("folder: {}", realm.dir().display());
            let user = if realm.flavor() == Flavor::Trust {
                "dave"
            } else {
                "alice"
            };
            println!(
                "use it: set -a; . {}; set +a; kinit {user} < {}/secrets/{user}.password; psql",
                realm.env_file().display(),
                realm.dir().display()
            );
        }
        Action::Down => {
            let realm = Realm::open(&dir)?;
            realm.down()?;
            println!("realm in {} stopped", dir.display());
        }
        Action::Status => {
            let realm = Realm::open(&dir)?;
            let status = realm.status()?;
            let word = |up: bool| if up { "running" } else { "stopped" };
            println!("realm {} in {}", realm.realm(), dir.display());
            println!(
                "kdc: {} ({}:{})",
                word(status.kdc),
                realm.kdc_addr(),
                realm.kdc_port()
            );
            if let (Some(user_realm), Some(port)) = (realm.user_realm(), realm.user_kdc_port()) {
                println!("  (with the KDC of the trusted realm {user_realm} on 127.0.0.1:{port})");
            }
            println!(
                "postgres: {} ({} at 127.0.0.1:{})",
                word(status.postgres),
                realm.db_host(),
                realm.pg_port()
            );
            print_instances(&realm)?;
            if !(status.kdc && status.postgres) {
                return Ok(ExitCode::from(1));
            }
        }
        Action::Failover(f) => {
            let realm = Realm::open(&dir)?;
            let started = Instant::now();
            let old = realm.writer()?;
            let new = match f.to {
                Some(n) => realm.failover_to(n)?,
                None => realm.failover()?,
            };
            println!(
                "failed over in {} ms: {} (127.0.0.1:{}) is the writer; {} is a reader of it",
                started.elapsed().as_millis(),
                new.host,
                new.port,
                old.host
            );
            print_instances(&realm)?;
        }
        Action::Env => {
            let realm = Realm::open(&dir)?;
            for (name, value) in realm.env()? {
                println!("export {name}={value}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// With readers: one line per instance (number, host name, port, role, running or not).
fn print_instances(realm: &Realm) -> anyhow::Result<()> {
    if realm.replicas() == 0 {
        return Ok(());
    }
    for i in realm.instances()? {
        println!(
            "  instance {}: {} on 127.0.0.1:{}, {}, {}",
            i.number,
            i.host,
            i.port,
            match i.role {
                aurora_krb_realm::Role::Writer => "writer",
                aurora_krb_realm::Role::Reader => "reader",
            },
            if i.running { "running" } else { "stopped" }
        );
    }
    Ok(())
}

/// A realm keeps the settings it was made with: a flag that asks for others is an error, not
/// something to drop silently.
fn refuse_changes(
    realm: &Realm,
    up: &UpArgs,
    flavor: Option<Flavor>,
    lifetime: Option<Duration>,
) -> anyhow::Result<()> {
    let mut differ = Vec::new();
    if let Some(f) = flavor.filter(|f| *f != realm.flavor()) {
        differ.push(format!("--flavor {f:?} (it is {:?})", realm.flavor()));
    }
    if let Some(p) = up.kdc_port.filter(|p| *p != realm.kdc_port()) {
        differ.push(format!("--kdc-port {p} (it is {})", realm.kdc_port()));
    }
    if let Some(p) = up.pg_port.filter(|p| *p != realm.pg_port()) {
        differ.push(format!("--pg-port {p} (it is {})", realm.pg_port()));
    }
    if let Some(r) = up.replicas.filter(|r| *r != realm.replicas()) {
        differ.push(format!("--replicas {r} (it has {})", realm.replicas()));
    }
    if up.iam && !realm.iam() {
        differ.push("--iam (it was made without)".into());
    }
    if let Some(l) = lifetime.filter(|l| *l != realm.ticket_lifetime()) {
        differ.push(format!(
            "--ticket-lifetime {} (it is {})",
            l.as_secs(),
            realm.ticket_lifetime().as_secs()
        ));
    }
    if !differ.is_empty() {
        anyhow::bail!(
            "the realm in {dir} was made with other settings: {list}. A realm keeps its \
             settings; to make it anew: aurora-krb realm down --dir {dir} && rm -rf {dir}, \
             then up again (or choose another --dir)",
            dir = realm.dir().display(),
            list = differ.join(", ")
        );
    }
    Ok(())
}
