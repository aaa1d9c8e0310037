//! Every verdict on recorded facts, written by hand: no realm, no server.

use super::facts::{
    AuthFacts, Connected, HostFacts, HostState, LoggedIn, Outcome, Query, RefusedCert, Registered,
    Reported, RoleFacts, RoleRow, ServerKind, StepError, TargetFacts, TcpFacts, Ticket,
    TicketFacts, TlsFacts,
};
use super::{candidates, unverified, verdict};
use crate::HostRole;
use crate::{CheckId, CheckResult, Status};
use aurora_krb_connect::config::{HostTarget, TargetSessionAttrs};
use aurora_krb_connect::{Config, Connector, ErrorKind, PeerCertificate, SslMode, TlsInfo};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(3);
const HOST: &str = "db.example.test";
const ALICE: &str = "alice@CORP.EXAMPLE.COM";

/// A connect-crate error as the facts record it; its cause and fix are marked so a test can
/// tell the library's words from the check's own.
fn err(kind: ErrorKind, detail: &str) -> StepError {
    StepError {
        kind,
        krb5_code: None,
        setting: None,
        sqlstate: None,
        principal: None,
        cause: format!("library cause of {kind:?}"),
        fix: format!("library fix of {kind:?}"),
        detail: detail.to_string(),
    }
}

fn detail<'a>(r: &'a CheckResult, key: &str) -> &'a serde_json::Value {
    r.details
        .get(key)
        .unwrap_or_else(|| panic!("no detail {key} in {r:#?}"))
}

fn cause(r: &CheckResult) -> &str {
    r.cause.as_deref().unwrap_or_default()
}

fn fix(r: &CheckResult) -> &str {
    r.fix.as_deref().unwrap_or_default()
}

/// The library's cause, fix and words carried over unchanged, under the error's kind.
fn assert_library_error(r: &CheckResult, kind: ErrorKind, detail_text: &str) {
    assert_eq!(r.status, Status::Fail, "{r:#?}");
    assert!(!r.usable);
    assert_eq!(cause(r), format!("library cause of {kind:?}"));
    assert_eq!(fix(r), format!("library fix of {kind:?}"));
    assert_eq!(detail(r, "error_kind"), &json!(format!("{kind:?}")));
    assert_eq!(detail(r, "library_says"), &json!(detail_text));
}

// ---- server.tcp ----

fn tcp(outcome: Outcome<Connected>) -> CheckResult {
    verdict::tcp(&TcpFacts {
        limit: LIMIT,
        outcome,
    })
}

#[test]
fn tcp_connected_passes_and_names_the_peer() {
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5432);
    let r = tcp(Outcome::Done(Connected {
        peer,
        elapsed: Duration::from_micros(2500),
    }));
    assert_eq!(r.id, CheckId::ServerTcp);
    assert_eq!(r.status, Status::Pass);
    assert_eq!(r.summary, "connected to 127.0.0.1:5432 in 2.5 ms");
    assert_eq!(detail(&r, "peer"), "127.0.0.1:5432");
    assert!(r.cause.is_none() && r.fix.is_none());
}

#[test]
fn tcp_refused_gives_the_librarys_cause_and_fix() {
    let r = tcp(Outcome::Failed(err(
        ErrorKind::ServerUnreachable,
        "127.0.0.1:5432: Connection refused (os error 111)",
    )));
    assert_eq!(r.summary, "cannot connect to the server");
    assert_library_error(
        &r,
        ErrorKind::ServerUnreachable,
        "127.0.0.1:5432: Connection refused (os error 111)",
    );
}

#[test]
fn tcp_unresolvable_host_keeps_the_resolvers_words() {
    let words = "the host name does not resolve: failed to lookup address information";
    let r = tcp(Outcome::Failed(err(ErrorKind::ServerUnreachable, words)));
    assert_eq!(r.summary, "cannot connect to the server");
    assert_library_error(&r, ErrorKind::ServerUnreachable, words);
}

#[test]
fn tcp_timeout_of_the_step_is_the_librarys_timeout() {
    let r = tcp(Outcome::Failed(err(
        ErrorKind::Timeout,
        "resolving the host name took longer than 3s",
    )));
    assert_eq!(r.summary, "cannot connect to the server");
    assert_library_error(
        &r,
        ErrorKind::Timeout,
        "resolving the host name took longer than 3s",
    );
}

#[test]
fn tcp_outliving_the_checks_bound_says_so() {
    let r = tcp(Outcome::TimedOut);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.summary, "connecting timed out");
    assert_eq!(cause(&r), "connecting took longer than 3 s");
    assert_eq!(fix(&r), "check the network path, or raise --timeout");
    assert!(r.details.is_empty());
}

#[test]
fn tls_is_skipped_without_tcp() {
    let r = verdict::tls_without_tcp();
    assert_eq!(r.id, CheckId::ServerTls);
    assert_eq!(r.status, Status::Skip);
    assert_eq!(r.summary, "skipped: server.tcp failed");
    assert!(!r.usable);
}

// ---- server.tls ----

fn realm_cert() -> PeerCertificate {
    PeerCertificate {
        subject: format!("CN={HOST}"),
        alt_names: vec![HOST.to_string()],
        issuer: "CN=Realm CA".to_string(),
        not_after: "Jan  1 00:00:00 2030 GMT".to_string(),
    }
}

fn tls_facts(sslmode: SslMode, outcome: Outcome<Option<TlsInfo>>) -> TlsFacts {
    TlsFacts {
        limit: LIMIT,
        sslmode,
        ca_file: Some(PathBuf::from("/etc/ssl/realm-ca.pem")),
        tls_host: HOST.to_string(),
        host: Some(HOST.to_string()),
        hostaddr: None,
        port: 5432,
        outcome,
        refused: None,
    }
}

fn negotiated(mode: SslMode) -> Outcome<Option<TlsInfo>> {
    Outcome::Done(Some(TlsInfo {
        verified_name: HOST.to_string(),
        mode,
        peer: Some(realm_cert()),
        protocol: None,
    }))
}

/// A certificate refused by the TLS step, and what the second look at it found.
fn refused(sslmode: SslMode, peer: PeerCertificate, ca_subjects: &[&str]) -> TlsFacts {
    let mut f = tls_facts(
        sslmode,
        Outcome::Failed(err(
            ErrorKind::Tls,
            "error:0A000086:SSL routines::certificate verify failed",
        )),
    );
    f.refused = Some(RefusedCert {
        peer,
        ca_subjects: Some(Ok(ca_subjects.iter().map(|s| s.to_string()).collect())),
    });
    f
}

#[test]
fn tls_verified_passes_with_the_certificate() {
    let r = verdict::tls(&tls_facts(
        SslMode::VerifyFull,
        negotiated(SslMode::VerifyFull),
    ));
    assert_eq!(r.id, CheckId::ServerTls);
    assert_eq!(r.status, Status::Pass);
    assert_eq!(r.summary, "certificate verified for db.example.test");
    assert_eq!(detail(&r, "sslmode"), "verify-full");
    assert_eq!(detail(&r, "ca"), "/etc/ssl/realm-ca.pem");
    assert_eq!(detail(&r, "subject"), "CN=db.example.test");
    assert_eq!(detail(&r, "alt_names"), &json!([HOST]));
    assert_eq!(detail(&r, "issuer"), "CN=Realm CA");
    assert_eq!(detail(&r, "not_after"), "Jan  1 00:00:00 2030 GMT");
    assert!(
        !r.details.contains_key("protocol"),
        "native-tls does not say"
    );
}

#[test]
fn tls_verified_with_the_system_store_and_a_known_protocol() {
    let mut f = tls_facts(SslMode::VerifyFull, negotiated(SslMode::VerifyFull));
    f.ca_file = None;
    if let Outcome::Done(Some(info)) = &mut f.outcome {
        info.protocol = Some("TLSv1.3".into());
        info.peer = None;
    }
    let r = verdict::tls(&f);
    assert_eq!(r.status, Status::Pass);
    assert_eq!(detail(&r, "ca"), "system trust store");
    assert_eq!(detail(&r, "protocol"), "TLSv1.3");
    assert!(
        !r.details.contains_key("subject"),
        "no certificate, no subject"
    );
}

#[test]
fn tls_verify_ca_warns_that_the_login_can_be_relayed() {
    let r = verdict::tls(&tls_facts(SslMode::VerifyCa, negotiated(SslMode::VerifyCa)));
    assert_eq!(r.status, Status::Warn);
    assert!(r.usable, "the login still runs");
    assert_eq!(
        r.summary,
        "certificate chain verified, host name not checked (sslmode=verify-ca)"
    );
    assert!(cause(&r).contains("relay the login"), "{r:?}");
    assert!(fix(&r).contains("sslmode=verify-full"), "{r:?}");
    assert_eq!(detail(&r, "sslmode"), "verify-ca");
}

#[test]
fn tls_unverified_modes_warn_but_stay_usable() {
    for mode in [SslMode::Require, SslMode::Prefer] {
        let r = verdict::tls(&tls_facts(mode, negotiated(mode)));
        assert_eq!(r.status, Status::Warn, "{mode:?}");
        assert!(r.usable, "{mode:?}: the login still runs");
        assert_eq!(
            r.summary,
            format!(
                "encrypted, certificate not verified (sslmode={})",
                mode.as_str()
            )
        );
        assert!(cause(&r).contains("not bound to the TLS channel"), "{r:?}");
        assert!(fix(&r).contains("gssencmode=require"), "{r:?}");
        assert!(fix(&r).contains("sslmode=verify-full"));
        assert_eq!(detail(&r, "sslmode"), mode.as_str());
    }
}

#[test]
fn tls_the_mode_in_force_is_reported_not_the_one_asked_for() {
    // sslmode=require with a CA file verifies the CA, as in libpq.
    let r = verdict::tls(&tls_facts(SslMode::Require, negotiated(SslMode::VerifyCa)));
    assert_eq!(r.status, Status::Warn);
    assert!(r.summary.contains("sslmode=verify-ca"), "{r:?}");
    assert_eq!(detail(&r, "sslmode"), "verify-ca");
}

#[test]
fn server_without_tls_warns_under_each_sslmode() {
    for mode in [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ] {
        let r = verdict::tls(&tls_facts(mode, Outcome::Done(None)));
        assert_eq!(r.status, Status::Warn, "{mode:?}");
        assert!(r.usable, "{mode:?}");
        assert_eq!(r.summary, format!("no TLS (sslmode={})", mode.as_str()));
        assert!(cause(&r).contains("clear text"), "{mode:?}");
        assert_eq!(
            fix(&r),
            "use sslmode=verify-full with sslrootcert= set to the RDS CA bundle"
        );
        assert_eq!(detail(&r, "sslmode"), mode.as_str());
    }
}

#[test]
fn tls_wrong_ca_names_the_issuer_and_the_ca_files_subjects() {
    let f = refused(
        SslMode::VerifyFull,
        realm_cert(),
        &["CN=Other CA", "CN=Second CA"],
    );
    let r = verdict::tls(&f);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(
        r.summary,
        "the server's certificate is not signed by the given CA"
    );
    assert!(
        cause(&r).contains(
            "issued by CN=Realm CA but the CA file /etc/ssl/realm-ca.pem holds CN=Other CA; \
             CN=Second CA: wrong CA bundle"
        ),
        "{}",
        cause(&r)
    );
    assert!(fix(&r).starts_with("set sslrootcert= to the CA bundle"));
    assert_eq!(detail(&r, "ca_subjects"), "CN=Other CA; CN=Second CA");
    assert_eq!(detail(&r, "issuer"), "CN=Realm CA");
    assert_eq!(
        detail(&r, "library_says"),
        "error:0A000086:SSL routines::certificate verify failed"
    );
}

#[test]
fn tls_wrong_ca_is_told_before_a_wrong_name() {
    let mut other = realm_cert();
    other.alt_names = vec!["other.example.test".into()];
    let r = verdict::tls(&refused(SslMode::VerifyFull, other, &["CN=Other CA"]));
    assert_eq!(
        r.summary,
        "the server's certificate is not signed by the given CA"
    );
}

#[test]
fn tls_wrong_name_names_the_certificates_names() {
    let mut other = realm_cert();
    other.subject = "CN=other.example.test".into();
    other.alt_names = vec!["other.example.test".into(), "10.0.0.5".into()];
    let r = verdict::tls(&refused(SslMode::VerifyFull, other, &["CN=Realm CA"]));
    assert_eq!(r.status, Status::Fail);
    assert_eq!(
        r.summary,
        "the certificate is not issued for db.example.test"
    );
    assert!(
        cause(&r).contains(
            "the server's certificate names other.example.test, 10.0.0.5 but not \
             db.example.test"
        ),
        "{}",
        cause(&r)
    );
    assert!(fix(&r).contains("krbsrvhost="));
    assert!(fix(&r).contains("sslhost="));
    assert_eq!(
        detail(&r, "alt_names"),
        &json!(["other.example.test", "10.0.0.5"])
    );
    assert!(
        detail(&r, "library_says")
            .as_str()
            .unwrap()
            .contains("verify")
    );
}

#[test]
fn tls_wrong_name_without_alt_names_names_the_subject() {
    let mut other = realm_cert();
    other.subject = "CN=other.example.test, O=Example".into();
    other.alt_names = Vec::new();
    let r = verdict::tls(&refused(SslMode::VerifyFull, other, &["CN=Realm CA"]));
    assert_eq!(
        r.summary,
        "the certificate is not issued for db.example.test"
    );
    assert!(
        cause(&r).contains("names CN=other.example.test, O=Example but not db.example.test"),
        "{}",
        cause(&r)
    );
}

#[test]
fn tls_a_matching_subject_or_wildcard_is_not_a_wrong_name() {
    let mut by_subject = realm_cert();
    by_subject.alt_names = Vec::new();
    let mut wildcard = realm_cert();
    wildcard.alt_names = vec!["*.example.test".into()];
    for cert in [by_subject, wildcard] {
        let r = verdict::tls(&refused(
            SslMode::VerifyFull,
            cert.clone(),
            &["CN=Realm CA"],
        ));
        // Neither the issuer nor the name explains it: the library's words stand, with
        // the certificate as evidence.
        assert_eq!(r.summary, "TLS failed", "{cert:?}");
        assert_library_error(
            &r,
            ErrorKind::Tls,
            "error:0A000086:SSL routines::certificate verify failed",
        );
        assert_eq!(detail(&r, "subject"), &json!(cert.subject));
        assert_eq!(detail(&r, "issuer"), "CN=Realm CA");
        assert_eq!(detail(&r, "not_after"), "Jan  1 00:00:00 2030 GMT");
    }
}

#[test]
fn tls_a_wrong_name_under_verify_ca_is_not_the_cause() {
    let mut other = realm_cert();
    other.alt_names = vec!["other.example.test".into()];
    let r = verdict::tls(&refused(SslMode::VerifyCa, other, &["CN=Realm CA"]));
    assert_eq!(r.summary, "TLS failed");
    assert_eq!(detail(&r, "error_kind"), "Tls");
}

#[test]
fn tls_an_unusable_ca_file_is_not_taken_for_a_wrong_ca() {
    let mut f = refused(SslMode::VerifyFull, realm_cert(), &[]);
    f.refused.as_mut().unwrap().ca_subjects =
        Some(Err("/etc/ssl/realm-ca.pem is not PEM: no start line".into()));
    let r = verdict::tls(&f);
    assert_eq!(r.summary, "TLS failed");
    assert_library_error(
        &r,
        ErrorKind::Tls,
        "error:0A000086:SSL routines::certificate verify failed",
    );
    assert!(!r.details.contains_key("ca_subjects"));

    // The name is still checked.
    let mut other = realm_cert();
    other.alt_names = vec!["other.example.test".into()];
    f.refused.as_mut().unwrap().peer = other;
    let r = verdict::tls(&f);
    assert_eq!(
        r.summary,
        "the certificate is not issued for db.example.test"
    );
}

#[test]
fn tls_with_the_system_store_names_it() {
    let mut other = realm_cert();
    other.issuer = "CN=Private CA".into();
    let mut f = refused(SslMode::VerifyFull, other, &[]);
    f.ca_file = None;
    f.refused.as_mut().unwrap().ca_subjects = None;
    let r = verdict::tls(&f);
    // Without a CA file nothing says which CAs were trusted: the library's words stand.
    assert_eq!(r.summary, "TLS failed");
    assert_eq!(detail(&r, "issuer"), "CN=Private CA");
}

#[test]
fn tls_refused_without_a_second_look_keeps_the_librarys_words() {
    let mut f = refused(SslMode::VerifyFull, realm_cert(), &["CN=Other CA"]);
    f.refused = None;
    let r = verdict::tls(&f);
    assert_eq!(r.summary, "TLS failed");
    assert_library_error(
        &r,
        ErrorKind::Tls,
        "error:0A000086:SSL routines::certificate verify failed",
    );
    assert!(!r.details.contains_key("issuer"));
}

#[test]
fn tls_other_failures_are_not_explained_by_the_certificate() {
    // A protocol failure, even with a certificate at hand, is not about the certificate.
    let mut f = refused(SslMode::VerifyFull, realm_cert(), &["CN=Other CA"]);
    f.outcome = Outcome::Failed(err(ErrorKind::Protocol, "unexpected byte 'X'"));
    let r = verdict::tls(&f);
    assert_eq!(r.summary, "TLS failed");
    assert_library_error(&r, ErrorKind::Protocol, "unexpected byte 'X'");
    assert!(!r.details.contains_key("issuer"));
}

#[test]
fn tls_no_answer_names_the_address_asked() {
    let mut f = tls_facts(
        SslMode::VerifyFull,
        Outcome::Failed(err(
            ErrorKind::Timeout,
            "TLS negotiation took longer than 3s",
        )),
    );
    let r = verdict::tls(&f);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.summary, "no answer to the TLS request within 3 s");
    assert!(
        cause(&r).starts_with(
            "the server at db.example.test port 5432 accepted the TCP connection but did not \
             answer the TLS request (SSLRequest) within 3 s"
        ),
        "{}",
        cause(&r)
    );
    assert!(fix(&r).contains("port 5432"));
    assert_eq!(
        detail(&r, "library_says"),
        "TLS negotiation took longer than 3s"
    );
    assert!(!r.details.contains_key("error_kind"));

    // hostaddr is where the connection went.
    f.hostaddr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)));
    f.port = 6432;
    let r = verdict::tls(&f);
    assert!(
        cause(&r).starts_with("the server at 10.0.0.5 port 6432 accepted"),
        "{}",
        cause(&r)
    );
}

#[test]
fn tls_outliving_the_checks_bound_says_so() {
    let r = verdict::tls(&tls_facts(SslMode::VerifyFull, Outcome::TimedOut));
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.summary, "the TLS handshake timed out");
    assert_eq!(cause(&r), "the TLS handshake took longer than 3 s");
}

#[test]
fn the_second_look_at_a_refused_certificate_verifies_nothing() {
    for ca in [
        "sslrootcert=/etc/ssl/realm-ca.pem",
        "sslrootcert=system",
        "",
    ] {
        let c = Config::parse(&format!("host={HOST} sslmode=verify-full {ca}")).unwrap();
        let look = unverified(&c).expect("the settings of the second look");
        // A CA file would make sslmode=require verify the CA, and refuse a certificate of
        // another CA again.
        assert_eq!(look.get_effective_ssl_mode(), SslMode::Require, "{ca}");
        assert_eq!(look.get_ssl_root_cert(), None, "{ca}");
        assert!(Connector::new(look).is_ok(), "{ca}");
    }
}

// ---- krb5.service-ticket ----

fn ticket_facts(outcome: Outcome<Ticket>) -> TicketFacts {
    TicketFacts {
        limit: LIMIT,
        service_principal: format!("postgres/{HOST}"),
        service_realm: Some("CORP.EXAMPLE.COM".into()),
        krbsrvname: "postgres".into(),
        krb_host: HOST.into(),
        user: Some(ALICE.into()),
        outcome,
        registered: Vec::new(),
    }
}

fn unknown_principal() -> Outcome<Ticket> {
    Outcome::Failed(err(
        ErrorKind::ServicePrincipalUnknown,
        "Server not found in Kerberos database",
    ))
}

fn registered(service: &str, host: &str) -> Registered {
    Registered {
        service: service.into(),
        host: host.into(),
        realm: "CORP.EXAMPLE.COM".into(),
    }
}

#[test]
fn ticket_obtained_passes_with_both_principals() {
    let r = verdict::service_ticket(&ticket_facts(Outcome::Done(Ticket {
        token_len: 1234,
        client_principal: ALICE.into(),
    })));
    assert_eq!(r.id, CheckId::Krb5ServiceTicket);
    assert_eq!(r.status, Status::Pass);
    assert_eq!(
        r.summary,
        "ticket for postgres/db.example.test@CORP.EXAMPLE.COM (1234 byte AP-REQ)"
    );
    assert_eq!(
        detail(&r, "service_principal"),
        "postgres/db.example.test@CORP.EXAMPLE.COM"
    );
    assert_eq!(detail(&r, "client_principal"), ALICE);
}

#[test]
fn ticket_for_a_host_without_a_realm_shows_a_question_mark() {
    let mut f = ticket_facts(Outcome::Done(Ticket {
        token_len: 1,
        client_principal: ALICE.into(),
    }));
    f.service_realm = None;
    let r = verdict::service_ticket(&f);
    assert_eq!(
        r.summary,
        "ticket for postgres/db.example.test@? (1 byte AP-REQ)"
    );
}

#[test]
fn unknown_principal_without_alternatives_gives_the_librarys_fix() {
    let mut f = ticket_facts(unknown_principal());
    f.krb_host = "127.0.0.1".into();
    f.service_principal = "postgres/127.0.0.1".into();
    let r = verdict::service_ticket(&f);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(
        r.summary,
        "the KDC does not know postgres/127.0.0.1@CORP.EXAMPLE.COM"
    );
    assert!(
        cause(&r).starts_with(
            "the KDC has no service principal postgres/127.0.0.1@CORP.EXAMPLE.COM: the host \
             name used for Kerberos is not the one the database is registered under"
        ),
        "{}",
        cause(&r)
    );
    assert_eq!(fix(&r), "library fix of ServicePrincipalUnknown");
    assert_eq!(
        detail(&r, "asked_for"),
        "postgres/127.0.0.1@CORP.EXAMPLE.COM"
    );
    assert_eq!(detail(&r, "asked_host"), "127.0.0.1");
    assert_eq!(detail(&r, "registered"), &json!([]));
    assert_eq!(
        detail(&r, "library_says"),
        "Server not found in Kerberos database"
    );
}

#[test]
fn unknown_principal_under_another_service_name_says_which() {
    let mut f = ticket_facts(unknown_principal());
    f.krbsrvname = "POSTGRES".into();
    f.service_principal = format!("POSTGRES/{HOST}");
    f.registered = vec![registered("postgres", HOST)];
    let r = verdict::service_ticket(&f);
    assert!(
        cause(&r).ends_with(
            "POSTGRES/db.example.test@CORP.EXAMPLE.COM: the database is registered as \
             postgres/db.example.test@CORP.EXAMPLE.COM"
        ),
        "{}",
        cause(&r)
    );
    assert_eq!(
        fix(&r),
        "connect with krbsrvname=postgres (the principal the KDC knows); keep host/hostaddr \
         for the network"
    );
    assert_eq!(
        detail(&r, "registered"),
        &json!(["postgres/db.example.test@CORP.EXAMPLE.COM"])
    );
}

#[test]
fn unknown_principal_under_another_host_name_says_which() {
    let mut f = ticket_facts(unknown_principal());
    f.krb_host = "127.0.0.1".into();
    f.service_principal = "postgres/127.0.0.1".into();
    f.registered = vec![
        registered("postgres", HOST),
        registered("POSTGRES", "db.corp.example.com"),
    ];
    let r = verdict::service_ticket(&f);
    assert!(
        cause(&r).ends_with(
            "registered as postgres/db.example.test@CORP.EXAMPLE.COM and \
             POSTGRES/db.corp.example.com@CORP.EXAMPLE.COM"
        ),
        "{}",
        cause(&r)
    );
    // The first found is the one to use.
    assert_eq!(
        fix(&r),
        "connect with krbsrvhost=db.example.test (the principal the KDC knows); keep \
         host/hostaddr for the network"
    );
}

#[test]
fn unknown_principal_under_both_other_names_gives_both_settings() {
    let mut f = ticket_facts(unknown_principal());
    f.krb_host = "127.0.0.1".into();
    f.registered = vec![registered("POSTGRES", HOST)];
    let r = verdict::service_ticket(&f);
    assert!(
        fix(&r).starts_with("connect with krbsrvname=POSTGRES krbsrvhost=db.example.test "),
        "{}",
        fix(&r)
    );
}

#[test]
fn account_refused_names_the_account_and_the_directory_fix() {
    let mut f = ticket_facts(Outcome::Failed(err(
        ErrorKind::AccountRefused,
        "KDC policy rejects request",
    )));
    let r = verdict::service_ticket(&f);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(
        r.summary,
        "the KDC refuses tickets to alice@CORP.EXAMPLE.COM"
    );
    assert!(
        cause(&r).starts_with(
            "the KDC refused the ticket for postgres/db.example.test@CORP.EXAMPLE.COM by \
             policy (KDC policy rejects request): the account of alice@CORP.EXAMPLE.COM is \
             disabled"
        ),
        "{}",
        cause(&r)
    );
    assert!(cause(&r).contains("ticket-granting ticket still looks valid"));
    assert!(fix(&r).contains("Unlock-ADAccount"));
    assert!(fix(&r).ends_with("then run kinit again"));
    assert_eq!(
        detail(&r, "asked_for"),
        "postgres/db.example.test@CORP.EXAMPLE.COM"
    );
    assert_eq!(detail(&r, "library_says"), "KDC policy rejects request");
    assert!(!r.details.contains_key("error_kind"));

    f.user = None;
    let r = verdict::service_ticket(&f);
    assert_eq!(r.summary, "the KDC refuses tickets to the client principal");
}

#[test]
fn other_ticket_failures_give_the_librarys_cause() {
    for (kind, words) in [
        (ErrorKind::ClockSkew, "Clock skew too great"),
        (ErrorKind::KdcUnreachable, "Cannot contact any KDC"),
        (ErrorKind::WrongRealm, "Cannot find KDC for realm"),
        (ErrorKind::Timeout, "Kerberos took longer than 3s"),
    ] {
        let r = verdict::service_ticket(&ticket_facts(Outcome::Failed(err(kind, words))));
        assert_eq!(
            r.summary, "no ticket for postgres/db.example.test@CORP.EXAMPLE.COM",
            "{kind:?}"
        );
        assert_library_error(&r, kind, words);
        assert_eq!(
            detail(&r, "asked_for"),
            "postgres/db.example.test@CORP.EXAMPLE.COM"
        );
    }
}

#[test]
fn ticket_outliving_the_checks_bound_says_so() {
    let r = verdict::service_ticket(&ticket_facts(Outcome::TimedOut));
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.summary, "getting the service ticket timed out");
    assert_eq!(cause(&r), "getting the service ticket took longer than 3 s");
}

#[test]
fn alternatives_are_the_other_service_spellings_and_the_certificates_names() {
    let names = vec![HOST.to_string(), "*.example.test".to_string()];
    let got = candidates("postgres", "127.0.0.1", &names);
    let pairs: Vec<(&str, &str)> = got.iter().map(|(s, h)| (s.as_str(), h.as_str())).collect();
    assert_eq!(
        pairs,
        [
            ("postgres", HOST),
            ("POSTGRES", "127.0.0.1"),
            ("POSTGRES", HOST),
        ],
        "the principal asked for, wildcards and repeats are not tried"
    );
}

#[test]
fn alternatives_are_at_most_six_and_skip_an_empty_host() {
    let names: Vec<String> = (1..=5).map(|i| format!("db{i}.example.test")).collect();
    let got = candidates("pg", "", &names);
    assert_eq!(got.len(), 6);
    assert!(got.iter().all(|(_, h)| !h.is_empty()));
    assert_eq!(got[0], ("pg".to_string(), "db1.example.test".to_string()));
}

// ---- server.auth ----

fn auth(outcome: Outcome<LoggedIn>) -> (CheckResult, Option<CheckResult>) {
    verdict::auth(&AuthFacts {
        limit: LIMIT,
        user: "bob@CORP.EXAMPLE.COM".into(),
        outcome,
    })
}

fn assert_role_skipped(role: Option<CheckResult>) {
    let role = role.expect("server.role is decided");
    assert_eq!(role.id, CheckId::ServerRole);
    assert_eq!(role.status, Status::Skip);
    assert_eq!(role.summary, "skipped: server.auth failed");
}

#[test]
fn auth_mutual_passes_with_its_flags_and_leaves_the_role_to_the_query() {
    let (r, role) = auth(Outcome::Done(LoggedIn {
        principal: ALICE.into(),
        role: ALICE.into(),
        flags: vec!["MUTUAL".into(), "INTEG".into()],
        mutual: true,
    }));
    assert_eq!(r.id, CheckId::ServerAuth);
    assert_eq!(r.status, Status::Pass);
    assert_eq!(
        r.summary,
        "logged in as alice@CORP.EXAMPLE.COM with Kerberos, server proved its identity \
         (flags MUTUAL INTEG)"
    );
    assert_eq!(detail(&r, "principal"), ALICE);
    assert_eq!(detail(&r, "role"), ALICE);
    assert_eq!(detail(&r, "flags"), &json!(["MUTUAL", "INTEG"]));
    assert_eq!(detail(&r, "mutual"), &json!(true));
    assert!(role.is_none());
}

#[test]
fn password_requested_fails_the_role_not_the_login() {
    let (r, role) = auth(Outcome::Failed(err(
        ErrorKind::PasswordRequested,
        "server requested MD5 password",
    )));
    assert_eq!(r.status, Status::Skip);
    assert_eq!(
        r.summary,
        "skipped: the server did not offer Kerberos to this role (see server.role)"
    );
    let role = role.expect("server.role is decided");
    assert_eq!(role.id, CheckId::ServerRole);
    assert_eq!(role.status, Status::Fail);
    assert_eq!(
        role.summary,
        "bob@CORP.EXAMPLE.COM is not offered Kerberos (missing role or not in rds_ad)"
    );
    assert!(
        cause(&role).starts_with(
            "the server asked for a password instead of Kerberos for the role \
             bob@CORP.EXAMPLE.COM: the role does not exist, or it is not granted rds_ad"
        ),
        "{}",
        cause(&role)
    );
    assert!(cause(&role).contains("fe_sendauth: no password supplied"));
    assert!(fix(&role).starts_with(
        "as an rds_superuser: CREATE ROLE \"bob@CORP.EXAMPLE.COM\" LOGIN; GRANT rds_ad TO \
         \"bob@CORP.EXAMPLE.COM\";"
    ));
    assert_eq!(detail(&role, "role"), "bob@CORP.EXAMPLE.COM");
    assert_eq!(
        detail(&role, "library_says"),
        "server requested MD5 password"
    );
}

#[test]
fn missing_role_says_so_with_the_servers_words() {
    let (r, role) = auth(Outcome::Failed(err(
        ErrorKind::RoleMissing,
        "role \"bob@CORP.EXAMPLE.COM\" does not exist",
    )));
    assert_eq!(r.status, Status::Skip);
    let role = role.expect("server.role is decided");
    assert_eq!(role.status, Status::Fail);
    assert_eq!(role.summary, "no role bob@CORP.EXAMPLE.COM");
    assert_eq!(
        cause(&role),
        "the database has no role bob@CORP.EXAMPLE.COM (role \"bob@CORP.EXAMPLE.COM\" does \
         not exist)"
    );
    assert!(fix(&role).contains("CREATE ROLE \"bob@CORP.EXAMPLE.COM\" LOGIN"));
}

#[test]
fn server_not_authenticated_fails_the_login() {
    let (r, role) = auth(Outcome::Failed(err(
        ErrorKind::ServerNotAuthenticated,
        "no mutual authentication",
    )));
    assert_eq!(r.summary, "the server refused the Kerberos login");
    assert_library_error(
        &r,
        ErrorKind::ServerNotAuthenticated,
        "no mutual authentication",
    );
    assert!(!r.details.contains_key("server_says"));
    assert_role_skipped(role);
}

#[test]
fn role_mismatch_fails_the_login() {
    let mut e = err(
        ErrorKind::RoleMismatch,
        "provided user name (Bob@CORP.EXAMPLE.COM) and authenticated user name \
         (bob@CORP.EXAMPLE.COM) do not match",
    );
    e.principal = Some("bob@CORP.EXAMPLE.COM".into());
    let words = e.detail.clone();
    let (r, role) = auth(Outcome::Failed(e));
    assert_eq!(r.summary, "the server refused the Kerberos login");
    assert_library_error(&r, ErrorKind::RoleMismatch, &words);
    assert_role_skipped(role);
}

#[test]
fn server_gss_failure_shows_what_the_server_says() {
    let words = "accepting GSS security context failed: Wrong principal in request";
    let (r, role) = auth(Outcome::Failed(err(ErrorKind::ServerGss, words)));
    assert_eq!(r.summary, "the server refused the Kerberos login");
    assert_library_error(&r, ErrorKind::ServerGss, words);
    assert_eq!(detail(&r, "server_says"), words);
    assert_role_skipped(role);
}

#[test]
fn auth_timeouts_fail_the_login() {
    let (r, role) = auth(Outcome::TimedOut);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.summary, "the Kerberos exchange with the server timed out");
    assert_eq!(
        cause(&r),
        "the Kerberos exchange with the server took longer than 3 s"
    );
    assert_role_skipped(role);

    let (r, role) = auth(Outcome::Failed(err(
        ErrorKind::Timeout,
        "authentication took longer than 3s",
    )));
    assert_eq!(r.summary, "the server refused the Kerberos login");
    assert_library_error(&r, ErrorKind::Timeout, "authentication took longer than 3s");
    assert_role_skipped(role);
}

// ---- server.role ----

fn row(current: &str, member_of: &str) -> RoleRow {
    RoleRow {
        current_user: current.into(),
        member_of: member_of.into(),
        has_rds_ad_role: true,
        krb_caseins_users: String::new(),
        pg_stat_gssapi: format!("true,{ALICE},false"),
        pg_stat_ssl: "TLSv1.3 TLS_AES_256_GCM_SHA384".into(),
        in_recovery: Some(false),
        transaction_read_only: Some(false),
    }
}

fn role(principal: &str, outcome: Outcome<Query>) -> CheckResult {
    verdict::role(&RoleFacts {
        limit: LIMIT,
        user: ALICE.into(),
        principal: principal.into(),
        outcome,
        reported: Reported::default(),
    })
}

fn role_row(principal: &str, row: RoleRow) -> CheckResult {
    role(principal, Outcome::Done(Query::Row(row)))
}

#[test]
fn rds_ad_member_passes_with_the_sessions_evidence() {
    let r = role_row(ALICE, row(ALICE, "rds_ad"));
    assert_eq!(r.id, CheckId::ServerRole);
    assert_eq!(r.status, Status::Pass);
    assert_eq!(r.summary, "role alice@CORP.EXAMPLE.COM, member of rds_ad");
    assert_eq!(detail(&r, "current_user"), ALICE);
    assert_eq!(detail(&r, "member_of"), &json!(["rds_ad"]));
    assert_eq!(
        detail(&r, "krb_caseins_users"),
        "(not an Aurora parameter here)"
    );
    assert_eq!(
        detail(&r, "pg_stat_gssapi"),
        "true,alice@CORP.EXAMPLE.COM,false"
    );
    assert_eq!(detail(&r, "pg_stat_ssl"), "TLSv1.3 TLS_AES_256_GCM_SHA384");
}

#[test]
fn without_an_rds_ad_role_a_plain_role_passes() {
    // A PostgreSQL that is not Aurora has no rds_ad: membership is not asked for.
    let mut plain = row(ALICE, "");
    plain.has_rds_ad_role = false;
    plain.pg_stat_ssl = String::new();
    plain.krb_caseins_users = "off".into();
    let r = role_row(ALICE, plain);
    assert_eq!(r.status, Status::Pass);
    assert_eq!(r.summary, "role alice@CORP.EXAMPLE.COM");
    assert_eq!(detail(&r, "member_of"), &json!([]));
    assert_eq!(detail(&r, "pg_stat_ssl"), "no TLS");
    assert_eq!(detail(&r, "krb_caseins_users"), "off");
}

#[test]
fn rds_iam_membership_warns_to_revoke_it() {
    let r = role_row(ALICE, row(ALICE, "rds_ad,rds_iam"));
    assert_eq!(r.status, Status::Warn);
    assert!(r.usable, "the login worked");
    assert_eq!(
        r.summary,
        "alice@CORP.EXAMPLE.COM is in rds_iam as well as rds_ad"
    );
    assert!(cause(&r).contains("IAM authentication wins"));
    assert_eq!(fix(&r), "REVOKE rds_iam FROM \"alice@CORP.EXAMPLE.COM\";");
    assert_eq!(detail(&r, "member_of"), &json!(["rds_ad", "rds_iam"]));
}

#[test]
fn rds_iam_is_told_before_a_case_difference() {
    let r = role_row("ALICE@CORP.EXAMPLE.COM", row(ALICE, "rds_iam"));
    assert_eq!(
        r.summary,
        "alice@CORP.EXAMPLE.COM is in rds_iam as well as rds_ad"
    );
}

#[test]
fn not_in_rds_ad_warns_to_grant_it() {
    let r = role_row(ALICE, row(ALICE, ""));
    assert_eq!(r.status, Status::Warn);
    assert!(r.usable);
    assert_eq!(
        r.summary,
        "alice@CORP.EXAMPLE.COM is not a member of rds_ad"
    );
    assert!(cause(&r).contains("offers Kerberos only to rds_ad members"));
    assert_eq!(fix(&r), "GRANT rds_ad TO \"alice@CORP.EXAMPLE.COM\";");
}

#[test]
fn a_role_differing_from_the_principal_in_case_warns() {
    let mut r = row(ALICE, "rds_ad");
    r.krb_caseins_users = "on".into();
    let r = role_row("Alice@CORP.EXAMPLE.COM", r);
    assert_eq!(r.status, Status::Warn);
    assert!(r.usable);
    assert_eq!(
        r.summary,
        "role alice@CORP.EXAMPLE.COM differs from the principal Alice@CORP.EXAMPLE.COM in case"
    );
    assert!(cause(&r).contains("krb_caseins_users = on"));
    assert!(fix(&r).contains("cluster parameter group"));
    assert_eq!(detail(&r, "krb_caseins_users"), "on");
}

#[test]
fn a_role_of_another_name_is_not_a_case_difference() {
    let r = role_row("bob@CORP.EXAMPLE.COM", row(ALICE, "rds_ad"));
    assert_eq!(r.status, Status::Pass);
}

#[test]
fn a_refused_session_fails_with_the_librarys_cause() {
    let mut e = err(ErrorKind::Server, "database \"app\" does not exist");
    e.sqlstate = Some("3D000".into());
    let r = role(ALICE, Outcome::Failed(e));
    assert_eq!(
        r.summary,
        "the server refused the session of alice@CORP.EXAMPLE.COM"
    );
    assert_library_error(&r, ErrorKind::Server, "database \"app\" does not exist");
}

#[test]
fn role_timeouts_name_the_step() {
    let r = role(ALICE, Outcome::TimedOut);
    assert_eq!(r.summary, "reading the session start timed out");
    let r = role(ALICE, Outcome::Done(Query::TimedOut));
    assert_eq!(r.summary, "the role query timed out");
    assert_eq!(cause(&r), "the role query took longer than 3 s");
}

#[test]
fn a_failed_role_query_quotes_the_server() {
    let r = role(
        ALICE,
        Outcome::Done(Query::Failed(
            "db error: ERROR: permission denied for view pg_stat_gssapi".into(),
        )),
    );
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.summary, "the role query failed");
    assert_eq!(
        cause(&r),
        "logged in, but the role query failed: db error: ERROR: permission denied for view \
         pg_stat_gssapi"
    );
    assert_eq!(fix(&r), "check the server log");
}

// ---- recording ----

#[test]
fn an_unusable_ca_file_is_recorded_with_its_setting() {
    let config = Config::parse(&format!(
        "host={HOST} sslmode=verify-full sslrootcert=/nonexistent/realm-ca.pem"
    ))
    .unwrap();
    let Err(e) = Connector::new(config) else {
        panic!("a CA file that does not exist is accepted")
    };
    let f = StepError::from(&e);
    assert_eq!(f.kind, e.kind());
    assert_eq!(f.setting, Some("sslrootcert"));
    assert_eq!(f.cause, e.cause());
    assert_eq!(f.fix, e.fix());
    assert_eq!(f.detail, e.detail());
    assert!(
        f.detail.contains("/nonexistent/realm-ca.pem"),
        "{}",
        f.detail
    );
}

#[tokio::test]
async fn a_refused_dial_is_recorded_and_judged() {
    // A port nobody listens on: bind one, then close it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // hostaddr is dialed: the host name is only for Kerberos, and never looked up.
    let config = Config::parse(&format!(
        "host={HOST} hostaddr=127.0.0.1 port={port} sslmode=disable"
    ))
    .unwrap();
    let connector = Connector::new(config).unwrap();
    let (facts, dialed) = super::dial(&connector, LIMIT).await;
    assert!(dialed.is_none());
    let Outcome::Failed(e) = &facts.outcome else {
        panic!("{facts:?}")
    };
    assert_eq!(e.kind, ErrorKind::ServerUnreachable);
    assert!(
        e.detail.contains(&format!("127.0.0.1:{port}")),
        "{}",
        e.detail
    );
    let r = verdict::tcp(&facts);
    assert_eq!(r.summary, "cannot connect to the server");
    assert_eq!(detail(&r, "error_kind"), "ServerUnreachable");
}

// ---- server.target and the host summary ----

const WRITER: ServerKind = ServerKind {
    hot_standby: Some(false),
    read_only: Some(false),
};
const READER: ServerKind = ServerKind {
    hot_standby: Some(true),
    read_only: Some(true),
};

fn host(name: &str, port: u16, state: HostState) -> HostFacts {
    HostFacts {
        target: HostTarget {
            host: Some(name.into()),
            hostaddr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port,
        },
        state,
    }
}

fn writer() -> HostFacts {
    host("db-1.example.test", 5431, HostState::Session(WRITER))
}
fn reader(n: u16) -> HostFacts {
    host(
        &format!("db-{n}.example.test"),
        5430 + n,
        HostState::Session(READER),
    )
}
fn down() -> HostFacts {
    host(
        "db-9.example.test",
        5999,
        HostState::Unreachable("127.0.0.1:5999: Connection refused (os error 111)".into()),
    )
}

fn target(
    attrs: TargetSessionAttrs,
    hosts: Vec<HostFacts>,
) -> (CheckResult, Vec<crate::HostSummary>) {
    verdict::target(&TargetFacts {
        attrs,
        random: false,
        hosts,
    })
}

#[test]
fn read_write_is_met_by_the_writer_wherever_it_is_in_the_list() {
    let (r, hosts) = target(
        TargetSessionAttrs::ReadWrite,
        vec![reader(2), down(), writer(), reader(3)],
    );
    assert_eq!(r.id, CheckId::ServerTarget);
    assert_eq!(r.status, Status::Pass, "{r:#?}");
    assert_eq!(
        r.summary,
        "target_session_attrs=read-write: met by db-1.example.test (127.0.0.1) port 5431 (writer)"
    );
    let roles: Vec<HostRole> = hosts.iter().map(|h| h.role).collect();
    assert_eq!(
        roles,
        [
            HostRole::Reader,
            HostRole::Unreachable,
            HostRole::Writer,
            HostRole::Reader
        ]
    );
    let meets: Vec<bool> = hosts.iter().map(|h| h.meets_target_session_attrs).collect();
    assert_eq!(meets, [false, false, true, false]);
    let chosen: Vec<bool> = hosts.iter().map(|h| h.chosen).collect();
    assert_eq!(chosen, [false, false, true, false]);
    assert_eq!(hosts[1].host, "db-9.example.test");
    assert_eq!(hosts[1].hostaddr.as_deref(), Some("127.0.0.1"));
    assert_eq!(hosts[1].read_only, None);
    assert_eq!(hosts[0].read_only, Some(true));
}

#[test]
fn read_only_and_standby_take_the_first_reader_any_takes_the_first_host() {
    for attrs in [TargetSessionAttrs::ReadOnly, TargetSessionAttrs::Standby] {
        let (r, hosts) = target(attrs, vec![writer(), reader(2), reader(3)]);
        assert_eq!(r.status, Status::Pass);
        assert!(
            r.summary.contains("met by db-2.example.test"),
            "{}",
            r.summary
        );
        assert!(hosts[1].chosen && !hosts[2].chosen);
        assert_eq!(
            hosts
                .iter()
                .map(|h| h.meets_target_session_attrs)
                .collect::<Vec<_>>(),
            [false, true, true]
        );
    }
    let (r, hosts) = target(TargetSessionAttrs::Any, vec![down(), reader(2), writer()]);
    assert_eq!(r.status, Status::Pass);
    assert_eq!(
        r.summary,
        "target_session_attrs=any: logins go to db-2.example.test (127.0.0.1) port 5432 \
         (reader), the first host that accepts the login"
    );
    assert!(hosts[1].chosen);
}

#[test]
fn a_primary_with_read_only_sessions_is_a_writer_but_not_read_write() {
    // libpq: read-write also needs default_transaction_read_only off; primary does not.
    let ro_primary = host(
        "db-1.example.test",
        5432,
        HostState::Session(ServerKind {
            hot_standby: Some(false),
            read_only: Some(true),
        }),
    );
    let (rw, hosts) = target(TargetSessionAttrs::ReadWrite, vec![ro_primary.clone()]);
    assert_eq!(rw.status, Status::Fail);
    assert_eq!(hosts[0].role, HostRole::Writer);
    assert!(
        cause(&rw).contains("default_transaction_read_only=on"),
        "{}",
        cause(&rw)
    );
    let (p, _) = target(TargetSessionAttrs::Primary, vec![ro_primary.clone()]);
    assert_eq!(p.status, Status::Pass);
    let (ro, _) = target(TargetSessionAttrs::ReadOnly, vec![ro_primary]);
    assert_eq!(ro.status, Status::Pass);
}

#[test]
fn read_write_with_only_readers_fails_naming_every_host() {
    let (r, hosts) = target(
        TargetSessionAttrs::ReadWrite,
        vec![reader(2), reader(3), down()],
    );
    assert_eq!(r.status, Status::Fail);
    assert!(!r.usable);
    assert_eq!(
        r.summary,
        "no host is read-write (target_session_attrs=read-write)"
    );
    let c = cause(&r);
    for words in [
        "db-2.example.test (127.0.0.1) port 5432: a reader (hot standby)",
        "db-3.example.test (127.0.0.1) port 5433: a reader (hot standby)",
        "db-9.example.test (127.0.0.1) port 5999: unreachable (127.0.0.1:5999: Connection refused",
        "of the 3 hosts none is",
    ] {
        assert!(c.contains(words), "{words} in {c}");
    }
    assert!(fix(&r).contains("writer"), "{}", fix(&r));
    assert!(
        hosts
            .iter()
            .all(|h| !h.chosen && !h.meets_target_session_attrs)
    );
    assert_eq!(detail(&r, "chosen"), &serde_json::Value::Null);
}

#[test]
fn prefer_standby_falls_back_to_the_writer_with_a_warning() {
    let (r, hosts) = target(TargetSessionAttrs::PreferStandby, vec![writer(), down()]);
    assert_eq!(r.status, Status::Warn);
    assert!(r.summary.contains("no standby answered"), "{}", r.summary);
    assert!(hosts[0].chosen);
    let (r, hosts) = target(TargetSessionAttrs::PreferStandby, vec![writer(), reader(2)]);
    assert_eq!(r.status, Status::Pass);
    assert!(hosts[1].chosen && !hosts[0].chosen);
    assert!(
        hosts[0].meets_target_session_attrs,
        "prefer-standby accepts any"
    );
}

#[test]
fn a_host_without_a_session_is_unknown_and_never_chosen() {
    let refused = host(
        "db-1.example.test",
        5432,
        HostState::NoSession("server.auth failed: the server refused the Kerberos login".into()),
    );
    let (r, hosts) = target(TargetSessionAttrs::Any, vec![refused, reader(2)]);
    assert_eq!(hosts[0].role, HostRole::Unknown);
    assert!(!hosts[0].chosen && hosts[1].chosen);
    assert_eq!(r.status, Status::Pass);
    // Role not readable: not counted as meeting read-write.
    let blind = host(
        "db-1.example.test",
        5432,
        HostState::Session(ServerKind::default()),
    );
    let (r, hosts) = target(TargetSessionAttrs::ReadWrite, vec![blind]);
    assert_eq!(r.status, Status::Fail);
    assert_eq!(hosts[0].role, HostRole::Unknown);
    assert!(cause(&r).contains("could not be read"), "{}", cause(&r));
}

#[test]
fn load_balancing_chooses_no_host_and_names_every_suitable_one() {
    let (r, hosts) = verdict::target(&TargetFacts {
        attrs: TargetSessionAttrs::ReadOnly,
        random: true,
        hosts: vec![writer(), reader(2), reader(3)],
    });
    assert_eq!(r.status, Status::Pass);
    assert!(r.summary.contains("at random"), "{}", r.summary);
    assert!(hosts.iter().all(|h| !h.chosen));
    assert_eq!(detail(&r, "suitable").as_array().unwrap().len(), 2);
}

#[test]
fn an_unneeded_unreachable_host_warns_and_still_blocks_its_own_checks() {
    let failed = tcp(Outcome::Failed(err(
        ErrorKind::ServerUnreachable,
        "127.0.0.1:5999: Connection refused (os error 111)",
    )))
    .at("db-9.example.test", 5999);
    let r = verdict::unneeded_unreachable(
        failed,
        "target_session_attrs=read-write",
        "db-1.example.test (127.0.0.1) port 5432",
    );
    assert_eq!(r.status, Status::Warn);
    assert!(!r.usable, "the host's TLS and login still wait for TCP");
    assert!(
        r.summary.ends_with(
            "(not needed now: target_session_attrs=read-write is met by db-1.example.test \
             (127.0.0.1) port 5432)"
        ),
        "{}",
        r.summary
    );
    assert!(cause(&r).starts_with("library cause of ServerUnreachable"));
    assert!(cause(&r).contains("Logins still work"));
    assert_eq!(fix(&r), "library fix of ServerUnreachable");
    assert_eq!(r.host.as_deref(), Some("db-9.example.test"));
    assert_eq!(r.port, Some(5999));
    assert_eq!(
        detail(&r, "library_says"),
        "127.0.0.1:5999: Connection refused (os error 111)"
    );
    // A passing check is left alone.
    let ok = CheckResult::pass(CheckId::ServerTcp, "connected");
    assert_eq!(
        verdict::unneeded_unreachable(ok, "x", "y").status,
        Status::Pass
    );
}

#[test]
fn the_server_kind_is_decided_as_libpq_decides() {
    let facts = |reported: Reported, row: Option<RoleRow>| RoleFacts {
        limit: LIMIT,
        user: ALICE.into(),
        principal: ALICE.into(),
        outcome: Outcome::Done(match row {
            Some(r) => Query::Row(r),
            None => Query::Failed("permission denied".into()),
        }),
        reported,
    };
    // PostgreSQL 14+: the reported settings decide, whatever the query says.
    let pg14 = Reported {
        in_hot_standby: Some(true),
        default_transaction_read_only: Some(false),
    };
    let k = verdict::server_kind(&facts(pg14, Some(row(ALICE, "rds_ad"))));
    assert_eq!(
        k,
        ServerKind {
            hot_standby: Some(true),
            read_only: Some(true)
        }
    );
    let ro_primary = Reported {
        in_hot_standby: Some(false),
        default_transaction_read_only: Some(true),
    };
    assert_eq!(
        verdict::server_kind(&facts(ro_primary, None)),
        ServerKind {
            hot_standby: Some(false),
            read_only: Some(true)
        }
    );
    // Older servers: libpq's questions (pg_is_in_recovery, transaction_read_only).
    let mut standby = row(ALICE, "rds_ad");
    standby.in_recovery = Some(true);
    standby.transaction_read_only = Some(true);
    assert_eq!(
        verdict::server_kind(&facts(Reported::default(), Some(standby))),
        ServerKind {
            hot_standby: Some(true),
            read_only: Some(true)
        }
    );
    // Neither reported nor answered: unknown.
    assert_eq!(
        verdict::server_kind(&facts(Reported::default(), None)),
        ServerKind::default()
    );
}
