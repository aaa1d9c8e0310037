//! The DNS questions MIT krb5 asks: SRV records for a realm's KDCs, and the host name
//! canonicalization (`dns_canonicalize_hostname`, `rdns`) that may change the service
//! principal. Only called when krb5.conf lets the library ask DNS, so the answers are the
//! ones the library will get. Every query is bounded.

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;
use std::net::IpAddr;
use std::time::Duration;

/// A KDC found in DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvKdc {
    /// Target host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `udp` or `tcp`, from the record's name.
    pub transport: &'static str,
}

fn resolver(limit: Duration) -> Result<TokioResolver, String> {
    let mut b = TokioResolver::builder_tokio()
        .map_err(|e| format!("the system's DNS configuration cannot be read: {e}"))?;
    b.options_mut().timeout = limit;
    b.options_mut().attempts = 1;
    b.build().map_err(|e| format!("no DNS resolver: {e}"))
}

/// `_kerberos._udp.REALM` and `_kerberos._tcp.REALM`, as MIT asks them.
pub async fn srv_kdcs(realm: &str, limit: Duration) -> Result<Vec<SrvKdc>, String> {
    let r = resolver(limit)?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for transport in ["udp", "tcp"] {
        let name = format!("_kerberos._{transport}.{realm}.");
        match tokio::time::timeout(limit, r.srv_lookup(name.as_str())).await {
            Err(_) => errors.push(format!("{name}: no answer within {limit:?}")),
            Ok(Err(e)) => errors.push(format!("{name}: {e}")),
            Ok(Ok(l)) => {
                for rec in l.answers() {
                    if let RData::SRV(srv) = &rec.data {
                        out.push(SrvKdc {
                            host: srv.target.to_utf8().trim_end_matches('.').to_string(),
                            port: srv.port,
                            transport,
                        });
                    }
                }
            }
        }
    }
    if out.is_empty() && !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(out)
}

/// What DNS does to a host name before the principal is formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    /// The name the CNAME chain ends at (the host itself when there is none).
    pub canonical: String,
    /// The addresses.
    pub addrs: Vec<IpAddr>,
    /// The reverse (PTR) name of the first address, when `rdns` is on.
    pub reverse: Option<String>,
}

/// Follows CNAMEs like `getaddrinfo(AI_CANONNAME)` and, when `rdns`, looks up the PTR of
/// the first address.
pub async fn canonicalize(host: &str, rdns: bool, limit: Duration) -> Result<Canonical, String> {
    let r = resolver(limit)?;
    let fqdn = if host.ends_with('.') {
        host.to_string()
    } else {
        format!("{host}.")
    };
    let lookup = tokio::time::timeout(limit, r.lookup_ip(fqdn.as_str()))
        .await
        .map_err(|_| format!("{host}: no DNS answer within {limit:?}"))?
        .map_err(|e| format!("{host} does not resolve: {e}"))?;
    let mut canonical = host.trim_end_matches('.').to_string();
    for rec in lookup.as_lookup().answers() {
        if let RData::CNAME(c) = &rec.data {
            canonical = c.0.to_utf8().trim_end_matches('.').to_string();
        }
    }
    let addrs: Vec<IpAddr> = lookup.iter().collect();
    let mut reverse = None;
    if rdns
        && let Some(ip) = addrs.first()
        && let Ok(Ok(l)) = tokio::time::timeout(limit, r.reverse_lookup(*ip)).await
    {
        reverse = l.answers().iter().find_map(|rec| match &rec.data {
            RData::PTR(p) => Some(p.0.to_utf8().trim_end_matches('.').to_string()),
            _ => None,
        });
    }
    Ok(Canonical {
        canonical,
        addrs,
        reverse,
    })
}
