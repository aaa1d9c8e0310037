//! Sorting failures into kinds: GSSAPI status codes and the server's ErrorResponse. Kept
//! apart from the wording (`cause`, `fix`) so the rules can be read and tested on their own.

use super::{Error, Kind};

/// MIT krb5 com_err codes that tell failures apart (krb5.h, gssapi_err_krb5.h). GSSAPI hands
/// them back as the minor status; [`Error::krb5_code`] gives them as signed 32-bit values.
#[allow(missing_docs)] // MIT's own names (krb5.h, gssapi_err_krb5.h)
pub mod krb5_codes {
    pub const KRB5KDC_ERR_NAME_EXP: i32 = -1765328383;
    pub const KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN: i32 = -1765328378;
    pub const KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN: i32 = -1765328377;
    pub const KRB5KDC_ERR_POLICY: i32 = -1765328372;
    pub const KRB5KDC_ERR_ETYPE_NOSUPP: i32 = -1765328370;
    pub const KRB5KDC_ERR_CLIENT_REVOKED: i32 = -1765328366;
    pub const KRB5KDC_ERR_KEY_EXP: i32 = -1765328361;
    pub const KRB5KDC_ERR_PREAUTH_FAILED: i32 = -1765328360;
    pub const KRB5KRB_AP_ERR_BAD_INTEGRITY: i32 = -1765328353;
    pub const KRB5KRB_AP_ERR_TKT_EXPIRED: i32 = -1765328352;
    pub const KRB5KRB_AP_ERR_SKEW: i32 = -1765328347;
    pub const KRB5KRB_AP_ERR_MODIFIED: i32 = -1765328343;
    pub const KRB5KRB_AP_ERR_BADKEYVER: i32 = -1765328340;
    /// A KDC's error with its own text ("KDC returned error string: PROCESS_TGS").
    pub const KRB5KRB_ERR_GENERIC: i32 = -1765328324;
    pub const KRB5KDC_ERR_WRONG_REALM: i32 = -1765328316;
    pub const KRB5_CONFIG_CANTOPEN: i32 = -1765328249;
    pub const KRB5_CONFIG_BADFORMAT: i32 = -1765328248;
    pub const KRB5_CC_NOTFOUND: i32 = -1765328243;
    pub const KRB5_CC_END: i32 = -1765328242;
    pub const KRB5_REALM_UNKNOWN: i32 = -1765328230;
    pub const KRB5_KDC_UNREACH: i32 = -1765328228;
    pub const KRB5_KT_NOTFOUND: i32 = -1765328203;
    pub const KRB5_KT_END: i32 = -1765328202;
    pub const KRB5_FCC_NOFILE: i32 = -1765328189;
    pub const KRB5_PREAUTH_FAILED: i32 = -1765328174;
    pub const KRB5_REALM_CANT_RESOLVE: i32 = -1765328164;
    pub const KRB5_KT_KVNONOTFOUND: i32 = -1765328154;
    pub const KRB5_CC_NOSUPP: i32 = -1765328137;
    /// gssapi_err_krb5 table base ("k5g"): KG_CCACHE_NOMATCH.
    pub const KG_CCACHE_NOMATCH: i32 = 39756032;
    pub const KG_KEYTAB_NOMATCH: i32 = 39756033;
    pub const KG_TGT_MISSING: i32 = 39756034;
    pub const KG_EMPTY_CCACHE: i32 = 39756044;
}

/// GSSAPI major status routine errors (RFC 2744), shifted into place.
mod gss_major {
    pub const BAD_NAME: u32 = 2 << 16;
    pub const NO_CRED: u32 = 7 << 16;
    pub const DEFECTIVE_TOKEN: u32 = 9 << 16;
    pub const CREDENTIALS_EXPIRED: u32 = 11 << 16;
    pub const ROUTINE_MASK: u32 = 0xff << 16;
}

/// What was being done when GSSAPI failed; it decides how a code reads.
#[derive(Debug, Clone)]
pub(crate) struct GssSite {
    /// Where the credential comes from, in words ("the credential cache FILE:/tmp/x").
    pub source: String,
    /// The client principal, when known.
    pub client: Option<String>,
    /// The service principal asked for, as the KDC sees it (`postgres/host`).
    pub service: String,
}

/// Sorts a GSSAPI failure by its major and krb5 minor code.
pub(crate) fn from_gss(major: u32, minor: u32, display: String, site: &GssSite) -> Error {
    classify_gss(major, minor, display, site, None)
}

/// Sorts a failure of the step that asks the KDCs for the service ticket, knowing the realm
/// the service host is in (`None`: krb5.conf maps it to none, the referral realm). When that
/// realm is not the client's, the ticket is asked for across a trust, and some codes that
/// mean one thing inside a realm mean a broken trust: a TGS-REQ that fails the integrity
/// check is a trust key the two KDCs do not share, not a wrong password (that would have
/// failed when the credential was obtained).
pub(crate) fn from_gss_service_ticket(
    major: u32,
    minor: u32,
    display: String,
    site: &GssSite,
    service_realm: Option<&str>,
) -> Error {
    classify_gss(major, minor, display, site, service_realm)
}

/// The realm of a principal name (`user@REALM`), unescaped names only.
fn realm_of(principal: &str) -> Option<&str> {
    principal
        .rsplit_once('@')
        .map(|(_, r)| r)
        .filter(|r| !r.is_empty())
}

/// What MIT's extended message names, for the few codes that do not say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Named {
    /// The principal a KDC did not find (`Server X not found in Kerberos database`).
    Principal(String),
    /// The realm whose KDCs could not be found or reached (`Cannot contact any KDC for
    /// realm 'X'`, `Cannot find KDC for realm "X"`).
    Realm(String),
}

/// Reads the principal or realm MIT's extended error message names.
///
/// Why text: KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN is the same code whether the KDC lacks the
/// database's service principal or the cross-realm key `krbtgt/SERVICE@CLIENT` on the way
/// (the trust was never made, or made the other way round), and KRB5_KDC_UNREACH does not say
/// which realm's KDC was silent; only the message MIT sets with the code names them
/// (krb5_get_credentials' "Server %s not found in Kerberos database", locate_kdc's realm
/// messages). MIT does not translate these. Everything that decides on the result goes
/// through this one function; `None` when the text is not one of these.
pub(crate) fn named_in_mit_text(text: &str) -> Option<Named> {
    if let Some((_, rest)) = text.split_once("Server ")
        && let Some((name, _)) = rest.split_once(" not found in Kerberos database")
        && !name.is_empty()
        && !name.contains(char::is_whitespace)
    {
        return Some(Named::Principal(name.to_string()));
    }
    for lead in [
        "Cannot contact any KDC for realm ",
        "Cannot find KDC for realm ",
    ] {
        if let Some((_, rest)) = text.split_once(lead) {
            let mut chars = rest.chars();
            let quote = chars.next().filter(|q| *q == '\'' || *q == '"')?;
            let realm: String = chars.take_while(|c| *c != quote).collect();
            return (!realm.is_empty()).then_some(Named::Realm(realm));
        }
    }
    None
}

/// The two realms of a cross-realm principal `krbtgt/TO@FROM`, when `principal` is
/// one (TO differs from FROM).
fn trust_realms(principal: &str) -> Option<(String, String)> {
    let (name, from) = principal.rsplit_once('@')?;
    let to = name.strip_prefix("krbtgt/")?;
    (to != from && !to.is_empty() && !from.is_empty() && !to.contains('/'))
        .then(|| (to.to_string(), from.to_string()))
}

fn classify_gss(
    major: u32,
    minor: u32,
    display: String,
    site: &GssSite,
    service_realm: Option<&str>,
) -> Error {
    use krb5_codes::*;
    let minor = minor as i32;
    let source = site.source.clone();
    let detail = display;
    let client_realm = site.client.as_deref().and_then(realm_of);
    // Both realms, when the service ticket is asked for across a trust.
    let across: Option<(String, String)> = match (client_realm, service_realm) {
        (Some(c), Some(s)) if c != s => Some((c.to_string(), s.to_string())),
        _ => None,
    };
    let named = named_in_mit_text(&detail);
    let kind = match minor {
        KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN => match &named {
            // The KDC of FROM has no key for TO: no trust (or one made the other way), or a
            // path through realms krb5.conf does not name.
            Some(Named::Principal(p)) if trust_realms(p).is_some() => {
                let (to, from) = trust_realms(p).unwrap_or_default();
                Kind::TrustMissing {
                    principal: p.clone(),
                    from,
                    to,
                    client_realm: client_realm.map(str::to_string),
                    detail,
                }
            }
            _ => Kind::ServicePrincipalUnknown {
                principal: site.service.clone(),
                across,
                detail,
            },
        },
        // Across a trust, the ticket-granting service failed between the two realms' KDCs:
        // the ticket one issued does not decrypt at the other (different passwords), names a
        // key version the other lacks, or uses an encryption type the other does not hold or
        // permit. MIT's KDC reports the latter two as a generic error with its own text
        // (PROCESS_TGS, FINDING_SERVER_KEY).
        KRB5KRB_AP_ERR_BAD_INTEGRITY
        | KRB5KRB_ERR_GENERIC
        | KRB5KRB_AP_ERR_BADKEYVER
        | KRB5KRB_AP_ERR_MODIFIED
        | KRB5KDC_ERR_ETYPE_NOSUPP
            if across.is_some() =>
        {
            let (client_realm, service_realm) = across.unwrap_or_default();
            Kind::TrustKeyMismatch {
                principal: format!("krbtgt/{service_realm}@{client_realm}"),
                client_realm,
                service_realm,
                code: minor,
                detail,
            }
        }
        KRB5KDC_ERR_POLICY if across.is_some() => {
            let (client_realm, service_realm) = across.unwrap_or_default();
            Kind::TrustPathRefused {
                principal: site.client.clone().unwrap_or_default(),
                client_realm,
                service_realm,
                detail,
            }
        }
        KG_CCACHE_NOMATCH => Kind::NoCredentials {
            source,
            detail: format!(
                "{detail}; the cache holds another principal's tickets than {}",
                site.client.as_deref().unwrap_or("the one asked for")
            ),
        },
        KRB5_FCC_NOFILE | KRB5_CC_NOTFOUND | KRB5_CC_END | KG_EMPTY_CCACHE | KG_TGT_MISSING
        | KRB5_CC_NOSUPP => Kind::NoCredentials { source, detail },
        KRB5KRB_AP_ERR_TKT_EXPIRED => Kind::CredentialsExpired { source, detail },
        KRB5_KDC_UNREACH => Kind::KdcUnreachable {
            realm: match named {
                Some(Named::Realm(r)) => Some(r),
                // Obtaining the credential talks to the client's own realm only.
                _ if service_realm.is_none() => client_realm.map(str::to_string),
                _ => None,
            },
            client_realm: client_realm.map(str::to_string),
            service_realm: service_realm.map(str::to_string),
            detail,
        },
        KRB5KRB_AP_ERR_SKEW => Kind::ClockSkew { detail },
        KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN => Kind::ClientPrincipalUnknown {
            principal: site.client.clone().unwrap_or_else(|| "(default)".into()),
            detail,
        },
        // No KDC configured for the realm: a realm krb5.conf does not know.
        KRB5_REALM_UNKNOWN | KRB5_REALM_CANT_RESOLVE | KRB5KDC_ERR_WRONG_REALM => {
            Kind::WrongRealm {
                principal: site.service.clone(),
                detail,
            }
        }
        KRB5KDC_ERR_PREAUTH_FAILED
        | KRB5_PREAUTH_FAILED
        | KRB5KRB_AP_ERR_BAD_INTEGRITY
        | KRB5_KT_KVNONOTFOUND => Kind::BadPassword { source, detail },
        KRB5KDC_ERR_KEY_EXP
        | KRB5KDC_ERR_NAME_EXP
        | KRB5KDC_ERR_CLIENT_REVOKED
        | KRB5KDC_ERR_POLICY => Kind::AccountRefused {
            principal: site.client.clone().unwrap_or_else(|| "(default)".into()),
            code: minor,
            detail,
        },
        KRB5_KT_NOTFOUND | KRB5_KT_END | KG_KEYTAB_NOMATCH => Kind::NoCredentials {
            source,
            detail: format!("{detail}; the keytab holds no key for this principal"),
        },
        KRB5_CONFIG_CANTOPEN | KRB5_CONFIG_BADFORMAT => Kind::Krb5Config { detail },
        KRB5KRB_AP_ERR_MODIFIED | KRB5KRB_AP_ERR_BADKEYVER => Kind::ServerGss {
            principal: site.service.clone(),
            message: detail,
        },
        _ => match major & gss_major::ROUTINE_MASK {
            gss_major::NO_CRED => Kind::NoCredentials { source, detail },
            gss_major::CREDENTIALS_EXPIRED => Kind::CredentialsExpired { source, detail },
            gss_major::BAD_NAME => Kind::Config {
                what: format!("the name {} is not a valid Kerberos name", site.service),
                fix: "check krbsrvname and host".into(),
            },
            gss_major::DEFECTIVE_TOKEN => Kind::Protocol {
                detail: format!("the server's Kerberos token is defective: {detail}"),
            },
            _ => Kind::Gss { detail },
        },
    };
    Error::new(kind).with_krb5_code(minor)
}

/// How the role logged in as compares with the client principal, when the server refused
/// the principal for the role after accepting its ticket.
///
/// PostgreSQL does not say why: after the ticket is accepted (the server sent its AP-REP),
/// `pg_GSS_checkauth` compares names, and every refusal there reaches the client as the same
/// FATAL 28000 "GSSAPI authentication failed for user ..." (routine `auth_failed`). The
/// reason goes to the server log only: `provided user name (U) and authenticated user name
/// (P) do not match` (no `map=`), `no match in usermap "M" for user "U" authenticated as
/// "P"` (a `map=` without a line for the pair), and the realm check of `krb_realm` only at
/// DEBUG2 (`GSSAPI realm (R) and configured realm (K) don't match`). So the client decides
/// on what it has: the two names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameMatch {
    /// The same name: the server maps names (`map=`) or admits one realm (`krb_realm`).
    Same,
    /// The same but for letter case (of the whole name, or of the name without its realm):
    /// PostgreSQL compares exactly unless `krb_caseins_users` is on.
    Case,
    /// The role is the principal without its realm: the server strips realms
    /// (`include_realm=0`), so its realm check (`krb_realm`) or a map refused it.
    RealmStripped,
    /// Other names: only a map (pg_ident.conf) lets a principal in as another role.
    Other,
}

/// Compares the role and the principal (see [`NameMatch`]).
pub(crate) fn name_match(user: &str, principal: &str) -> NameMatch {
    let bare = principal.rsplit_once('@').map_or(principal, |(n, _)| n);
    if user == principal {
        NameMatch::Same
    } else if user.eq_ignore_ascii_case(principal)
        || (user.eq_ignore_ascii_case(bare) && user != bare)
    {
        NameMatch::Case
    } else if user == bare {
        NameMatch::RealmStripped
    } else {
        NameMatch::Other
    }
}

/// An ErrorResponse 28000 after the server sent its Kerberos proof (AP-REP): the ticket was
/// accepted, so the refusal is of the principal for the role (see [`NameMatch`]), never of
/// the ticket or the keytab. `None` for anything else.
pub(crate) fn refused_after_proof(
    code: &str,
    message: &str,
    user: &str,
    principal: &str,
) -> Option<Error> {
    (code == "28000").then(|| {
        Error::new(Kind::RoleMismatch {
            user: user.to_string(),
            principal: principal.to_string(),
            message: message.to_string(),
        })
    })
}

/// Sorts an ErrorResponse received while logging in. The server is past TLS verification
/// (or the user chose no TLS) when we get here, so its words are shown.
pub(crate) fn from_server(code: &str, message: &str, user: &str, service: &str) -> Error {
    let message = message.to_string();
    // Only the server's GSSAPI authentication failure ("GSSAPI authentication failed for
    // user ...") is about the ticket; pg_hba's refusal of a GSS-encrypted connection ("no
    // pg_hba.conf entry for ..., GSS encryption") is not, and no other SQLSTATE is.
    let kind = if code == "28000" && message.contains("GSSAPI") {
        Kind::ServerGss {
            principal: service.to_string(),
            message,
        }
    } else if code == "28000" && message.starts_with("role ") && message.ends_with("does not exist")
    {
        Kind::RoleMissing {
            user: user.to_string(),
            message,
        }
    } else {
        Kind::Server {
            code: code.to_string(),
            message,
        }
    };
    Error::new(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn site() -> GssSite {
        GssSite {
            source: "the credential cache FILE:/tmp/cc".into(),
            client: Some("alice@CORP.EXAMPLE.COM".into()),
            service: "postgres/db.example.test".into(),
        }
    }

    #[test]
    fn minor_codes_sort_into_kinds() {
        use krb5_codes::*;
        let cases = [
            (KRB5_FCC_NOFILE, ErrorKind::NoCredentials),
            (KG_EMPTY_CCACHE, ErrorKind::NoCredentials),
            (KRB5KRB_AP_ERR_TKT_EXPIRED, ErrorKind::CredentialsExpired),
            (KRB5_KDC_UNREACH, ErrorKind::KdcUnreachable),
            (KRB5KRB_AP_ERR_SKEW, ErrorKind::ClockSkew),
            (
                KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN,
                ErrorKind::ServicePrincipalUnknown,
            ),
            (KRB5_REALM_UNKNOWN, ErrorKind::WrongRealm),
            (KRB5KDC_ERR_PREAUTH_FAILED, ErrorKind::BadPassword),
            (KRB5_KT_KVNONOTFOUND, ErrorKind::BadPassword),
            (KRB5_CONFIG_CANTOPEN, ErrorKind::Krb5Config),
            (KRB5KRB_AP_ERR_MODIFIED, ErrorKind::ServerGss),
            (KRB5KDC_ERR_KEY_EXP, ErrorKind::AccountRefused),
            (KRB5KDC_ERR_NAME_EXP, ErrorKind::AccountRefused),
            (KRB5KDC_ERR_POLICY, ErrorKind::AccountRefused),
            (KRB5KDC_ERR_CLIENT_REVOKED, ErrorKind::AccountRefused),
        ];
        for (code, kind) in cases {
            let e = from_gss(0xd0000, code as u32, "lib text".into(), &site());
            assert_eq!(e.kind(), kind, "{code}");
            assert!(!e.cause().is_empty() && !e.fix().is_empty());
        }
        let e = from_gss(7 << 16, 0, "x".into(), &site());
        assert_eq!(e.kind(), ErrorKind::NoCredentials);
        let e = from_gss(11 << 16, 0, "x".into(), &site());
        assert_eq!(e.kind(), ErrorKind::CredentialsExpired);
    }

    #[test]
    fn unknown_service_names_the_principal() {
        let e = from_gss(
            0xd0000,
            krb5_codes::KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN as u32,
            "Server not found in Kerberos database".into(),
            &site(),
        );
        assert_eq!(e.principal(), Some("postgres/db.example.test"));
        assert!(e.to_string().contains("postgres/db.example.test"));
        assert!(e.cause().contains("postgres/db.example.test"));
    }

    const MIT: &str = "Unspecified GSS failure.  Minor code may provide more information";

    fn dave() -> GssSite {
        GssSite {
            source: "the credential cache FILE:/tmp/cc".into(),
            client: Some("dave@ONPREM.EXAMPLE.COM".into()),
            service: "postgres/db.example.test".into(),
        }
    }

    fn ticket(code: i32, text: &str, site: &GssSite, service_realm: &str) -> Error {
        from_gss_service_ticket(
            0xd0000,
            code as u32,
            format!("{MIT} ({text})"),
            site,
            Some(service_realm),
        )
    }

    #[test]
    fn mit_text_names_the_principal_or_realm() {
        let t = |s: &str| named_in_mit_text(&format!("{MIT} ({s})"));
        assert_eq!(
            t("Server krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM not found in Kerberos database"),
            Some(Named::Principal(
                "krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM".into()
            ))
        );
        assert_eq!(
            t("Cannot contact any KDC for realm 'ONPREM.EXAMPLE.COM'"),
            Some(Named::Realm("ONPREM.EXAMPLE.COM".into()))
        );
        assert_eq!(
            t("Cannot find KDC for realm \"CORP.EXAMPLE.COM\""),
            Some(Named::Realm("CORP.EXAMPLE.COM".into()))
        );
        // Active Directory's answer names nothing; other messages name nothing either.
        assert_eq!(t("Server not found in Kerberos database"), None);
        assert_eq!(t("Decrypt integrity check failed"), None);
        assert_eq!(t("Cannot contact any KDC for realm ''"), None);
    }

    #[test]
    fn a_missing_cross_realm_key_names_the_trust() {
        let e = ticket(
            krb5_codes::KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN,
            "Server krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM not found in Kerberos database",
            &dave(),
            "CORP.EXAMPLE.COM",
        );
        assert_eq!(e.kind(), ErrorKind::TrustMissing);
        assert_eq!(
            e.principal(),
            Some("krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM")
        );
        assert!(
            e.cause().contains("your realm ONPREM.EXAMPLE.COM"),
            "{}",
            e.cause()
        );
        assert!(
            e.fix().contains("[capaths] ONPREM.EXAMPLE.COM"),
            "{}",
            e.fix()
        );
        // A realm on the way (erin's realm has no key for the database's).
        let erin = GssSite {
            client: Some("erin@BRANCH.EXAMPLE.NET".into()),
            ..dave()
        };
        let e = ticket(
            krb5_codes::KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN,
            "Server krbtgt/CORP.EXAMPLE.COM@BRANCH.EXAMPLE.NET not found in Kerberos database",
            &erin,
            "CORP.EXAMPLE.COM",
        );
        assert_eq!(e.kind(), ErrorKind::TrustMissing);
        assert!(
            e.fix()
                .contains("[capaths] BRANCH.EXAMPLE.NET = { CORP.EXAMPLE.COM")
        );
        // The service principal itself missing stays what it was, and says the trust may
        // lack its database side when the login crossed realms.
        let e = ticket(
            krb5_codes::KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN,
            "Server postgres/db.example.test@CORP.EXAMPLE.COM not found in Kerberos database",
            &dave(),
            "CORP.EXAMPLE.COM",
        );
        assert_eq!(e.kind(), ErrorKind::ServicePrincipalUnknown);
        assert_eq!(e.principal(), Some("postgres/db.example.test"));
        assert!(
            e.cause()
                .contains("krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM")
        );
        let same = ticket(
            krb5_codes::KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN,
            "Server postgres/db.example.test@ONPREM.EXAMPLE.COM not found in Kerberos database",
            &dave(),
            "ONPREM.EXAMPLE.COM",
        );
        assert_eq!(same.kind(), ErrorKind::ServicePrincipalUnknown);
        assert!(!same.cause().contains("trust"), "{}", same.cause());
    }

    #[test]
    fn key_failures_between_realms_are_the_trust_key() {
        use krb5_codes::*;
        for (code, text) in [
            (
                KRB5KRB_AP_ERR_BAD_INTEGRITY,
                "Decrypt integrity check failed",
            ),
            (
                KRB5KRB_ERR_GENERIC,
                "KDC returned error string: PROCESS_TGS",
            ),
            (
                KRB5KRB_ERR_GENERIC,
                "KDC returned error string: FINDING_SERVER_KEY",
            ),
            (
                KRB5KDC_ERR_ETYPE_NOSUPP,
                "KDC has no support for encryption type",
            ),
        ] {
            let e = ticket(code, text, &dave(), "CORP.EXAMPLE.COM");
            assert_eq!(e.kind(), ErrorKind::TrustKeyMismatch, "{text}");
            assert_eq!(
                e.principal(),
                Some("krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM")
            );
            assert!(e.cause().contains("ONPREM.EXAMPLE.COM") && e.cause().contains("CORP."));
            assert_eq!(e.krb5_code(), Some(code));
        }
        // Inside one realm the same codes keep their meaning: a wrong password when the
        // credential is obtained, and an unsorted failure for the generic one.
        let e = ticket(
            KRB5KRB_AP_ERR_BAD_INTEGRITY,
            "Decrypt integrity check failed",
            &site(),
            "CORP.EXAMPLE.COM",
        );
        assert_eq!(e.kind(), ErrorKind::BadPassword);
        let e = from_gss(
            0xd0000,
            KRB5KRB_AP_ERR_BAD_INTEGRITY as u32,
            "x".into(),
            &dave(),
        );
        assert_eq!(e.kind(), ErrorKind::BadPassword, "obtaining the credential");
        let e = ticket(
            KRB5KRB_ERR_GENERIC,
            "PROCESS_TGS",
            &site(),
            "CORP.EXAMPLE.COM",
        );
        assert_eq!(e.kind(), ErrorKind::Gss);
        // A host krb5.conf maps to no realm (the referral realm): nothing is assumed.
        let e = from_gss_service_ticket(
            0xd0000,
            KRB5KRB_ERR_GENERIC as u32,
            "x".into(),
            &dave(),
            None,
        );
        assert_eq!(e.kind(), ErrorKind::Gss);
    }

    #[test]
    fn a_policy_refusal_between_realms_names_the_path() {
        let erin = GssSite {
            client: Some("erin@BRANCH.EXAMPLE.NET".into()),
            ..dave()
        };
        let e = ticket(
            krb5_codes::KRB5KDC_ERR_POLICY,
            "KDC policy rejects request",
            &erin,
            "CORP.EXAMPLE.COM",
        );
        assert_eq!(e.kind(), ErrorKind::TrustPathRefused);
        assert_eq!(e.principal(), Some("erin@BRANCH.EXAMPLE.NET"));
        assert!(e.cause().contains("transitive"), "{}", e.cause());
        // Inside a realm it is the account (Active Directory re-checks it per ticket).
        let e = ticket(
            krb5_codes::KRB5KDC_ERR_POLICY,
            "KDC policy rejects request",
            &site(),
            "CORP.EXAMPLE.COM",
        );
        assert_eq!(e.kind(), ErrorKind::AccountRefused);
    }

    #[test]
    fn an_unreachable_kdc_is_named_with_its_place_on_the_path() {
        let e = ticket(
            krb5_codes::KRB5_KDC_UNREACH,
            "Cannot contact any KDC for realm 'ONPREM.EXAMPLE.COM'",
            &dave(),
            "CORP.EXAMPLE.COM",
        );
        assert_eq!(e.kind(), ErrorKind::KdcUnreachable);
        assert!(
            e.cause().contains("ONPREM.EXAMPLE.COM is your own realm"),
            "{}",
            e.cause()
        );
        assert!(e.fix().contains("for ONPREM.EXAMPLE.COM"), "{}", e.fix());
        // Obtaining the credential asks the client's own realm only.
        let e = from_gss(
            7 << 16,
            krb5_codes::KRB5_KDC_UNREACH as u32,
            "No credentials were supplied".into(),
            &dave(),
        );
        assert!(
            e.cause().contains("realm ONPREM.EXAMPLE.COM"),
            "{}",
            e.cause()
        );
    }

    #[test]
    fn a_refused_gss_encrypted_connection_is_not_a_keytab_problem() {
        // gssencmode=require against a server whose pg_hba.conf has `hostnogssenc` (or no
        // hostgssenc line): the login is refused before any ticket is looked at.
        let e = from_server(
            "28000",
            "no pg_hba.conf entry for host \"127.0.0.1\", user \"alice@CORP.EXAMPLE.COM\", \
             database \"postgres\", GSS encryption",
            "alice@CORP.EXAMPLE.COM",
            "postgres/h",
        );
        assert_eq!(e.kind(), ErrorKind::Server);
        assert_eq!(e.sqlstate(), Some("28000"));
        assert!(e.fix().contains("pg_hba.conf"));
        assert!(!e.fix().contains("keytab"), "{}", e.fix());
        // Another SQLSTATE whose text mentions GSS is not the ticket's either.
        let e = from_server("08P01", "invalid GSS encryption packet", "x", "p/h");
        assert_eq!(e.kind(), ErrorKind::Server);
    }

    #[test]
    fn a_refused_principal_is_told_by_how_the_names_compare() {
        use NameMatch::*;
        for (user, principal, want) in [
            ("alice@CORP.EXAMPLE.COM", "alice@CORP.EXAMPLE.COM", Same),
            ("alice@CORP.EXAMPLE.COM", "Alice@CORP.EXAMPLE.COM", Case),
            ("alice@corp.example.com", "alice@CORP.EXAMPLE.COM", Case),
            ("alice", "alice@CORP.EXAMPLE.COM", RealmStripped),
            ("Alice", "alice@CORP.EXAMPLE.COM", Case),
            ("app", "alice@CORP.EXAMPLE.COM", Other),
            ("alice@CORP.EXAMPLE.COM", "alice@ONPREM.EXAMPLE.COM", Other),
        ] {
            assert_eq!(name_match(user, principal), want, "{user} / {principal}");
            let e = refused_after_proof("28000", "GSSAPI authentication failed", user, principal)
                .unwrap();
            assert_eq!(e.kind(), ErrorKind::RoleMismatch);
            let (cause, fix) = (e.cause(), e.fix());
            // Aurora's explanation (the letter case of AD names) only where it applies.
            assert_eq!(fix.contains("kinit -C"), want == Case, "{fix}");
            assert_eq!(cause.contains("case"), want == Case, "{cause}");
            assert!(!cause.contains("keytab"), "{cause}");
        }
        let e = refused_after_proof("28000", "x", "alice", "alice@CORP.EXAMPLE.COM").unwrap();
        assert!(e.cause().contains("include_realm=0"), "{}", e.cause());
        assert!(
            e.fix().contains("krb_realm=CORP.EXAMPLE.COM"),
            "{}",
            e.fix()
        );
        // Only 28000 is the name check's refusal.
        assert!(refused_after_proof("53300", "too many clients", "a", "b@R").is_none());
    }

    #[test]
    fn server_errors() {
        let e = from_server(
            "28000",
            "GSSAPI authentication failed for user \"x\"",
            "x",
            "postgres/h",
        );
        assert_eq!(e.kind(), ErrorKind::ServerGss);
        let e = from_server("28000", "role \"bob\" does not exist", "bob", "p/h");
        assert_eq!(e.kind(), ErrorKind::RoleMissing);
        let e = from_server("3D000", "database \"nope\" does not exist", "x", "p/h");
        assert_eq!(e.kind(), ErrorKind::Server);
        assert_eq!(e.sqlstate(), Some("3D000"));
        assert!(e.fix().contains("dbname"));
    }
}
