//! PostgreSQL 17: the compose realm's `pg17` profile (PostgreSQL 17 on Debian 13, its KDC the
//! bookworm MIT one) serves Kerberos logins to the host's psql (libpq 15) and to
//! aurora-krb-connect, which there uses what only 17 speaks: direct TLS
//! (`sslnegotiation=direct`) and delegated credentials (`gssdelegation=1`). And direct TLS
//! against PostgreSQL 15 (the native realm) fails with an error naming the cause and the fix.
//!
//! Needs a Docker engine and compose (`docker compose` or `docker-compose`). Where no image
//! registry is reachable, the base images are made from Debian's mirror first
//! (docker/make-base-image.sh, bookworm and trixie). On a machine without Docker the test
//! fails, naming the cause; `AURORA_KRB_SKIP_DOCKER=1` skips it instead.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Seek};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use aurora_krb_connect::{Config, Connector, ErrorKind, SslNegotiation};

/// Projects of this test are named `PROJECT_PREFIX<pid>-<millis>`: a later run removes the
/// leftovers of a run that was killed.
const PROJECT_PREFIX: &str = "akrbpg17-";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn ok(self, what: &str) -> Result<Ran> {
        ensure!(
            self.status.success(),
            "{what} failed ({}):\n{}\n{}",
            self.status,
            self.stdout.trim(),
            self.stderr.trim()
        );
        Ok(self)
    }
}

/// Runs a command to its end or until `limit` (then kills it); output through files, so a
/// chatty command never blocks on a full pipe.
fn run(cmd: &mut Command, limit: Duration, stdin: Option<&Path>) -> Result<Ran> {
    let what = format!("{cmd:?}");
    let out = tempfile::tempfile()?;
    let err = tempfile::tempfile()?;
    cmd.stdout(out.try_clone()?).stderr(err.try_clone()?);
    match stdin {
        Some(p) => cmd.stdin(fs::File::open(p)?),
        None => cmd.stdin(Stdio::null()),
    };
    let mut child = cmd.spawn().with_context(|| format!("starting {what}"))?;
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} did not finish within {limit:?}");
        }
        sleep(Duration::from_millis(50));
    };
    let read = |mut f: fs::File| -> Result<String> {
        f.rewind()?;
        let mut s = String::new();
        f.read_to_string(&mut s)?;
        Ok(s)
    };
    Ok(Ran {
        status,
        stdout: read(out)?,
        stderr: read(err)?,
    })
}

/// The first compose command that works (`docker compose`, then `docker-compose`); the
/// error names what is missing.
fn compose_command() -> Result<Vec<String>, String> {
    let info = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match info {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                "no `docker` binary on PATH: install Docker Engine and compose \
                        (Debian: apt-get install docker.io docker-compose)"
                    .into(),
            );
        }
        Err(e) => return Err(format!("cannot run `docker`: {e}")),
        Ok(s) if !s.success() => {
            return Err(
                "the Docker daemon does not answer (`docker info` failed): start it \
                        (systemctl start docker) or check your access to its socket"
                    .into(),
            );
        }
        Ok(_) => {}
    }
    let candidates: [&[&str]; 2] = [&["docker", "compose"], &["docker-compose"]];
    candidates
        .into_iter()
        .find(|c| {
            Command::new(c[0])
                .args(&c[1..])
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .ok_or_else(|| {
            "neither `docker compose` nor `docker-compose` works: install compose \
             (Debian: apt-get install docker-compose)"
                .into()
        })
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The pg17 profile's services under a project of this test; `down -v` when dropped.
struct Project {
    compose: Vec<String>,
    name: String,
    env: Vec<(String, String)>,
    data: PathBuf,
}

const SERVICES: [&str; 2] = ["kdc17", "postgres17"];

impl Project {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.compose[0]);
        c.args(&self.compose[1..])
            .arg("-p")
            .arg(&self.name)
            .arg("-f")
            .arg(root().join("docker/compose.yaml"))
            // Also for down and logs, which see only the services of active profiles.
            .args(["--profile", "pg17"])
            .args(args)
            .env_remove("REALM_OWNER")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    fn logs(&self) -> String {
        run(
            &mut self.cmd(&["logs", "--no-color", "--tail", "40"]),
            Duration::from_secs(30),
            None,
        )
        .map(|r| format!("{}{}", r.stdout, r.stderr))
        .unwrap_or_else(|e| format!("(no logs: {e:#})"))
    }

    fn up(&self) -> Result<()> {
        let mut args = vec!["up", "-d", "--build"];
        args.extend(SERVICES);
        run(&mut self.cmd(&args), Duration::from_secs(900), None)?
            .ok("compose up")
            .with_context(|| self.logs())?;
        let deadline = Instant::now() + Duration::from_secs(120);
        for service in SERVICES {
            let id = run(
                &mut self.cmd(&["ps", "-q", service]),
                Duration::from_secs(30),
                None,
            )?
            .ok("compose ps")?
            .stdout
            .trim()
            .to_string();
            ensure!(!id.is_empty(), "compose has no {service} container");
            loop {
                let state = run(
                    Command::new("docker").args([
                        "inspect",
                        "-f",
                        "{{.State.Status}} {{.State.Health.Status}}",
                        &id,
                    ]),
                    Duration::from_secs(30),
                    None,
                )?
                .ok("docker inspect")?
                .stdout;
                match state.trim() {
                    "running healthy" => break,
                    s if s.starts_with("exited") || s.starts_with("dead") => {
                        bail!("the {service} container stopped ({s}):\n{}", self.logs())
                    }
                    s if Instant::now() > deadline => {
                        bail!(
                            "{service} is not healthy after 120 s ({s}):\n{}",
                            self.logs()
                        )
                    }
                    _ => sleep(Duration::from_millis(250)),
                }
            }
        }
        Ok(())
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        match run(
            &mut self.cmd(&["down", "-v", "--remove-orphans", "-t", "10"]),
            Duration::from_secs(120),
            None,
        ) {
            Ok(r) if r.status.success() => {}
            Ok(r) => eprintln!("pg17: compose down of {} failed: {}", self.name, r.stderr),
            Err(e) => eprintln!("pg17: compose down of {} failed: {e:#}", self.name),
        }
        // PostgreSQL's files belong to the container's postgres account: a test run by
        // another user than root removes them through a container.
        if fs::metadata(&self.data).is_ok_and(|m| m.uid() != 0) {
            let _ = run(
                Command::new("docker")
                    .args(["run", "--rm", "--entrypoint", "find", "-v"])
                    .arg(format!("{}:/realm", self.data.display()))
                    .args([
                        "aurora-krb/realm-kdc",
                        "/realm",
                        "-mindepth",
                        "1",
                        "-delete",
                    ]),
                Duration::from_secs(60),
                None,
            );
        }
    }
}

/// Removes the containers and networks of earlier runs whose process is gone.
fn remove_stale_projects() -> Result<()> {
    let ran = run(
        Command::new("docker").args([
            "ps",
            "-a",
            "--format",
            "{{.Label \"com.docker.compose.project\"}}",
        ]),
        Duration::from_secs(30),
        None,
    )?
    .ok("docker ps")?;
    let mut seen = std::collections::HashSet::new();
    for project in ran.stdout.lines().filter(|p| p.starts_with(PROJECT_PREFIX)) {
        let pid = project[PROJECT_PREFIX.len()..]
            .split('-')
            .next()
            .unwrap_or("");
        if !seen.insert(project.to_string()) || Path::new("/proc").join(pid).exists() {
            continue;
        }
        let label = format!("label=com.docker.compose.project={project}");
        let ids = run(
            Command::new("docker").args(["ps", "-aq", "--filter", &label]),
            Duration::from_secs(30),
            None,
        )?;
        let ids: Vec<&str> = ids.stdout.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = run(
                Command::new("docker").args(["rm", "-f", "-v"]).args(&ids),
                Duration::from_secs(60),
                None,
            );
        }
        let _ = run(
            Command::new("docker").args(["network", "rm", &format!("{project}_default")]),
            Duration::from_secs(30),
            None,
        );
    }
    Ok(())
}

/// realm.env's `export NAME=VALUE` lines.
fn read_env(path: &Path) -> Result<HashMap<String, String>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l
                .strip_prefix("export ")
                .and_then(|kv| kv.split_once('='))
                .with_context(|| format!("realm.env line is not `export NAME=VALUE`: {l}"))?;
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// A host command with the realm's environment only (no PG*/KRB5* of the machine).
fn host_cmd(program: &str, env: &HashMap<String, String>) -> Command {
    let mut c = Command::new(program);
    for (k, _) in std::env::vars() {
        if k.starts_with("PG") || k.starts_with("KRB5") {
            c.env_remove(k);
        }
    }
    c.envs(env);
    c
}

/// What a session says about its own login.
const WHO: &str = "select current_setting('server_version_num')::int, g.gss_authenticated, \
                   g.encrypted, g.credentials_delegated, coalesce(s.ssl, false) \
                   from pg_stat_gssapi g left join pg_stat_ssl s using (pid) \
                   where pid = pg_backend_pid()";

#[derive(Debug, PartialEq, Eq)]
struct Login {
    version: i32,
    gss_authenticated: bool,
    gss_encrypted: bool,
    delegated: bool,
    tls: bool,
}

async fn login(conninfo: &str) -> Result<Login, aurora_krb_connect::Error> {
    let connector = Connector::new(conninfo.parse()?)?;
    let (client, connection) = connector.connect().await?;
    let task = tokio::spawn(connection);
    let row = client.query_one(WHO, &[]).await.expect("the session query");
    drop(client);
    let _ = task.await;
    Ok(Login {
        version: row.get(0),
        gss_authenticated: row.get(1),
        gss_encrypted: row.get(2),
        delegated: row.get(3),
        tls: row.get(4),
    })
}

#[test]
fn postgresql_17_takes_direct_tls_and_delegated_credentials() {
    if aurora_krb_test_support::skip::docker() {
        return;
    }
    let compose = match compose_command() {
        Ok(c) => c,
        Err(why) => panic!(
            "{why}\n(on a machine without Docker, set {}=1 to skip this test)",
            aurora_krb_test_support::skip::SKIP_DOCKER
        ),
    };
    if let Err(e) = pg17(compose) {
        panic!("{e:#}");
    }
}

fn pg17(compose: Vec<String>) -> Result<()> {
    remove_stale_projects()?;
    let started = Instant::now();
    // The KDC's image is bookworm's, PostgreSQL 17's trixie's.
    for suite in ["bookworm", "trixie"] {
        run(
            Command::new("bash")
                .arg(root().join("docker/make-base-image.sh"))
                .env("SUITE", suite),
            Duration::from_secs(1200),
            None,
        )?
        .ok(&format!("SUITE={suite} docker/make-base-image.sh"))?;
    }
    eprintln!("pg17: base images ready after {:.1?}", started.elapsed());

    let tmp = tempfile::Builder::new().prefix("akrb-pg17-").tempdir()?;
    let data = tmp.path().join("realm-data");
    fs::create_dir(&data)?;
    let (kdc_port, pg_port) = (free_port()?, free_port()?);
    let millis = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let project = Project {
        compose,
        name: format!("{PROJECT_PREFIX}{}-{millis}", std::process::id()),
        env: vec![
            ("REALM_DATA".into(), data.display().to_string()),
            ("KDC_HOST_PORT".into(), kdc_port.to_string()),
            ("PG_HOST_PORT".into(), pg_port.to_string()),
        ],
        data: data.clone(),
    };
    let started = Instant::now();
    project.up()?;
    eprintln!("pg17: build and up took {:.1?}", started.elapsed());

    let env = read_env(&data.join("realm.env"))?;
    assert_eq!(env["PGPORT"], pg_port.to_string());
    // SAFETY: the only write to this process's environment, before its first Kerberos call;
    // the other test of this binary makes none (it stops at TLS). libkrb5 reads KRB5_CONFIG
    // when it builds a context; the machine's krb5.conf names real KDCs.
    #[allow(unsafe_code)] // set_var: see the SAFETY note; tests and examples only
    unsafe {
        std::env::set_var("KRB5_CONFIG", &env["KRB5_CONFIG"]);
        std::env::remove_var("KRB5CCNAME");
        std::env::remove_var("KRB5_CLIENT_KTNAME");
    }
    let password = data.join("secrets/alice.password");
    // A forwardable ticket (delegation needs one) and one that is not.
    let forwardable = format!("FILE:{}", tmp.path().join("alice-f.ccache").display());
    let plain = format!("FILE:{}", tmp.path().join("alice.ccache").display());
    for (cc, flag) in [(&forwardable, "-f"), (&plain, "-F")] {
        run(
            host_cmd("kinit", &env)
                .env("KRB5CCNAME", cc)
                .args([flag, "alice"]),
            Duration::from_secs(30),
            Some(&password),
        )?
        .ok(&format!("kinit {flag} alice"))?;
    }

    // The host's psql (libpq 15): a plain Kerberos login over verified TLS, to PostgreSQL 17.
    let psql = run(
        host_cmd("psql", &env)
            .env("KRB5CCNAME", &forwardable)
            .env("PGCONNECT_TIMEOUT", "10")
            .args(["-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-c", WHO]),
        Duration::from_secs(60),
        None,
    )?
    .ok("psql")?;
    let fields: Vec<&str> = psql.stdout.trim().split('|').collect();
    ensure!(
        fields.len() == 5 && fields[0].starts_with("17") && fields[1..] == ["t", "f", "f", "t"],
        "psql against the pg17 service: {}",
        psql.stdout
    );

    let base = format!(
        "host={} hostaddr=127.0.0.1 port={pg_port} dbname=postgres user=alice@CORP.EXAMPLE.COM \
         sslrootcert={} connect_timeout=20 kdc_timeout=5",
        env["PGHOST"], env["PGSSLROOTCERT"]
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let tls = |delegated| Login {
            version: 0,
            gss_authenticated: true,
            gss_encrypted: false,
            delegated,
            tls: true,
        };
        let version_free = |l: Login| Login { version: 0, ..l };
        for negotiation in ["postgres", "direct"] {
            // Never delegated unless asked, even with a forwardable ticket at hand.
            let l = login(&format!(
                "{base} ccache={forwardable} sslnegotiation={negotiation}"
            ))
            .await
            .with_context(|| format!("sslnegotiation={negotiation}"))?;
            ensure!(l.version >= 170000, "not PostgreSQL 17: {l:?}");
            assert_eq!(version_free(l), tls(false), "sslnegotiation={negotiation}");
            let l = login(&format!(
                "{base} ccache={forwardable} sslnegotiation={negotiation} gssdelegation=1"
            ))
            .await
            .with_context(|| format!("sslnegotiation={negotiation} gssdelegation=1"))?;
            assert_eq!(
                version_free(l),
                tls(true),
                "sslnegotiation={negotiation} gssdelegation=1"
            );
        }
        // The direct handshake, step by step: no SSLRequest was needed and the server chose
        // ALPN postgresql, which only PostgreSQL 17's direct TLS path requires.
        let connector = Connector::new(Config::parse(&format!(
            "{base} ccache={forwardable} sslnegotiation=direct"
        ))?)?;
        assert_eq!(
            connector.config().get_ssl_negotiation(),
            SslNegotiation::Direct
        );
        let secured = connector.tls(connector.dial().await?).await?;
        assert_eq!(secured.alpn().as_deref(), Some("postgresql"));
        assert!(secured.tls.is_some());

        // GSS encryption: delegation too, only when asked.
        for (delegate, expected) in [("0", false), ("1", true)] {
            let l = login(&format!(
                "{base} ccache={forwardable} gssencmode=require gssdelegation={delegate}"
            ))
            .await
            .with_context(|| format!("gssencmode=require gssdelegation={delegate}"))?;
            assert_eq!(
                version_free(l),
                Login {
                    version: 0,
                    gss_authenticated: true,
                    gss_encrypted: true,
                    delegated: expected,
                    tls: false,
                },
                "gssencmode=require gssdelegation={delegate}"
            );
        }

        // A ticket that cannot be forwarded: libpq would log in without delegating; this
        // crate says why the credential was not delegated.
        let e = login(&format!("{base} ccache={plain} gssdelegation=1"))
            .await
            .expect_err("delegation with a ticket that is not forwardable");
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert_eq!(e.setting(), Some("gssdelegation"), "{e}");
        assert!(e.to_string().contains("not forwardable"), "{e}");
        assert!(e.fix().contains("kinit -f"), "{}", e.fix());
        // Without delegation the same ticket logs in.
        login(&format!("{base} ccache={plain}")).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    drop(project);
    Ok(())
}

/// PostgreSQL 15 (the native realm) does not speak direct TLS: the handshake fails with an
/// error that names the cause (the server closed the connection) and the fix, while the
/// SSLRequest way to the same server works. No Kerberos is involved: it stops at TLS.
#[test]
fn direct_tls_against_postgresql_15_names_the_cause_and_the_fix() {
    let realm = aurora_krb_test_support::realm::start(aurora_krb_realm::RealmOptions::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = aurora_krb_test_support::realm::base_conninfo(&realm);
    rt.block_on(async {
        let postgres =
            Connector::new(format!("{base} sslnegotiation=postgres").parse().unwrap()).unwrap();
        let secured = postgres
            .tls(postgres.dial().await.unwrap())
            .await
            .expect("TLS after an SSLRequest works with PostgreSQL 15");
        assert_eq!(
            secured.alpn(),
            None,
            "PostgreSQL 15 chooses no ALPN protocol"
        );

        let direct =
            Connector::new(format!("{base} sslnegotiation=direct").parse().unwrap()).unwrap();
        let e = direct
            .tls(direct.dial().await.unwrap())
            .await
            .expect_err("PostgreSQL 15 has no direct TLS");
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        assert_eq!(e.setting(), Some("sslnegotiation"), "{e}");
        assert!(e.cause().contains("closed the connection"), "{}", e.cause());
        assert!(e.cause().contains("PostgreSQL 17"), "{}", e.cause());
        assert!(e.fix().contains("sslnegotiation=postgres"), "{}", e.fix());
        assert!(e.fix().contains("PostgreSQL 17"), "{}", e.fix());
    });
}
