//! The realm in Docker, used from the host as docs/docker.md tells users to: compose builds and
//! starts the KDC and PostgreSQL images under a project name of its own, with the realm's files
//! exported to a temp folder and the services published on free 127.0.0.1 ports; then `kinit`
//! and `psql` on the host log in with Kerberos over verified TLS. Once with the MIT KDC (the
//! default services), once with the Samba AD domain controller (the `ad` profile), and once
//! across a realm trust (the `trust` profile: an on-premises user of another realm).
//!
//! Needs a Docker engine and compose (`docker compose` or `docker-compose`). Where no image
//! registry is reachable, the base image is made from Debian's mirror first
//! (docker/make-base-image.sh). On a machine without Docker the test fails, naming the cause;
//! `AURORA_KRB_SKIP_DOCKER=1` skips it instead.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};

use aurora_krb_test_support::skip::SKIP_DOCKER as SKIP_VAR;
/// Every project this test starts is named `PROJECT_PREFIX<pid>-<millis>`, so that a later
/// run can tell the leftovers of a run that was killed.
const PROJECT_PREFIX: &str = "akrbtest-";

/// Which KDC the compose realm runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flavor {
    /// The default services: `kdc` (MIT Kerberos) and `postgres`.
    Mit,
    /// The `ad` profile: `dc` (Samba AD DC) and `postgres-ad`.
    Ad,
    /// The `trust` profile: the KDCs of the database's realm (`kdc-trust`) and of the users'
    /// realms (`kdc-onprem`, `kdc-branch`), and `postgres-trust`.
    Trust,
}

impl Flavor {
    /// The services: the database realm's KDC first, PostgreSQL last.
    fn services(self) -> &'static [&'static str] {
        match self {
            Flavor::Mit => &["kdc", "postgres"],
            Flavor::Ad => &["dc", "postgres-ad"],
            Flavor::Trust => &["kdc-trust", "kdc-onprem", "kdc-branch", "postgres-trust"],
        }
    }

    /// The compose profile, given to every command (also down and logs, which see only the
    /// services of the active profiles).
    fn profile(self) -> &'static [&'static str] {
        match self {
            Flavor::Mit => &[],
            Flavor::Ad => &["--profile", "ad"],
            Flavor::Trust => &["--profile", "trust"],
        }
    }

    /// The KDC's image, which the test has built: it also cleans the realm folder up.
    fn kdc_image(self) -> &'static str {
        match self {
            Flavor::Mit | Flavor::Trust => "aurora-krb/realm-kdc",
            Flavor::Ad => "aurora-krb/realm-dc",
        }
    }
}

/// The repository's root (this test lives in crates/cli).
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
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

/// Runs a command to its end or until `limit`, when it is killed: nothing here may hang.
/// The output goes through files, so a chatty command cannot block on a full pipe.
fn run(cmd: &mut Command, limit: Duration, stdin: Option<&Path>) -> Result<Ran> {
    let what = format!("{cmd:?}");
    let out = tempfile::tempfile()?;
    let err = tempfile::tempfile()?;
    cmd.stdout(out.try_clone()?).stderr(err.try_clone()?);
    match stdin {
        Some(p) => {
            cmd.stdin(fs::File::open(p).with_context(|| format!("opening {}", p.display()))?)
        }
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
        use std::io::Seek;
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

/// Docker's CLI and daemon, and every compose command that works here (compose v2's
/// `docker compose` first, then `docker-compose` 1.29); the error names what is missing.
fn docker_and_compose() -> Result<Vec<Vec<String>>, String> {
    match Command::new("docker").arg("--version").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                "no `docker` binary on PATH: install Docker Engine and compose \
                        (Debian: apt-get install docker.io docker-compose)"
                    .into(),
            );
        }
        Err(e) => return Err(format!("cannot run `docker`: {e}")),
        Ok(_) => {}
    }
    let info = run(
        Command::new("docker").arg("info"),
        Duration::from_secs(30),
        None,
    )
    .map_err(|e| format!("`docker info` failed: {e:#}"))?;
    if !info.status.success() {
        return Err(format!(
            "the Docker daemon does not answer (`docker info`: {}): start it (systemctl start \
             docker) or check your access to its socket",
            info.stderr.trim()
        ));
    }
    let candidates: [&[&str]; 2] = [&["docker", "compose"], &["docker-compose"]];
    let working: Vec<Vec<String>> = candidates
        .into_iter()
        .filter(|c| {
            Command::new(c[0])
                .args(&c[1..])
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    if !working.is_empty() {
        return Ok(working);
    }
    Err(
        "neither `docker compose` nor `docker-compose` works: install compose \
         (Debian: apt-get install docker-compose)"
            .into(),
    )
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A compose project of this test; `down -v` when dropped, even when the test fails.
struct Project {
    compose: Vec<String>,
    flavor: Flavor,
    name: String,
    env: Vec<(String, String)>,
    data: PathBuf,
}

impl Project {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.compose[0]);
        c.args(&self.compose[1..])
            .arg("-p")
            .arg(&self.name)
            .arg("-f")
            .arg(repo().join("docker/compose.yaml"))
            .args(self.flavor.profile())
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

    fn up(&self, args: &[&str], limit: Duration) -> Result<()> {
        let mut all = vec!["up", "-d"];
        all.extend_from_slice(args);
        if self.flavor != Flavor::Mit {
            // As docs/docker.md says: naming the services starts them and not the MIT ones.
            all.extend_from_slice(self.flavor.services());
        }
        run(&mut self.cmd(&all), limit, None)?
            .ok("compose up")
            .map(drop)
            .with_context(|| self.logs())?;
        self.wait_healthy(Duration::from_secs(120))
    }

    fn container(&self, service: &str) -> Result<String> {
        let ran = run(
            &mut self.cmd(&["ps", "-q", service]),
            Duration::from_secs(30),
            None,
        )?
        .ok("compose ps")?;
        let id = ran.stdout.trim().to_string();
        ensure!(!id.is_empty(), "compose has no {service} container");
        Ok(id)
    }

    /// Every service healthy: the KDCs answer and PostgreSQL accepts connections.
    fn wait_healthy(&self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        for &service in self.flavor.services() {
            let id = self.container(service)?;
            loop {
                let ran = run(
                    Command::new("docker").args([
                        "inspect",
                        "-f",
                        "{{.State.Status}} {{.State.Health.Status}}",
                        &id,
                    ]),
                    Duration::from_secs(30),
                    None,
                )?
                .ok("docker inspect")?;
                match ran.stdout.trim() {
                    "running healthy" => break,
                    s if s.starts_with("exited") || s.starts_with("dead") => {
                        bail!("the {service} container stopped ({s}):\n{}", self.logs())
                    }
                    s if Instant::now() > deadline => {
                        bail!(
                            "the {service} container is not healthy after {limit:?} ({s}):\n{}",
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
            Ok(r) => eprintln!(
                "docker_realm: compose down of {} failed: {}",
                self.name,
                r.stderr.trim()
            ),
            Err(e) => eprintln!("docker_realm: compose down of {} failed: {e:#}", self.name),
        }
        // PostgreSQL's files belong to the container's postgres account; a test run by a user
        // other than root could not delete them.
        let root = fs::metadata(&self.data)
            .map(|m| m.uid() == 0)
            .unwrap_or(true);
        if !root {
            let _ = run(
                Command::new("docker")
                    .args(["run", "--rm", "--entrypoint", "find", "-v"])
                    .arg(format!("{}:/realm", self.data.display()))
                    .args([
                        self.flavor.kdc_image(),
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

/// Takes down the projects of earlier runs of this test whose process is gone (killed before
/// its guard ran), so that they hold no ports or containers.
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
        let Some(pid) = project[PROJECT_PREFIX.len()..].split('-').next() else {
            continue;
        };
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
        eprintln!("docker_realm: removed the leftovers of an earlier run ({project})");
    }
    Ok(())
}

/// realm.env's `export NAME=VALUE` lines, as `set -a; . realm.env` gives them to a shell.
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

/// A host command with the realm's environment only: no PG* or KRB5* setting of the machine
/// (a PGPASSWORD, the machine's krb5.conf) may leak in.
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

const WHO: &str = "select g.gss_authenticated, g.principal, s.ssl, current_user \
                   from pg_stat_gssapi g join pg_stat_ssl s using (pid) where pid = pg_backend_pid()";

fn psql_as(env: &HashMap<String, String>, user: &str, ccache: &str) -> Result<String> {
    let ran = run(
        host_cmd("psql", env)
            .env("PGUSER", user)
            .env("KRB5CCNAME", ccache)
            .env("PGCONNECT_TIMEOUT", "10")
            .args([
                "gssencmode=disable sslmode=verify-full",
                "-X",
                "-A",
                "-t",
                "-w",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                WHO,
            ]),
        Duration::from_secs(60),
        None,
    )?
    .ok(&format!("psql as {user}"))?;
    Ok(ran.stdout.trim().to_string())
}

/// Docker and the compose commands, or `None` when they are missing and the user asked to
/// skip.
fn docker_or_skip() -> Option<Vec<Vec<String>>> {
    match docker_and_compose() {
        Ok(c) => Some(c),
        Err(why) if std::env::var(SKIP_VAR).as_deref() == Ok("1") => {
            // Straight to stderr: the test harness captures eprintln! of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "\n########## SKIPPED docker_realm: {why} ({SKIP_VAR}=1) ##########\n"
            );
            None
        }
        Err(why) => {
            panic!("{why}\n(on a machine without Docker, set {SKIP_VAR}=1 to skip this test)")
        }
    }
}

#[test]
fn compose_realm_serves_kerberos_logins_to_the_host() {
    let Some(composes) = docker_or_skip() else {
        return;
    };
    // The compose file is for both compose v2 and 1.29: each one installed runs it.
    for compose in composes {
        eprintln!("docker_realm: with `{}`", compose.join(" "));
        if let Err(e) = compose_realm(compose.clone(), Flavor::Mit) {
            panic!("with `{}`: {e:#}", compose.join(" "));
        }
    }
}

#[test]
fn compose_ad_profile_serves_kerberos_logins_from_a_samba_dc_to_the_host() {
    let Some(composes) = docker_or_skip() else {
        return;
    };
    if let Err(e) = compose_realm(composes[0].clone(), Flavor::Ad) {
        panic!("{e:#}");
    }
}

#[test]
fn compose_trust_profile_logs_an_on_premises_user_in_across_the_trust() {
    let Some(composes) = docker_or_skip() else {
        return;
    };
    if let Err(e) = compose_trust(composes[0].clone()) {
        panic!("{e:#}");
    }
}

/// The trust profile as docs/docker.md shows it: dave of ONPREM.EXAMPLE.COM takes a ticket
/// from his realm's KDC, and psql and `aurora-krb check` log in to the database of
/// CORP.EXAMPLE.COM across the trust. Then the on-premises KDC stops while the AWS one
/// answers, and the check says so.
fn compose_trust(compose: Vec<String>) -> Result<()> {
    const PORTS: [&str; 4] = [
        "KDC_HOST_PORT",
        "USER_KDC_HOST_PORT",
        "BRANCH_KDC_HOST_PORT",
        "PG_HOST_PORT",
    ];
    let (_tmp, project, ports) = new_project(compose, Flavor::Trust, &PORTS)?;
    let data = project.data.clone();
    let started = Instant::now();
    project.up(&["--build"], Duration::from_secs(900))?;
    eprintln!(
        "docker_realm (Trust): build and up (provisioning included) took {:.1?}",
        started.elapsed()
    );

    // Every KDC and PostgreSQL on loopback only, each on its own port.
    for (service, setting) in [
        ("kdc-trust", "KDC_HOST_PORT"),
        ("kdc-onprem", "USER_KDC_HOST_PORT"),
        ("kdc-branch", "BRANCH_KDC_HOST_PORT"),
    ] {
        assert_published(&project, service, "88", "tcp", ports[setting])?;
        assert_published(&project, service, "88", "udp", ports[setting])?;
    }
    assert_published(
        &project,
        "postgres-trust",
        "5432",
        "tcp",
        ports["PG_HOST_PORT"],
    )?;

    // realm.env is the on-premises user's; krb5.conf names every realm's KDC as the host
    // reaches it.
    let env = read_env(&data.join("realm.env"))?;
    assert_eq!(env["PGUSER"], "dave@ONPREM.EXAMPLE.COM");
    assert_eq!(env["PGPORT"], ports["PG_HOST_PORT"].to_string());
    let conf = fs::read_to_string(data.join("krb5.conf"))?;
    for (realm, setting) in [
        ("CORP.EXAMPLE.COM", "KDC_HOST_PORT"),
        ("ONPREM.EXAMPLE.COM", "USER_KDC_HOST_PORT"),
        ("BRANCH.EXAMPLE.NET", "BRANCH_KDC_HOST_PORT"),
    ] {
        let want = format!("{realm} = {{\n        kdc = 127.0.0.1:{}\n", ports[setting]);
        ensure!(
            conf.contains(&want),
            "the exported krb5.conf must name {realm}'s KDC at its published port:\n{conf}"
        );
    }

    // dave's password login at his own realm's KDC, then psql across the trust.
    let cc = env["KRB5CCNAME"].clone();
    run(
        host_cmd("kinit", &env).arg("dave@ONPREM.EXAMPLE.COM"),
        Duration::from_secs(30),
        Some(&data.join("secrets/dave.password")),
    )?
    .ok("kinit dave@ONPREM.EXAMPLE.COM")?;
    assert_eq!(
        psql_as(&env, "dave@ONPREM.EXAMPLE.COM", &cc)?,
        "t|dave@ONPREM.EXAMPLE.COM|t|dave@ONPREM.EXAMPLE.COM"
    );

    // The check passes, with the trust path in its report: the cross-realm ticket came from
    // ONPREM's KDC, in AES.
    let (passed, report) = check_json(&env)?;
    let failing = not_passing(&report)?;
    ensure!(
        failing.is_empty() && passed,
        "aurora-krb check against the healthy compose trust realm:\n{}",
        failing.join("\n")
    );
    let trust = report["checks"]
        .as_array()
        .context("checks")?
        .iter()
        .find(|c| c["id"] == "krb5.trust")
        .context("the report of a login across a trust must have krb5.trust")?;
    let summary = trust["summary"].as_str().unwrap_or_default();
    ensure!(
        summary.contains("ONPREM.EXAMPLE.COM → CORP.EXAMPLE.COM directly")
            && summary.contains("krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM obtained")
            && summary.contains("ticket aes256-cts-hmac-sha1-96"),
        "krb5.trust must name the direct trust and the cross-realm ticket's enctype: {summary}"
    );

    // The on-premises KDC stops, the AWS one still answers (dave's tickets were taken
    // before): the check names the user's realm.
    run(
        &mut project.cmd(&["stop", "-t", "5", "kdc-onprem"]),
        Duration::from_secs(60),
        None,
    )?
    .ok("compose stop kdc-onprem")?;
    let (passed, report) = check_json(&env)?;
    let failing = not_passing(&report)?;
    ensure!(
        !passed
            && failing
                .first()
                .is_some_and(|f| f.contains("krb5.kdc") && f.contains("ONPREM.EXAMPLE.COM")),
        "with kdc-onprem stopped, krb5.kdc must fail first, naming ONPREM.EXAMPLE.COM:\n{}",
        failing.join("\n")
    );

    drop(project);
    Ok(())
}

/// Makes the base image when it is missing, and a project of `flavor` with its realm folder in
/// a new temp folder and `ports` (settings named as in compose.yaml) on free host ports, not
/// started yet. The temp folder must outlive the project.
fn new_project(
    compose: Vec<String>,
    flavor: Flavor,
    ports: &[&'static str],
) -> Result<(tempfile::TempDir, Project, HashMap<&'static str, u16>)> {
    remove_stale_projects()?;
    // `docker compose` (v2) and `docker-compose` (1.29) may run one after the other: the
    // project name tells their runs apart.
    let compose_tag = compose.len();

    let started = Instant::now();
    run(
        Command::new("bash").arg(repo().join("docker/make-base-image.sh")),
        Duration::from_secs(1200),
        None,
    )?
    .ok("docker/make-base-image.sh")?;
    eprintln!(
        "docker_realm ({flavor:?}): base image ready after {:.1?}",
        started.elapsed()
    );

    let tmp = tempfile::Builder::new().prefix("akrb-docker-").tempdir()?;
    let data = tmp.path().join("realm-data");
    fs::create_dir(&data)?;
    let mut env = vec![("REALM_DATA".to_string(), data.display().to_string())];
    let mut given = HashMap::new();
    for &name in ports {
        let port = free_port()?;
        given.insert(name, port);
        env.push((name.to_string(), port.to_string()));
    }
    let millis = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let project = Project {
        compose,
        flavor,
        // The tests of this binary run at once, in one process: the flavour tells them apart.
        name: format!(
            "{PROJECT_PREFIX}{}-{millis}-{}-{}",
            std::process::id(),
            format!("{flavor:?}").to_lowercase(),
            compose_tag
        ),
        env,
        data,
    };
    Ok((tmp, project, given))
}

/// Asserts that `service`'s `inner` port is published on the host's 127.0.0.1:`port` only.
fn assert_published(
    project: &Project,
    service: &str,
    inner: &str,
    proto: &str,
    port: u16,
) -> Result<()> {
    let ran = run(
        &mut project.cmd(&["port", "--protocol", proto, service, inner]),
        Duration::from_secs(30),
        None,
    )?
    .ok("compose port")?;
    assert_eq!(
        ran.stdout.trim(),
        format!("127.0.0.1:{port}"),
        "{service} must be published on 127.0.0.1 only"
    );
    Ok(())
}

/// `aurora-krb check --format json` with the realm's environment: whether it exited 0, and
/// its report.
fn check_json(env: &HashMap<String, String>) -> Result<(bool, serde_json::Value)> {
    let check = run(
        host_cmd(env!("CARGO_BIN_EXE_aurora-krb"), env).args([
            "check",
            "--format",
            "json",
            "--timeout",
            "5",
        ]),
        Duration::from_secs(60),
        None,
    )?;
    let report: serde_json::Value = serde_json::from_str(&check.stdout)
        .with_context(|| format!("check --format json: {}{}", check.stdout, check.stderr))?;
    Ok((check.status.success(), report))
}

/// The checks of a report that did not pass, one line each.
fn not_passing(report: &serde_json::Value) -> Result<Vec<String>> {
    Ok(report["checks"]
        .as_array()
        .context("checks")?
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| {
            format!(
                "{} {}: {} / {}",
                c["id"], c["status"], c["summary"], c["cause"]
            )
        })
        .collect())
}

fn compose_realm(compose: Vec<String>, flavor: Flavor) -> Result<()> {
    let (tmp, project, ports) = new_project(compose, flavor, &["KDC_HOST_PORT", "PG_HOST_PORT"])?;
    let data = project.data.clone();
    let (kdc_port, pg_port) = (ports["KDC_HOST_PORT"], ports["PG_HOST_PORT"]);

    let started = Instant::now();
    project.up(&["--build"], Duration::from_secs(900))?;
    eprintln!(
        "docker_realm ({flavor:?}): build and up (provisioning included) took {:.1?}",
        started.elapsed()
    );

    // Published on loopback only (the KDC on UDP as well).
    let services = flavor.services();
    let (kdc_service, pg_service) = (services[0], services[services.len() - 1]);
    assert_published(&project, kdc_service, "88", "tcp", kdc_port)?;
    assert_published(&project, kdc_service, "88", "udp", kdc_port)?;
    assert_published(&project, pg_service, "5432", "tcp", pg_port)?;

    // What the host gets: a sourceable env naming host paths and the published ports.
    let env = read_env(&data.join("realm.env"))?;
    let krb5_conf = data.join("krb5.conf");
    assert_eq!(env["KRB5_CONFIG"], krb5_conf.display().to_string());
    assert_eq!(
        env["PGSSLROOTCERT"],
        data.join("ca.crt").display().to_string()
    );
    assert_eq!(env["PGHOSTADDR"], "127.0.0.1");
    assert_eq!(env["PGPORT"], pg_port.to_string());
    assert_eq!(env["PGUSER"], "alice@CORP.EXAMPLE.COM");
    let conf = fs::read_to_string(&krb5_conf)?;
    assert!(
        conf.contains(&format!("kdc = 127.0.0.1:{kdc_port}")),
        "the exported krb5.conf must name the KDC as the host reaches it:\n{conf}"
    );

    // alice: a password login with kinit, then psql with verified TLS and GSSAPI.
    let password = data.join("secrets/alice.password");
    let alice_cc = env["KRB5CCNAME"].clone();
    let kinit = run(
        host_cmd("kinit", &env).arg("alice"),
        Duration::from_secs(30),
        Some(&password),
    )?
    .ok("kinit alice")?;
    assert_eq!(
        psql_as(&env, "alice@CORP.EXAMPLE.COM", &alice_cc)?,
        "t|alice@CORP.EXAMPLE.COM|t|alice@CORP.EXAMPLE.COM"
    );
    // The healthy compose realm passes `aurora-krb check` with no warning.
    let (passed, report) = check_json(&env)?;
    let failing = not_passing(&report)?;
    ensure!(
        failing.is_empty() && passed,
        "aurora-krb check against the healthy compose realm ({flavor:?}):\n{}",
        failing.join("\n")
    );
    if flavor == Flavor::Ad {
        ad_is_active_directory(&env, &kinit, tmp.path(), &password)?;
    }

    // app-svc: the exported client keytab works on the host.
    let app_cc = format!("FILE:{}", tmp.path().join("app-svc.ccache").display());
    run(
        host_cmd("kinit", &env)
            .env("KRB5CCNAME", &app_cc)
            .arg("-k")
            .arg("-t")
            .arg(data.join("app-svc.keytab"))
            .arg("app-svc"),
        Duration::from_secs(30),
        None,
    )?
    .ok("kinit -kt app-svc.keytab app-svc")?;
    assert_eq!(
        psql_as(&env, "app-svc@CORP.EXAMPLE.COM", &app_cc)?,
        "t|app-svc@CORP.EXAMPLE.COM|t|app-svc@CORP.EXAMPLE.COM"
    );

    // `up` again on the same folder: nothing is provisioned anew. The ticket from before still
    // works (same KDC and service keys) and alice's password is the same. The new containers
    // may have other addresses: the DC moves to its new one.
    let password_before = fs::read_to_string(&password)?;
    run(
        &mut project.cmd(&["down", "-t", "10"]),
        Duration::from_secs(120),
        None,
    )?
    .ok("compose down")?;
    let started = Instant::now();
    project.up(&[], Duration::from_secs(300))?;
    eprintln!(
        "docker_realm ({flavor:?}): up on a provisioned folder took {:.1?}",
        started.elapsed()
    );
    assert_eq!(
        fs::read_to_string(&password)?,
        password_before,
        "a second up must not provision anew"
    );
    assert_eq!(
        psql_as(&env, "alice@CORP.EXAMPLE.COM", &alice_cc)?,
        "t|alice@CORP.EXAMPLE.COM|t|alice@CORP.EXAMPLE.COM"
    );
    run(
        host_cmd("kinit", &env).arg("alice"),
        Duration::from_secs(30),
        Some(&password),
    )?
    .ok("kinit alice after restart")?;
    if flavor == Flavor::Ad {
        ad_keeps_to_its_container(&project)?;
    }

    drop(project);
    Ok(())
}

/// What only Active Directory does, seen from the host: kinit hears of the password's expiry,
/// and user names match in any case (an MIT KDC refuses `Alice`).
fn ad_is_active_directory(
    env: &HashMap<String, String>,
    kinit: &Ran,
    tmp: &Path,
    password: &Path,
) -> Result<()> {
    let said = format!("{}{}", kinit.stdout, kinit.stderr);
    ensure!(
        said.contains("password will expire"),
        "kinit alice against the DC must print AD's password expiry warning; it said: {said}"
    );
    let cc = format!("FILE:{}", tmp.join("Alice.ccache").display());
    run(
        host_cmd("kinit", env).env("KRB5CCNAME", &cc).arg("Alice"),
        Duration::from_secs(30),
        Some(password),
    )?
    .ok("kinit Alice (AD matches user names in any case)")?;
    Ok(())
}

/// The DC binds its container's own address only, and its DNS forwards nothing: a name outside
/// its zone gets NXDOMAIN at once (a forwarder would answer something else, or time out), while
/// its own name resolves to its current address.
fn ad_keeps_to_its_container(project: &Project) -> Result<()> {
    let id = project.container("dc")?;
    let addr = run(
        Command::new("docker").args([
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &id,
        ]),
        Duration::from_secs(30),
        None,
    )?
    .ok("docker inspect")?
    .stdout
    .trim()
    .to_string();
    ensure!(!addr.is_empty(), "the dc container has no address");

    let ss = run(
        Command::new("docker").args(["exec", &id, "ss", "-Hlntup"]),
        Duration::from_secs(30),
        None,
    )?
    .ok("ss in the dc container")?;
    // Docker's own DNS also listens in the container (127.0.0.11), in no process of it.
    let samba: Vec<&str> = ss
        .stdout
        .lines()
        .filter(|l| l.contains("users:(("))
        .collect();
    let local = |l: &str| l.split_whitespace().nth(4).unwrap_or("").to_string();
    ensure!(
        samba.iter().any(|l| local(l) == format!("{addr}:88")),
        "the DC must listen on {addr}:88:\n{}",
        ss.stdout
    );
    for l in &samba {
        ensure!(
            local(l).starts_with(&format!("{addr}:")),
            "every socket of the DC must be on the container's address {addr}: {l}"
        );
    }

    let asked = run(
        Command::new("docker").args(["exec", &id, "python3", "-c", DNS_QUERY, &addr]),
        Duration::from_secs(30),
        None,
    )?
    .ok("DNS queries to the DC")?;
    assert_eq!(
        asked.stdout.trim(),
        format!("dc1.corp.example.com rcode=0 {addr}\noutside.aurora-krb.invalid rcode=3"),
        "the DC's DNS must answer its own name with its address and NXDOMAIN for the rest"
    );
    Ok(())
}

/// A DNS client for the dc container's Python (it has no dig): asks the server argv[1] for two
/// A records and prints each answer's rcode and first address.
const DNS_QUERY: &str = r#"
import socket, struct, sys
for name in ("dc1.corp.example.com", "outside.aurora-krb.invalid"):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + q, (sys.argv[1], 53))
    d = s.recv(4096)
    line = "%s rcode=%d" % (name, d[3] & 15)
    i = 12 + len(q)
    if struct.unpack(">H", d[6:8])[0] and struct.unpack(">H", d[i + 2:i + 4])[0] == 1:
        line += " " + socket.inet_ntoa(d[i + 12:i + 16])
    print(line)
"#;
