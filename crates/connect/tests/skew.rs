//! Clock skew: this test re-runs its own binary with the clock 10 minutes ahead
//! (libfaketime, Debian's `faketime` package) and checks the error kind the login reports.
//! It has its own `main` (harness = false) because the child must be a whole process.
use aurora_krb_connect::{Config, Connector, ErrorKind};
use aurora_krb_realm::{Realm, RealmOptions};
use std::path::Path;
use std::process::Command;

const CHILD: &str = "AURORA_KRB_SKEW_CHILD_CONFIG";

fn child(conninfo: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config: Config = conninfo.parse().unwrap();
    match rt.block_on(Connector::new(config).unwrap().connect()) {
        Ok(_) => println!("KIND=none"),
        Err(e) => {
            println!("KIND={:?}", e.kind());
            println!("FIX={}", e.fix());
        }
    }
}

fn main() {
    if let Ok(conninfo) = std::env::var(CHILD) {
        return child(&conninfo);
    }
    let lib = Path::new("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1");
    assert!(
        lib.exists(),
        "{} is missing: install Debian's faketime package",
        lib.display()
    );
    let realm = Realm::start_temp(RealmOptions::default()).expect("start the test realm");
    let cc = realm.dir().join("alice.ccache");
    realm.kinit("alice", &cc).unwrap();
    let conninfo = format!(
        "host={} hostaddr=127.0.0.1 port={} dbname=postgres sslrootcert={} user={}",
        realm.db_host(),
        realm.pg_port(),
        realm.ca_file().display(),
        realm.principal("alice"),
    );
    let run = |cache: &Path, skew: Option<&str>| {
        let conninfo = format!("{conninfo} ccache=FILE:{}", cache.display());
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.env(CHILD, &conninfo)
            .env("KRB5_CONFIG", realm.krb5_conf())
            .env_remove("KRB5CCNAME");
        if let Some(s) = skew {
            cmd.env("LD_PRELOAD", lib).env("FAKETIME", s);
        }
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let want = format!("KIND={:?}", ErrorKind::ClockSkew);
    // With a true clock the cache logs in (and now holds the service ticket).
    let ok = run(&cc, None);
    assert!(ok.contains("KIND=none"), "{ok}");
    // Clock 10 minutes ahead: the server refuses the authenticator...
    let out = run(&cc, Some("+600s"));
    assert!(
        out.contains(&want),
        "service ticket cached, clock ahead: {out}"
    );
    // ...and without a cached service ticket the KDC refuses the request.
    let fresh = realm.dir().join("fresh.ccache");
    realm.kinit("alice", &fresh).unwrap();
    let out = run(&fresh, Some("+600s"));
    assert!(out.contains(&want), "fresh cache, clock ahead: {out}");
    assert!(out.contains("clock"), "{out}");
    println!("skew: 1 passed, 0 failed");
}
