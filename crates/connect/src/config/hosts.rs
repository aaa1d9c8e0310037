//! Host lists (`host`, `hostaddr`, `port` as comma lists, as libpq reads them) and the
//! settings that choose among the hosts (`target_session_attrs`, `load_balance_hosts`).

use crate::error::Error;
use std::net::IpAddr;
use std::str::FromStr;

/// libpq's default port.
pub const DEFAULT_PORT: u16 = 5432;

/// One server to try: entry *i* of the `host`, `hostaddr` and `port` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTarget {
    /// The host name: resolved and dialled when `hostaddr` is `None`; also the host of the
    /// Kerberos service principal (unless `krbsrvhost` is set) and the name the certificate
    /// must carry (unless `sslhost` is set). `None` when only an address was given.
    pub host: Option<String>,
    /// The address dialled instead of resolving `host`.
    pub hostaddr: Option<IpAddr>,
    /// The TCP port.
    pub port: u16,
}

impl HostTarget {
    /// A target with a host name and a port.
    pub fn new(host: impl Into<String>, port: u16) -> HostTarget {
        HostTarget {
            host: Some(host.into()),
            hostaddr: None,
            port,
        }
    }

    /// `host (addr) port N`, for messages.
    pub fn describe(&self) -> String {
        match (&self.host, self.hostaddr) {
            (Some(h), Some(a)) => format!("{h} ({a}) port {}", self.port),
            (Some(h), None) => format!("{h} port {}", self.port),
            (None, Some(a)) => format!("{a} port {}", self.port),
            (None, None) => format!("port {}", self.port),
        }
    }
}

/// The three lists as given; combined into targets by [`HostLists::targets`].
#[derive(Debug, Clone, Default)]
pub(crate) struct HostLists {
    /// Entries of `host`; an empty entry is allowed when `hostaddr` gives that entry.
    pub(crate) host: Vec<String>,
    /// Entries of `hostaddr`; `None` for an empty entry (resolve that host).
    pub(crate) hostaddr: Vec<Option<IpAddr>>,
    /// Entries of `port`; `None` for an empty entry (5432).
    pub(crate) port: Vec<Option<u16>>,
}

impl HostLists {
    pub(crate) fn set_host(&mut self, value: &str) -> Result<(), Error> {
        if value.is_empty() {
            return Err(Error::config(
                "host is empty",
                "give the endpoint's host name, e.g. host=mydb.cluster-x.us-east-1.rds.corp.example.com",
            ));
        }
        let entries: Vec<String> = value.split(',').map(|h| h.trim().to_string()).collect();
        for h in &entries {
            if h.starts_with('/') || h.starts_with('@') {
                return Err(Error::config(
                    format!("host `{h}` is a Unix socket"),
                    "Kerberos logins to Aurora go over TCP: give the endpoint's host name",
                ));
            }
        }
        self.host = entries;
        Ok(())
    }

    pub(crate) fn set_hostaddr(&mut self, value: &str) -> Result<(), Error> {
        if value.is_empty() {
            self.hostaddr.clear();
            return Ok(());
        }
        let mut out = Vec::new();
        for a in value.split(',').map(str::trim) {
            if a.is_empty() {
                out.push(None);
                continue;
            }
            out.push(Some(a.parse().map_err(|_| {
                Error::config(
                    format!("hostaddr `{a}` is not an IP address"),
                    "give numeric addresses (e.g. hostaddr=10.0.0.5,10.0.0.6), or use host= for \
                     names",
                )
            })?));
        }
        self.hostaddr = out;
        Ok(())
    }

    pub(crate) fn set_port(&mut self, value: &str) -> Result<(), Error> {
        if value.is_empty() {
            self.port.clear();
            return Ok(());
        }
        let mut out = Vec::new();
        for p in value.split(',').map(str::trim) {
            if p.is_empty() {
                out.push(None);
                continue;
            }
            out.push(Some(p.parse().ok().filter(|p| *p != 0).ok_or_else(
                || {
                    Error::config(
                        format!("port `{p}` is not a port number"),
                        "give a number from 1 to 65535 (Aurora listens on 5432 by default), or one \
                     per host: port=5432,5433",
                    )
                },
            )?));
        }
        self.port = out;
        Ok(())
    }

    /// How many targets the lists describe, as libpq counts them: the `hostaddr` entries, else
    /// the `host` entries, else one.
    fn count(&self) -> usize {
        if !self.hostaddr.is_empty() {
            self.hostaddr.len()
        } else if !self.host.is_empty() {
            self.host.len()
        } else {
            1
        }
    }

    /// Entry `i`, with the single-port rule; lists shorter than `i` give defaults.
    fn entry(&self, i: usize) -> HostTarget {
        let port = match self.port.len() {
            0 => None,
            1 => self.port[0],
            _ => self.port.get(i).copied().flatten(),
        };
        HostTarget {
            host: self.host.get(i).filter(|h| !h.is_empty()).cloned(),
            hostaddr: self.hostaddr.get(i).copied().flatten(),
            port: port.unwrap_or(DEFAULT_PORT),
        }
    }

    /// The targets, without checking that the lists fit together.
    pub(crate) fn targets_lenient(&self) -> Vec<HostTarget> {
        (0..self.count()).map(|i| self.entry(i)).collect()
    }

    /// The targets; errors when the lists do not fit together (libpq's rules) or an entry
    /// names no server.
    pub(crate) fn targets(&self) -> Result<Vec<HostTarget>, Error> {
        self.check_lengths()?;
        let n = self.count();
        let targets = self.targets_lenient();
        if n > 1 {
            for (i, t) in targets.iter().enumerate() {
                if t.host.is_none() && t.hostaddr.is_none() {
                    return Err(Error::config(
                        format!(
                            "entry {} of the host list is empty and has no hostaddr (libpq would \
                             use a Unix socket there)",
                            i + 1
                        ),
                        "give a host name (or a hostaddr) for every entry of host=",
                    ));
                }
            }
        }
        Ok(targets)
    }

    /// libpq's length rules only.
    pub(crate) fn check_lengths(&self) -> Result<(), Error> {
        let n = self.count();
        if !self.host.is_empty() && !self.hostaddr.is_empty() && self.host.len() != n {
            return Err(Error::config(
                format!(
                    "host lists {} names but hostaddr {} addresses",
                    self.host.len(),
                    self.hostaddr.len()
                ),
                "give one hostaddr entry per host entry (leave an entry empty to resolve that \
                 host: hostaddr=10.0.0.5,)",
            ));
        }
        if self.port.len() > 1 && self.port.len() != n {
            return Err(Error::config(
                format!(
                    "port lists {} numbers for {n} host{}",
                    self.port.len(),
                    if n == 1 { "" } else { "s" }
                ),
                "give one port for all hosts, or one per host (port=5432,5433)",
            ));
        }
        Ok(())
    }

    /// Replaces the lists with these targets.
    pub(crate) fn set_targets(&mut self, targets: &[HostTarget]) {
        self.host = targets
            .iter()
            .map(|t| t.host.clone().unwrap_or_default())
            .collect();
        if self.host.iter().all(String::is_empty) {
            self.host.clear();
        }
        self.hostaddr = targets.iter().map(|t| t.hostaddr).collect();
        if self.hostaddr.iter().all(Option::is_none) {
            self.hostaddr.clear();
        }
        self.port = targets.iter().map(|t| Some(t.port)).collect();
    }
}

/// Which servers of the host list are acceptable, as libpq's `target_session_attrs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetSessionAttrs {
    /// Any server (the default).
    #[default]
    Any,
    /// A server that accepts writes: not in hot standby and `default_transaction_read_only`
    /// off (`SHOW transaction_read_only` is `off`).
    ReadWrite,
    /// A server that does not accept writes by default.
    ReadOnly,
    /// A server not in hot standby (on Aurora: the writer).
    Primary,
    /// A server in hot standby (on Aurora: a reader).
    Standby,
    /// A standby if any of the hosts is one; else any server.
    PreferStandby,
}

impl TargetSessionAttrs {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
            TargetSessionAttrs::Primary => "primary",
            TargetSessionAttrs::Standby => "standby",
            TargetSessionAttrs::PreferStandby => "prefer-standby",
        }
    }
}

impl FromStr for TargetSessionAttrs {
    type Err = Error;
    fn from_str(s: &str) -> Result<TargetSessionAttrs, Error> {
        Ok(match s {
            "" | "any" => TargetSessionAttrs::Any,
            "read-write" => TargetSessionAttrs::ReadWrite,
            "read-only" => TargetSessionAttrs::ReadOnly,
            "primary" => TargetSessionAttrs::Primary,
            "standby" => TargetSessionAttrs::Standby,
            "prefer-standby" => TargetSessionAttrs::PreferStandby,
            other => {
                return Err(Error::config(
                    format!("unknown target_session_attrs `{other}`"),
                    "use one of any, read-write, read-only, primary, standby, prefer-standby",
                ));
            }
        })
    }
}

/// The order in which hosts are tried, as libpq's `load_balance_hosts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadBalanceHosts {
    /// In the order given (the default).
    #[default]
    Disable,
    /// Hosts shuffled, then each host's addresses shuffled.
    Random,
}

impl LoadBalanceHosts {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadBalanceHosts::Disable => "disable",
            LoadBalanceHosts::Random => "random",
        }
    }
}

impl FromStr for LoadBalanceHosts {
    type Err = Error;
    fn from_str(s: &str) -> Result<LoadBalanceHosts, Error> {
        match s {
            "" | "disable" => Ok(LoadBalanceHosts::Disable),
            "random" => Ok(LoadBalanceHosts::Random),
            other => Err(Error::config(
                format!("unknown load_balance_hosts `{other}`"),
                "use disable (the default: hosts in the order given) or random",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(host: &str, hostaddr: &str, port: &str) -> Result<Vec<HostTarget>, Error> {
        let mut l = HostLists::default();
        if !host.is_empty() {
            l.set_host(host)?;
        }
        l.set_hostaddr(hostaddr)?;
        l.set_port(port)?;
        l.targets()
    }

    fn t(host: Option<&str>, addr: Option<&str>, port: u16) -> HostTarget {
        HostTarget {
            host: host.map(str::to_string),
            hostaddr: addr.map(|a| a.parse().unwrap()),
            port,
        }
    }

    #[test]
    fn libpq_list_rules() {
        assert_eq!(lists("a", "", "").unwrap(), vec![t(Some("a"), None, 5432)]);
        assert_eq!(
            lists("a,b", "", "6000").unwrap(),
            vec![t(Some("a"), None, 6000), t(Some("b"), None, 6000)]
        );
        assert_eq!(
            lists("a,b", "", "6000,").unwrap(),
            vec![t(Some("a"), None, 6000), t(Some("b"), None, 5432)]
        );
        assert_eq!(
            lists("a,", "10.0.0.1,10.0.0.2", "").unwrap(),
            vec![
                t(Some("a"), Some("10.0.0.1"), 5432),
                t(None, Some("10.0.0.2"), 5432)
            ]
        );
        assert_eq!(
            lists("", "10.0.0.1,::1", "1,2").unwrap(),
            vec![t(None, Some("10.0.0.1"), 1), t(None, Some("::1"), 2)]
        );
        assert_eq!(
            lists("a,b", ",10.0.0.2", "").unwrap(),
            vec![
                t(Some("a"), None, 5432),
                t(Some("b"), Some("10.0.0.2"), 5432)
            ]
        );
        // No host at all: one target with nothing (validate() says "no host given").
        assert_eq!(lists("", "", "").unwrap(), vec![t(None, None, 5432)]);
    }

    #[test]
    fn mismatches_are_named() {
        for (h, a, p, needle) in [
            ("a,b", "10.0.0.1", "", "hostaddr"),
            ("a,b,c", "", "1,2", "port lists 2 numbers for 3 hosts"),
            ("", "", "1,2", "port lists 2 numbers for 1 host"),
            ("a,,b", "", "", "entry 2"),
            ("a", "", "x", "port `x`"),
            ("a", "", "0", "port `0`"),
            ("a", "db.example", "", "hostaddr `db.example`"),
            ("a,/tmp", "", "", "Unix socket"),
            ("@abstract", "", "", "Unix socket"),
        ] {
            let e = lists(h, a, p).unwrap_err();
            assert!(e.to_string().contains(needle), "{h}|{a}|{p}: {e}");
            assert!(!e.fix().is_empty());
        }
    }

    #[test]
    fn enums_parse_libpq_spellings() {
        for v in [
            "any",
            "read-write",
            "read-only",
            "primary",
            "standby",
            "prefer-standby",
        ] {
            assert_eq!(v.parse::<TargetSessionAttrs>().unwrap().as_str(), v);
        }
        assert!("master".parse::<TargetSessionAttrs>().is_err());
        for v in ["disable", "random"] {
            assert_eq!(v.parse::<LoadBalanceHosts>().unwrap().as_str(), v);
        }
        let e = "shuffle".parse::<LoadBalanceHosts>().unwrap_err();
        assert!(e.to_string().contains("load_balance_hosts"));
    }
}
