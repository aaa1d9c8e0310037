//! `require_auth` (libpq 16's syntax) and `channel_binding`.

use crate::error::Error;
use std::fmt;
use std::str::FromStr;

/// An authentication method a server may ask for, as `require_auth` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A cleartext password (`AuthenticationCleartextPassword`).
    Password,
    /// An MD5-hashed password.
    Md5,
    /// Kerberos through GSSAPI.
    Gss,
    /// Kerberos through Windows SSPI (the client answers it as GSSAPI).
    Sspi,
    /// SCRAM-SHA-256 (with or without channel binding).
    ScramSha256,
    /// No authentication at all (the server sends `AuthenticationOk` at once).
    None,
}

impl AuthMethod {
    /// All methods, in libpq's order.
    pub const ALL: [AuthMethod; 6] = [
        AuthMethod::Password,
        AuthMethod::Md5,
        AuthMethod::Gss,
        AuthMethod::Sspi,
        AuthMethod::ScramSha256,
        AuthMethod::None,
    ];

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::Md5 => "md5",
            AuthMethod::Gss => "gss",
            AuthMethod::Sspi => "sspi",
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::None => "none",
        }
    }

    /// Whether the method sends a database password (what [`Config::password_fallback`]
    /// answers).
    ///
    /// [`Config::password_fallback`]: crate::Config::password_fallback
    pub fn is_password(self) -> bool {
        matches!(
            self,
            AuthMethod::Password | AuthMethod::Md5 | AuthMethod::ScramSha256
        )
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The methods a login may complete with, as libpq's `require_auth`: a list of methods, or
/// a list of negated methods (`!md5,!password`: anything but those). The default allows
/// every method; this crate's own rules (Kerberos with mutual authentication, passwords
/// only with a fallback) apply on top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequireAuth {
    negated: bool,
    methods: Vec<AuthMethod>,
}

impl Default for RequireAuth {
    fn default() -> RequireAuth {
        RequireAuth {
            negated: true,
            methods: Vec::new(),
        }
    }
}

impl RequireAuth {
    /// Only these methods.
    pub fn only(methods: impl IntoIterator<Item = AuthMethod>) -> RequireAuth {
        let mut out = RequireAuth {
            negated: false,
            methods: Vec::new(),
        };
        for m in methods {
            if !out.methods.contains(&m) {
                out.methods.push(m);
            }
        }
        out
    }

    /// Whether the login may complete with `method`.
    pub fn allows(&self, method: AuthMethod) -> bool {
        self.methods.contains(&method) != self.negated
    }

    /// Whether `require_auth` was given (the default allows everything).
    pub fn is_set(&self) -> bool {
        !(self.negated && self.methods.is_empty())
    }

    /// Whether the list was given negated (`!method,...`).
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// The methods as listed (without the `!`).
    pub fn methods(&self) -> &[AuthMethod] {
        &self.methods
    }

    /// Whether any password method (password, md5, scram-sha-256) is allowed.
    pub fn allows_any_password(&self) -> bool {
        AuthMethod::ALL
            .iter()
            .any(|m| m.is_password() && self.allows(*m))
    }
}

impl fmt::Display for RequireAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bang = if self.negated { "!" } else { "" };
        let list: Vec<String> = self.methods.iter().map(|m| format!("{bang}{m}")).collect();
        f.write_str(&list.join(","))
    }
}

impl FromStr for RequireAuth {
    type Err = Error;
    /// libpq 16's rules: a comma list; all entries negated with `!` or none; no repeats.
    fn from_str(s: &str) -> Result<RequireAuth, Error> {
        if s.is_empty() {
            return Ok(RequireAuth::default());
        }
        let mut negated = None;
        let mut methods = Vec::new();
        for item in s.split(',') {
            let (neg, name) = match item.strip_prefix('!') {
                Some(n) => (true, n),
                None => (false, item),
            };
            let method = AuthMethod::ALL
                .into_iter()
                .find(|m| m.as_str() == name)
                .ok_or_else(|| {
                    Error::config(
                        format!("unknown require_auth method `{item}`"),
                        "list methods from password, md5, gss, sspi, scram-sha-256, none, \
                         separated by commas, e.g. require_auth=gss",
                    )
                })?;
            match negated {
                Some(n) if n != neg => {
                    return Err(Error::config(
                        format!("require_auth={s} mixes negated (`!`) and plain methods"),
                        "negate all methods (require_auth=!password,!md5) or none \
                         (require_auth=gss)",
                    ));
                }
                _ => negated = Some(neg),
            }
            if methods.contains(&method) {
                return Err(Error::config(
                    format!("require_auth lists `{method}` more than once"),
                    "list each method once",
                ));
            }
            methods.push(method);
        }
        Ok(RequireAuth {
            negated: negated.unwrap_or(false),
            methods,
        })
    }
}

/// Whether SCRAM binds the login to the TLS channel, as libpq's `channel_binding`.
///
/// In this crate it governs the SCRAM password fallback only. PostgreSQL has no channel
/// binding for Kerberos: what keeps a relay out of a Kerberos login is `sslmode=verify-full`
/// (or GSS encryption).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelBinding {
    /// Never use SCRAM-SHA-256-PLUS.
    Disable,
    /// SCRAM-SHA-256-PLUS when the server offers it over TLS (the default).
    #[default]
    Prefer,
    /// A password login must use SCRAM-SHA-256-PLUS.
    Require,
}

impl ChannelBinding {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelBinding::Disable => "disable",
            ChannelBinding::Prefer => "prefer",
            ChannelBinding::Require => "require",
        }
    }
}

impl FromStr for ChannelBinding {
    type Err = Error;
    fn from_str(s: &str) -> Result<ChannelBinding, Error> {
        match s {
            "disable" => Ok(ChannelBinding::Disable),
            "" | "prefer" => Ok(ChannelBinding::Prefer),
            "require" => Ok(ChannelBinding::Require),
            other => Err(Error::config(
                format!("unknown channel_binding `{other}`"),
                "use disable, prefer (the default) or require",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_negation() {
        let r: RequireAuth = "gss,scram-sha-256".parse().unwrap();
        assert!(r.allows(AuthMethod::Gss) && r.allows(AuthMethod::ScramSha256));
        assert!(!r.allows(AuthMethod::Md5) && !r.allows(AuthMethod::None));
        assert!(r.allows_any_password() && r.is_set() && !r.is_negated());
        assert_eq!(r.to_string(), "gss,scram-sha-256");

        let r: RequireAuth = "!password,!md5".parse().unwrap();
        assert!(r.is_negated());
        assert!(!r.allows(AuthMethod::Password) && !r.allows(AuthMethod::Md5));
        assert!(r.allows(AuthMethod::Gss) && r.allows(AuthMethod::ScramSha256));
        assert_eq!(r.to_string(), "!password,!md5");

        let d = RequireAuth::default();
        assert!(!d.is_set());
        assert!(AuthMethod::ALL.iter().all(|m| d.allows(*m)));
        assert_eq!("".parse::<RequireAuth>().unwrap(), d);
        assert_eq!(
            RequireAuth::only([AuthMethod::Gss, AuthMethod::Gss]).to_string(),
            "gss"
        );
    }

    #[test]
    fn libpq_errors() {
        for (s, needle) in [
            ("gss,!md5", "mixes"),
            ("!gss,md5", "mixes"),
            ("gss,gss", "more than once"),
            ("kerberos", "`kerberos`"),
            ("gss,", "``"),
            ("GSS", "`GSS`"),
        ] {
            let e = s.parse::<RequireAuth>().unwrap_err();
            assert!(e.to_string().contains("require_auth"), "{s}: {e}");
            assert!(e.to_string().contains(needle), "{s}: {e}");
        }
    }

    #[test]
    fn channel_binding_values() {
        for v in ["disable", "prefer", "require"] {
            assert_eq!(v.parse::<ChannelBinding>().unwrap().as_str(), v);
        }
        assert_eq!(ChannelBinding::default(), ChannelBinding::Prefer);
        assert!("yes".parse::<ChannelBinding>().is_err());
    }
}
