//! The Kerberos names a client needs for an Aurora cluster joined to a directory.
//!
//! Pure functions: no AWS call, no DNS lookup. They turn the directory's DNS name and the
//! cluster's endpoints into the realm, the service principal of each endpoint, the
//! domain-suffixed endpoint form and the `[domain_realm]` lines of a `krb5.conf`.

use serde::Serialize;
use std::fmt;

/// The Kerberos service name PostgreSQL uses (`krbsrvname`, libpq's default).
pub const SERVICE_NAME: &str = "postgres";

/// The DNS suffixes of RDS endpoints (commercial and China partitions).
///
/// Longest first, so that `rds.amazonaws.com.cn` is not cut at `rds.amazonaws.com`.
const RDS_SUFFIXES: [&str; 2] = ["rds.amazonaws.com.cn", "rds.amazonaws.com"];

/// A DNS name that cannot serve as a realm or a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a usable DNS name: {reason}")]
pub struct NameError {
    name: String,
    reason: &'static str,
}

impl NameError {
    fn new(name: &str, reason: &'static str) -> Self {
        NameError {
            name: name.to_owned(),
            reason,
        }
    }
}

/// Checks a DNS name and returns it in lower case without a trailing dot.
fn normalize_dns_name(name: &str) -> Result<String, NameError> {
    let trimmed = name.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(NameError::new(name, "it is empty"));
    }
    if trimmed.len() > 253 {
        return Err(NameError::new(name, "it is longer than 253 characters"));
    }
    for label in trimmed.split('.') {
        if label.is_empty() {
            return Err(NameError::new(name, "it has an empty label (two dots)"));
        }
        if label.len() > 63 {
            return Err(NameError::new(name, "a label is longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(NameError::new(
                name,
                "only letters, digits, `-` and `.` are allowed",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::new(name, "a label starts or ends with `-`"));
        }
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// The Kerberos realm of an AWS Managed Microsoft AD: its DNS name in upper case.
///
/// ```
/// assert_eq!(
///     aurora_krb_domain::names::realm_from_dns_name("corp.example.com").unwrap(),
///     "CORP.EXAMPLE.COM"
/// );
/// ```
pub fn realm_from_dns_name(dns_name: &str) -> Result<String, NameError> {
    Ok(normalize_dns_name(dns_name)?.to_ascii_uppercase())
}

/// The service principal a client asks the KDC for when it connects to `host`:
/// `postgres/<host>@<REALM>`.
///
/// The host is lower-cased because MIT krb5 and SSPI lower-case the host part of host-based
/// service names before they ask the KDC.
pub fn service_principal(host: &str, realm: &str) -> Result<String, NameError> {
    let host = normalize_dns_name(host)?;
    let realm = realm_from_dns_name(realm)?;
    Ok(format!("{SERVICE_NAME}/{host}@{realm}"))
}

/// The domain-suffixed form of an RDS endpoint, for clients that cannot use a
/// `[domain_realm]` mapping: `rds.amazonaws.com` is replaced by the directory's DNS name.
///
/// Returns `None` when `endpoint` is not an RDS name (already suffixed, or a custom DNS name).
/// The result resolves only once the user adds a DNS record or an `/etc/hosts` entry for it.
///
/// ```
/// assert_eq!(
///     aurora_krb_domain::names::domain_suffixed_endpoint(
///         "db-1.123456789012.us-east-1.rds.amazonaws.com",
///         "corp.example.com",
///     )
///     .unwrap()
///     .as_deref(),
///     Some("db-1.123456789012.us-east-1.corp.example.com"),
/// );
/// ```
pub fn domain_suffixed_endpoint(endpoint: &str, domain: &str) -> Result<Option<String>, NameError> {
    let endpoint = normalize_dns_name(endpoint)?;
    let domain = normalize_dns_name(domain)?;
    for suffix in RDS_SUFFIXES {
        if let Some(prefix) = endpoint.strip_suffix(suffix)
            && let Some(prefix) = prefix.strip_suffix('.')
            && !prefix.is_empty()
        {
            return Ok(Some(format!("{prefix}.{domain}")));
        }
    }
    Ok(None)
}

/// The role an endpoint plays in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointRole {
    /// The cluster (writer) endpoint.
    Writer,
    /// The reader endpoint, balanced over the replicas.
    Reader,
    /// A custom endpoint over a chosen set of instances.
    Custom,
    /// One instance's own endpoint.
    Instance,
}

impl fmt::Display for EndpointRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndpointRole::Writer => "writer",
            EndpointRole::Reader => "reader",
            EndpointRole::Custom => "custom",
            EndpointRole::Instance => "instance",
        })
    }
}

/// An endpoint of the cluster and the names a client uses with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointNames {
    /// What the endpoint is.
    pub role: EndpointRole,
    /// For instance endpoints, the instance identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The endpoint's DNS name, as RDS reports it.
    pub host: String,
    /// The service principal for `host`.
    pub principal: String,
    /// The domain-suffixed endpoint (`None` where AWS documents that it does not work, as for
    /// custom endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_suffixed_host: Option<String>,
    /// The service principal for the domain-suffixed endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_suffixed_principal: Option<String>,
}

/// Everything a client needs to name the cluster in Kerberos.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KerberosNames {
    /// The realm: the directory's DNS name in upper case.
    pub realm: String,
    /// The directory's DNS name (lower case).
    pub domain: String,
    /// Each endpoint with its principal.
    pub endpoints: Vec<EndpointNames>,
    /// The lines of the `[domain_realm]` section of `krb5.conf`.
    pub domain_realm: Vec<String>,
}

impl KerberosNames {
    /// Derives the names from the directory's DNS name and the cluster's endpoints.
    ///
    /// Endpoints are `(role, instance identifier, host)`; duplicates are dropped.
    pub fn derive<'a, I>(domain: &str, endpoints: I) -> Result<Self, NameError>
    where
        I: IntoIterator<Item = (EndpointRole, Option<&'a str>, &'a str)>,
    {
        let domain = normalize_dns_name(domain)?;
        let realm = domain.to_ascii_uppercase();
        let mut out: Vec<EndpointNames> = Vec::new();
        for (role, instance, host) in endpoints {
            let host = normalize_dns_name(host)?;
            if out.iter().any(|e| e.host == host) {
                continue;
            }
            let principal = service_principal(&host, &realm)?;
            // AWS documents that custom endpoints do not work in the domain-suffixed form.
            let suffixed = match role {
                EndpointRole::Custom => None,
                _ => domain_suffixed_endpoint(&host, &domain)?,
            };
            let suffixed_principal = suffixed
                .as_deref()
                .map(|h| service_principal(h, &realm))
                .transpose()?;
            out.push(EndpointNames {
                role,
                instance: instance.map(str::to_owned),
                host,
                principal,
                domain_suffixed_host: suffixed,
                domain_suffixed_principal: suffixed_principal,
            });
        }
        let domain_realm = domain_realm_lines(&realm, &domain, out.iter().map(|e| e.host.as_str()));
        Ok(KerberosNames {
            realm,
            domain,
            endpoints: out,
            domain_realm,
        })
    }

    /// The `krb5.conf` fragment: the `[domain_realm]` section with its lines.
    pub fn domain_realm_section(&self) -> String {
        let mut s = String::from("[domain_realm]\n");
        for line in &self.domain_realm {
            s.push_str("    ");
            s.push_str(line);
            s.push('\n');
        }
        s
    }
}

/// The `[domain_realm]` lines mapping each endpoint host and the directory's domain onto the
/// realm.
///
/// Each endpoint gets its own exact line rather than AWS's broad `.rds.amazonaws.com` rule: a
/// client that talks to clusters joined to different directories keeps working. The domain
/// lines cover the domain-suffixed endpoints and the domain controllers.
pub fn domain_realm_lines<'a>(
    realm: &str,
    domain: &str,
    hosts: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let mut lines: Vec<String> = hosts
        .into_iter()
        .map(|h| format!("{} = {realm}", h.to_ascii_lowercase()))
        .collect();
    lines.dedup();
    lines.push(format!(".{domain} = {realm}"));
    lines.push(format!("{domain} = {realm}"));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_is_the_upper_case_dns_name() {
        assert_eq!(
            realm_from_dns_name("corp.example.com").unwrap(),
            "CORP.EXAMPLE.COM"
        );
        assert_eq!(
            realm_from_dns_name("Corp.Example.COM.").unwrap(),
            "CORP.EXAMPLE.COM"
        );
        assert_eq!(realm_from_dns_name(" ad.test ").unwrap(), "AD.TEST");
    }

    #[test]
    fn bad_dns_names_are_refused_with_the_reason() {
        let e = realm_from_dns_name("").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = realm_from_dns_name("corp..example.com").unwrap_err();
        assert!(e.to_string().contains("empty label"), "{e}");
        let e = realm_from_dns_name("corp example.com").unwrap_err();
        assert!(e.to_string().contains("only letters"), "{e}");
        let e = realm_from_dns_name("-corp.example.com").unwrap_err();
        assert!(e.to_string().contains("starts or ends"), "{e}");
        let long = "a".repeat(64) + ".com";
        assert!(realm_from_dns_name(&long).is_err());
    }

    #[test]
    fn principal_is_postgres_slash_lower_case_host_at_realm() {
        assert_eq!(
            service_principal(
                "MyCluster.cluster-abc.us-east-1.rds.amazonaws.com",
                "corp.example.com"
            )
            .unwrap(),
            "postgres/mycluster.cluster-abc.us-east-1.rds.amazonaws.com@CORP.EXAMPLE.COM"
        );
    }

    #[test]
    fn domain_suffixed_endpoint_replaces_rds_amazonaws_com() {
        assert_eq!(
            domain_suffixed_endpoint(
                "mycluster-instance-1.123456789012.us-east-1.rds.amazonaws.com",
                "corp.example.com"
            )
            .unwrap()
            .as_deref(),
            Some("mycluster-instance-1.123456789012.us-east-1.corp.example.com")
        );
        assert_eq!(
            domain_suffixed_endpoint("db.abc.cn-north-1.rds.amazonaws.com.cn", "corp.example.cn")
                .unwrap()
                .as_deref(),
            Some("db.abc.cn-north-1.corp.example.cn")
        );
        // Not an RDS name: nothing to replace.
        assert_eq!(
            domain_suffixed_endpoint("db.internal.example.org", "corp.example.com").unwrap(),
            None
        );
        // A host merely ending in the same letters is not an RDS name.
        assert_eq!(
            domain_suffixed_endpoint("myrds.amazonaws.com", "corp.example.com").unwrap(),
            None
        );
    }

    #[test]
    fn derive_names_every_endpoint() {
        let names = KerberosNames::derive(
            "corp.example.com",
            [
                (
                    EndpointRole::Writer,
                    None,
                    "c.cluster-x.us-east-1.rds.amazonaws.com",
                ),
                (
                    EndpointRole::Reader,
                    None,
                    "c.cluster-ro-x.us-east-1.rds.amazonaws.com",
                ),
                (
                    EndpointRole::Custom,
                    None,
                    "analytics.cluster-custom-x.us-east-1.rds.amazonaws.com",
                ),
                (
                    EndpointRole::Instance,
                    Some("c-1"),
                    "c-1.x.us-east-1.rds.amazonaws.com",
                ),
                // Listed twice (e.g. member and instance list): kept once.
                (
                    EndpointRole::Instance,
                    Some("c-1"),
                    "c-1.x.us-east-1.rds.amazonaws.com",
                ),
            ],
        )
        .unwrap();
        assert_eq!(names.realm, "CORP.EXAMPLE.COM");
        assert_eq!(names.endpoints.len(), 4);
        let writer = &names.endpoints[0];
        assert_eq!(
            writer.principal,
            "postgres/c.cluster-x.us-east-1.rds.amazonaws.com@CORP.EXAMPLE.COM"
        );
        assert_eq!(
            writer.domain_suffixed_principal.as_deref(),
            Some("postgres/c.cluster-x.us-east-1.corp.example.com@CORP.EXAMPLE.COM")
        );
        let custom = &names.endpoints[2];
        assert_eq!(custom.role, EndpointRole::Custom);
        assert_eq!(
            custom.domain_suffixed_host, None,
            "custom endpoints have no suffixed form"
        );
        assert_eq!(names.endpoints[3].instance.as_deref(), Some("c-1"));
        assert_eq!(
            names.domain_realm,
            vec![
                "c.cluster-x.us-east-1.rds.amazonaws.com = CORP.EXAMPLE.COM",
                "c.cluster-ro-x.us-east-1.rds.amazonaws.com = CORP.EXAMPLE.COM",
                "analytics.cluster-custom-x.us-east-1.rds.amazonaws.com = CORP.EXAMPLE.COM",
                "c-1.x.us-east-1.rds.amazonaws.com = CORP.EXAMPLE.COM",
                ".corp.example.com = CORP.EXAMPLE.COM",
                "corp.example.com = CORP.EXAMPLE.COM",
            ]
        );
        let section = names.domain_realm_section();
        assert!(
            section.starts_with("[domain_realm]\n    c.cluster-x"),
            "{section}"
        );
    }

    #[test]
    fn derive_refuses_a_bad_endpoint() {
        let e = KerberosNames::derive(
            "corp.example.com",
            [(EndpointRole::Writer, None, "bad host")],
        )
        .unwrap_err();
        assert!(e.to_string().contains("bad host"), "{e}");
    }
}
