//! A server that accepts the ticket and refuses the principal for the role: a `pg_ident.conf`
//! map without the pair, `krb_realm` naming another realm, the same name under a map, and
//! a name in another letter case. PostgreSQL sends the client only "GSSAPI authentication
//! failed" for all of them and logs the reason; the error must name the server's settings
//! that do this, and keep Aurora's letter-case explanation for the case it fits.
//!
//! One test function: it rewrites the realm's pg_hba.conf and pg_ident.conf.
mod common;

use aurora_krb_connect::{Config, ErrorKind};
use common::*;
use std::time::{Duration, Instant};

/// alice's cache, logging in as `role`, with GSS encryption `gssencmode`.
fn as_role(env: &Env, role: &str, gssencmode: &str) -> Config {
    let mut c = alice_config(env);
    c.set("user", role).unwrap();
    c.set("gssencmode", gssencmode).unwrap();
    c
}

/// Waits until the server's log holds `line` (the backend logs after the client is told).
async fn logged(env: &Env, line: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = std::fs::read_to_string(env.realm.pg_log()).unwrap_or_default();
        if log.contains(line) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_after_the_ticket_name_the_server_setting() {
    let env = env();
    let realm = &env.realm;
    let r = realm.realm();
    let alice = realm.principal("alice");
    for sql in [
        "CREATE ROLE alice LOGIN",
        "CREATE ROLE mapped LOGIN",
        format!("CREATE ROLE \"Alice@{r}\" LOGIN IN ROLE rds_ad").as_str(),
    ] {
        realm.admin_sql(sql).unwrap();
    }
    // Lines ahead of the realm's own: `host` takes TLS and GSS-encrypted connections alike.
    let hba = realm.admin_sql("SHOW hba_file").unwrap();
    let hba = hba.trim();
    let ident = realm.admin_sql("SHOW ident_file").unwrap();
    let ident = ident.trim();
    let ours = format!(
        "host all alice all gss include_realm=0 krb_realm=OTHER.EXAMPLE.COM\n\
         host all mapped all gss map=testmap\n\
         host all \"{alice}\" all gss map=testmap\n"
    );
    let text = std::fs::read_to_string(hba).unwrap();
    std::fs::write(hba, format!("{ours}{text}")).unwrap();
    std::fs::write(ident, format!("testmap bob@{r} mapped\n")).unwrap();
    realm.admin_sql("SELECT pg_reload_conf()").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    for mode in ["disable", "require"] {
        // A map without the pair: the server logs it, the error names the map.
        let e = login_error(as_role(env, "mapped", mode)).await;
        assert_eq!(e.kind(), ErrorKind::RoleMismatch, "{mode}: {e}");
        assert_eq!(e.principal(), Some(alice.as_str()));
        assert!(e.cause().contains("no match in usermap"), "{}", e.cause());
        assert!(e.fix().contains("pg_ident.conf"), "{}", e.fix());
        assert!(!e.fix().contains("kinit -C"), "{}", e.fix());
        assert!(
            logged(
                env,
                &format!("no match in usermap \"testmap\" for user \"mapped\" authenticated as \"{alice}\"")
            )
            .await
        );

        // krb_realm names another realm, the realm stripped (include_realm=0).
        let e = login_error(as_role(env, "alice", mode)).await;
        assert_eq!(e.kind(), ErrorKind::RoleMismatch, "{mode}: {e}");
        assert!(e.cause().contains("include_realm=0"), "{}", e.cause());
        assert!(e.fix().contains(&format!("krb_realm={r}")), "{}", e.fix());
        assert!(!e.cause().contains("case"), "{}", e.cause());

        // The role of the principal's own name, under a map without it: not the keytab.
        let e = login_error(as_role(env, &alice, mode)).await;
        assert_eq!(e.kind(), ErrorKind::RoleMismatch, "{mode}: {e}");
        assert!(!e.cause().contains("keytab"), "{}", e.cause());
        assert!(e.cause().contains("map="), "{}", e.cause());
        assert!(
            logged(
                env,
                &format!("no match in usermap \"testmap\" for user \"{alice}\" authenticated as \"{alice}\"")
            )
            .await
        );

        // The letter case (Aurora's common case): its explanation and fix stay.
        let typed = format!("Alice@{r}");
        let e = login_error(as_role(env, &typed, mode)).await;
        assert_eq!(e.kind(), ErrorKind::RoleMismatch, "{mode}: {e}");
        assert!(e.cause().contains("case"), "{}", e.cause());
        assert!(e.fix().contains("krb_caseins_users"), "{}", e.fix());
        assert!(
            logged(
                env,
                &format!("provided user name ({typed}) and authenticated user name ({alice}) do not match")
            )
            .await
        );
    }

    // What reaches the client is the same sentence each time: the reasons are in the log.
    let log = std::fs::read_to_string(realm.pg_log()).unwrap();
    assert!(log.contains("GSSAPI authentication failed for user \"mapped\""));
    assert!(
        !log.contains("configured realm"),
        "krb_realm's refusal is logged at DEBUG2 only"
    );
}
