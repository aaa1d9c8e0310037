//! A realm with readers, proven with libpq (psql) and MIT's kinit: a writer and hot standbys
//! streaming from it, each instance logged in to by its own name, and Aurora's failover.
use std::path::{Path, PathBuf};
use std::process::Command;

use aurora_krb_realm::{Instance, Realm, RealmOptions, Role};

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("the command runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

/// psql as alice (ticket in `cc`) with this connection string.
fn psql(realm: &Realm, cc: &Path, conninfo: &str, sql: &str) -> (bool, String, String) {
    run(realm
        .command("psql")
        .env("KRB5CCNAME", format!("FILE:{}", cc.display()))
        .env("PGCONNECT_TIMEOUT", "10")
        .args(["-X", "-w", "-At", "-F", "|"])
        .arg(conninfo)
        .arg("-c")
        .arg(sql))
}

const WHO: &str = "select inet_server_port(), pg_is_in_recovery(), \
                   (select gss_authenticated from pg_stat_gssapi where pid = pg_backend_pid())";

fn alice(realm: &Realm) -> PathBuf {
    let cc = realm.dir().join("alice.ccache");
    realm.kinit("alice", &cc).unwrap();
    cc
}

#[test]
fn every_instance_logs_in_by_its_own_name_and_readers_stream_from_the_writer() {
    let realm = Realm::start_temp(RealmOptions::default().replicas(2)).unwrap();
    realm.start_postgres().unwrap();
    let cc = alice(&realm);
    let instances = realm.instances().unwrap();
    assert_eq!(instances.len(), 3);
    assert_eq!(realm.replicas(), 2);
    assert_eq!(instances[0].host, "db-instance-1.example.test");
    assert_eq!(instances[0].role, Role::Writer);
    assert!(instances[1..].iter().all(|i| i.role == Role::Reader));
    assert!(instances.iter().all(|i| i.running));
    for i in &instances {
        let (ok, out, err) = psql(&realm, &cc, &realm.instance_conninfo("alice", i), WHO);
        assert!(ok, "psql at {}: {err}", i.host);
        let standby = if i.role == Role::Writer { "f" } else { "t" };
        assert_eq!(out, format!("{}|{standby}|t", i.port), "{}", i.host);
    }
    // A write on the writer reaches every reader.
    realm
        .admin_sql_on(
            &instances[0],
            "create table marks(n int); insert into marks values (7)",
        )
        .unwrap();
    for r in &instances[1..] {
        let seen = (0..100).any(|_| {
            let n = realm
                .admin_sql_on(r, "select count(*) from marks")
                .unwrap_or_default();
            n == "1" || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                false
            }
        });
        assert!(seen, "reader {} never saw the write", r.host);
    }
    // A reader refuses writes, as an Aurora reader does.
    let e = realm
        .admin_sql_on(&instances[1], "insert into marks values (8)")
        .unwrap_err();
    assert!(e.to_string().contains("read-only transaction"), "{e}");
    // realm.env: the instances as libpq lists, writer first.
    let env: std::collections::HashMap<String, String> = realm.env().unwrap().into_iter().collect();
    assert_eq!(
        env["PGHOST"],
        "db-instance-1.example.test,db-instance-2.example.test,db-instance-3.example.test"
    );
    assert_eq!(env["PGHOSTADDR"], "127.0.0.1,127.0.0.1,127.0.0.1");
    let ports: Vec<String> = instances.iter().map(|i| i.port.to_string()).collect();
    assert_eq!(env["PGPORT"], ports.join(","));
}

#[test]
fn failover_promotes_a_reader_and_the_old_writer_comes_back_as_its_reader() {
    let realm = Realm::start_temp(RealmOptions::default().replicas(2)).unwrap();
    realm.start_postgres().unwrap();
    let cc = alice(&realm);
    let before = realm.writer().unwrap();
    realm
        .admin_sql_on(
            &before,
            "create table marks(n int); insert into marks values (1)",
        )
        .unwrap();
    let new = realm.failover().unwrap();
    assert_ne!(new.number, before.number);
    assert_eq!(new.number, 2, "the first running reader is promoted");
    let instances = realm.instances().unwrap();
    assert!(instances.iter().all(|i| i.running), "{instances:?}");
    let old = instances
        .iter()
        .find(|i| i.number == before.number)
        .unwrap();
    assert_eq!(old.role, Role::Reader);
    // libpq sees the new roles.
    let (ok, out, err) = psql(&realm, &cc, &realm.instance_conninfo("alice", &new), WHO);
    assert!(ok, "{err}");
    assert_eq!(out, format!("{}|f|t", new.port));
    let (ok, out, err) = psql(&realm, &cc, &realm.instance_conninfo("alice", old), WHO);
    assert!(ok, "{err}");
    assert_eq!(out, format!("{}|t|t", old.port));
    // The new writer takes writes, and every reader (the old writer too) follows it.
    realm
        .admin_sql_on(&new, "insert into marks values (2)")
        .unwrap();
    for r in realm.readers().unwrap() {
        let seen = (0..100).any(|_| {
            let n = realm
                .admin_sql_on(&r, "select count(*) from marks")
                .unwrap_or_default();
            n == "2" || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                false
            }
        });
        assert!(seen, "reader {} does not follow the new writer", r.host);
    }
    // realm.env now lists the new writer first.
    let env: std::collections::HashMap<String, String> = realm.env().unwrap().into_iter().collect();
    assert!(
        env["PGHOST"].starts_with(&format!("{},", new.host)),
        "{}",
        env["PGHOST"]
    );
    // And back: a second failover to a chosen reader works on the rewound instance.
    let again = realm.failover_to(before.number).unwrap();
    assert_eq!(again.number, before.number);
    realm
        .admin_sql_on(&again, "insert into marks values (3)")
        .unwrap();
    assert_eq!(
        realm
            .admin_sql_on(&again, "select count(*) from marks")
            .unwrap(),
        "3"
    );
    // libpq finds the writer at the end of the list.
    let mut list = realm.instances().unwrap();
    list.sort_by_key(|i| i.role == Role::Writer);
    let (ok, out, err) = psql(
        &realm,
        &cc,
        &format!(
            "{} target_session_attrs=read-write",
            realm.hosts_conninfo("alice", &list)
        ),
        "select inet_server_port()",
    );
    assert!(ok, "{err}");
    assert_eq!(out, again.port.to_string());
}

#[test]
fn replicas_are_refused_for_the_flavours_that_lack_them() {
    let mut options = RealmOptions::default().replicas(1);
    options.flavor = aurora_krb_realm::Flavor::Trust;
    let e = Realm::start_temp(options).unwrap_err();
    assert!(
        e.to_string().contains("only the MIT and AD flavours"),
        "{e}"
    );
    // A realm without readers has one instance: the database host.
    let realm = Realm::start_temp(RealmOptions::default()).unwrap();
    let only: Vec<Instance> = realm.instances().unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].host, realm.db_host());
    assert_eq!(only[0].port, realm.pg_port());
    assert!(realm.failover().is_err());
}
