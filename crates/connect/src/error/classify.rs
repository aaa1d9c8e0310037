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
    pub const KRB5KDC_ERR_CLIENT_REVOKED: i32 = -1765328366;
    pub const KRB5KDC_ERR_KEY_EXP: i32 = -1765328361;
    pub const KRB5KDC_ERR_PREAUTH_FAILED: i32 = -1765328360;
    pub const KRB5KRB_AP_ERR_BAD_INTEGRITY: i32 = -1765328353;
    pub const KRB5KRB_AP_ERR_TKT_EXPIRED: i32 = -1765328352;
    pub const KRB5KRB_AP_ERR_SKEW: i32 = -1765328347;
    pub const KRB5KRB_AP_ERR_MODIFIED: i32 = -1765328343;
    pub const KRB5KRB_AP_ERR_BADKEYVER: i32 = -1765328340;
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
    use krb5_codes::*;
    let minor = minor as i32;
    let source = site.source.clone();
    let detail = display;
    let kind = match minor {
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
        KRB5_KDC_UNREACH => Kind::KdcUnreachable { detail },
        KRB5KRB_AP_ERR_SKEW => Kind::ClockSkew { detail },
        KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN => Kind::ServicePrincipalUnknown {
            principal: site.service.clone(),
            detail,
        },
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

/// Sorts an ErrorResponse received while logging in. The server is past TLS verification
/// (or the user chose no TLS) when we get here, so its words are shown.
pub(crate) fn from_server(code: &str, message: &str, user: &str, service: &str) -> Error {
    let message = message.to_string();
    let kind = if code == "28000" && message.contains("GSSAPI") || message.contains("GSS") {
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
