//! Host lists: trying `host`/`hostaddr`/`port` entries as libpq does, one connector per
//! host so each gets its own Kerberos service principal and TLS name.
//!
//! Hosts are tried in the order given (shuffled with `load_balance_hosts=random`), each
//! host's addresses in the resolver's order (shuffled too). A failure to reach an address
//! moves to the next address; a server that answers but refuses the login, or is not the
//! kind `target_session_attrs` asks for, moves to the next host. Failures of this client's
//! own Kerberos side (no ticket, wrong password, unreachable KDC...) end the login at once:
//! every host would meet them again, and retrying a wrong password locks accounts.
//!
//! Each address gets `connect_timeout` for the whole login (TCP, TLS, Kerberos, startup),
//! as libpq's deadline restarts with every address; the whole list is bounded by
//! `connect_timeout` times the number of hosts.

use crate::config::{HostTarget, LoadBalanceHosts, TargetSessionAttrs};
use crate::dial::resolve;
use crate::error::Kind;
use crate::session::{ServerState, Session, Want};
use crate::{Connector, Error, ErrorKind};
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One host (or one address of it) that a login tried and did not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The entry of the host list.
    pub target: HostTarget,
    /// The address dialled; `None` when the name did not resolve.
    pub addr: Option<SocketAddr>,
    /// Why it was not used.
    pub outcome: Outcome,
}

/// Why a host of the list was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The login failed there.
    Failed {
        /// The kind of failure (as [`Error::kind`]).
        kind: ErrorKind,
        /// The error, in words.
        message: String,
    },
    /// The login worked but the server is not the kind `target_session_attrs` asks for;
    /// the connection was closed.
    Unsuitable {
        /// What was asked for.
        wanted: TargetSessionAttrs,
        /// What the server is.
        server: ServerState,
    },
}

impl Attempt {
    /// `host port N (addr): why`, for messages.
    pub fn describe(&self) -> String {
        let at = match self.addr {
            Some(a) if self.target.hostaddr.is_none() => {
                format!("{} ({a})", self.target.describe())
            }
            _ => self.target.describe(),
        };
        match &self.outcome {
            Outcome::Failed { message, .. } => format!("{at}: {message}"),
            Outcome::Unsuitable { wanted, server } => format!(
                "{at}: {} (target_session_attrs={})",
                server.describe(),
                wanted.as_str()
            ),
        }
    }
}

/// Whether a failure at one host leaves the others worth trying.
fn next_host_may_work(kind: ErrorKind) -> bool {
    !matches!(
        kind,
        ErrorKind::Config
            | ErrorKind::Krb5Config
            | ErrorKind::NoCredentials
            | ErrorKind::CredentialsExpired
            | ErrorKind::KdcUnreachable
            | ErrorKind::ClientPrincipalUnknown
            | ErrorKind::BadPassword
            | ErrorKind::AccountRefused
    )
}

/// Whether the failure was on the way to the server (the next address of the same host may
/// work), rather than the server's answer.
fn network_failure(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::ServerUnreachable | ErrorKind::Timeout)
}

/// A random number for `load_balance_hosts=random` (std's per-process random keys: no
/// dependency, and nothing here needs more than an unpredictable order).
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        Instant::now()
            .elapsed()
            .as_nanos()
            .try_into()
            .unwrap_or_default(),
    );
    h.finish()
}

fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = (random_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

impl Connector {
    /// The connector of host `i` of the list (the connector itself for a single host).
    pub(crate) fn for_target(&self, i: usize) -> Connector {
        self.inner
            .targets
            .get(i)
            .cloned()
            .unwrap_or_else(|| self.clone())
    }

    /// One connector per host of the list, in the list's order (the connector itself for a
    /// single host): each with its host's service principal and TLS name, all sharing this
    /// connector's credential and TLS setup. A diagnostic runs the login steps on each.
    pub fn host_connectors(&self) -> Vec<Connector> {
        if self.inner.targets.is_empty() {
            vec![self.clone()]
        } else {
            self.inner.targets.clone()
        }
    }

    /// Opens a Kerberos-authenticated connection to the first host of the list that accepts
    /// the login and fits `target_session_attrs`, and says where it landed.
    ///
    /// When no host can be used, the error names every host tried and why
    /// ([`Error::attempts`] has them as data).
    pub async fn connect_session(&self) -> Result<Session, Error> {
        let c = &self.inner.config;
        let attrs = c.get_target_session_attrs();
        let want = Want::of(attrs);
        let random = c.get_load_balance_hosts() == LoadBalanceHosts::Random;
        let mut hosts: Vec<(usize, HostTarget)> = c.get_hosts().into_iter().enumerate().collect();
        if random {
            shuffle(&mut hosts);
        }
        let per = c.connect_timeout;
        let deadline = Instant::now() + per.saturating_mul(hosts.len().max(1) as u32);
        let mut attempts: Vec<Attempt> = Vec::new();
        // The error to return when no host works: the last one that is not about the
        // network, if any (the one the user must act on).
        let mut last_error: Option<Error> = None;
        let mut last_server_error: Option<Error> = None;
        // prefer-standby: the first server that is not a standby, kept open in case no
        // standby answers.
        let mut fallback: Option<Session> = None;
        let mut ran_out = false;
        'hosts: for (i, target) in hosts {
            let host = self.for_target(i);
            let Some(limit) = remaining(deadline, per) else {
                ran_out = true;
                break;
            };
            let mut addrs = match resolve(&target, limit).await {
                Ok(a) => a,
                Err(e) => {
                    attempts.push(failed(&target, None, &e));
                    last_error = Some(e);
                    continue;
                }
            };
            if random {
                shuffle(&mut addrs);
            }
            for addr in addrs {
                let Some(limit) = remaining(deadline, per) else {
                    ran_out = true;
                    break 'hosts;
                };
                let r = tokio::time::timeout(limit, host.session_at(&target, addr, want, limit))
                    .await
                    .unwrap_or_else(|_| Err(Error::timeout("login", limit)));
                match r {
                    Ok((session, true)) => return Ok(session),
                    Ok((session, false)) => {
                        attempts.push(Attempt {
                            target: target.clone(),
                            addr: Some(addr),
                            outcome: Outcome::Unsuitable {
                                wanted: attrs,
                                server: session.server,
                            },
                        });
                        if attrs == TargetSessionAttrs::PreferStandby && fallback.is_none() {
                            fallback = Some(session);
                        }
                        // Another address of this host is the same server.
                        continue 'hosts;
                    }
                    Err(e) => {
                        let kind = e.kind();
                        attempts.push(failed(&target, Some(addr), &e));
                        if !next_host_may_work(kind) {
                            return Err(finish_error(e, attempts, false));
                        }
                        let network = network_failure(kind) || e.broke_in_transit();
                        if network {
                            last_error = Some(e);
                        } else {
                            last_server_error = Some(e);
                            continue 'hosts;
                        }
                    }
                }
            }
        }
        if let Some(session) = fallback {
            tracing::debug!(
                host = %session.target.describe(),
                "no standby among the hosts: using the first server (prefer-standby)"
            );
            return Ok(session);
        }
        Err(self.no_host_error(attempts, last_server_error.or(last_error), ran_out))
    }

    /// One login at `addr` of `target` (this connector is the target's), and whether the
    /// server fits.
    async fn session_at(
        &self,
        target: &HostTarget,
        addr: SocketAddr,
        want: Want,
        limit: Duration,
    ) -> Result<(Session, bool), Error> {
        let (client, mut connection) = self.login_at(target, addr).await?;
        let (fits, server) = want.check(&client, &mut connection, limit).await?;
        Ok((
            Session {
                client,
                connection,
                target: target.clone(),
                peer: addr,
                server,
                connector: self.clone(),
            },
            fits,
        ))
    }

    fn no_host_error(&self, attempts: Vec<Attempt>, chosen: Option<Error>, ran_out: bool) -> Error {
        match chosen {
            // One failure, or a refusal by a server (the one to act on): that error, with
            // the list.
            Some(e) if (attempts.len() == 1 && !ran_out) || !network_failure(e.kind()) => {
                finish_error(e, attempts, ran_out)
            }
            _ => {
                let c = &self.inner.config;
                let n = c.get_hosts().len();
                let wanted = c.get_target_session_attrs();
                // Servers answered but none is of the kind asked for: the writer (or the
                // readers) is missing, as in a failover, not the network.
                if wanted != TargetSessionAttrs::Any
                    && attempts
                        .iter()
                        .any(|a| matches!(a.outcome, Outcome::Unsuitable { .. }))
                {
                    let mut hosts: Vec<String> = attempts.iter().map(what_it_was).collect();
                    if ran_out {
                        hosts.push(format!(
                            "the rest not tried: the login's bound (connect_timeout {:?} × {n} \
                             hosts) ran out",
                            c.connect_timeout
                        ));
                    }
                    return Error::new(Kind::NoSuitableHost {
                        wanted,
                        hosts: hosts.join("; "),
                    })
                    .with_attempts(attempts);
                }
                let mut detail = match c.get_target_session_attrs() {
                    TargetSessionAttrs::Any => String::from("no host accepted the login"),
                    a => format!("no host is {} (target_session_attrs)", want_words(a)),
                };
                detail.push_str(": ");
                detail.push_str(&list(&attempts, ran_out, c.connect_timeout, n));
                Error::new(Kind::ServerUnreachable {
                    addr: format!("any of the {n} hosts"),
                    detail,
                })
                .with_attempts(attempts)
            }
        }
    }
}

/// One host of a [`Kind::NoSuitableHost`] list: what the server is, or that it could not be
/// reached (and why), or how it refused.
fn what_it_was(a: &Attempt) -> String {
    let at = match a.addr {
        Some(addr) if a.target.hostaddr.is_none() => {
            format!("{} ({addr})", a.target.describe())
        }
        _ => a.target.describe(),
    };
    match &a.outcome {
        Outcome::Unsuitable { server, .. } => format!("{at}: {}", server.describe()),
        Outcome::Failed { kind, message } if network_failure(*kind) => {
            format!("{at}: unreachable ({message})")
        }
        Outcome::Failed { message, .. } => format!("{at}: refused the login ({message})"),
    }
}

pub(crate) fn want_words(a: TargetSessionAttrs) -> &'static str {
    match a {
        TargetSessionAttrs::Any => "usable",
        TargetSessionAttrs::ReadWrite => "read-write",
        TargetSessionAttrs::ReadOnly => "read-only",
        TargetSessionAttrs::Primary => "a primary",
        TargetSessionAttrs::Standby | TargetSessionAttrs::PreferStandby => "a standby",
    }
}

fn remaining(deadline: Instant, per: Duration) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then(|| left.min(per))
}

fn failed(target: &HostTarget, addr: Option<SocketAddr>, e: &Error) -> Attempt {
    Attempt {
        target: target.clone(),
        addr,
        outcome: Outcome::Failed {
            kind: e.kind(),
            // The attempt names the host already.
            message: match e.kind() {
                ErrorKind::ServerUnreachable => e.detail(),
                _ => e.to_string(),
            },
        },
    }
}

fn list(attempts: &[Attempt], ran_out: bool, per: Duration, hosts: usize) -> String {
    let mut parts: Vec<String> = attempts.iter().map(Attempt::describe).collect();
    if ran_out {
        parts.push(format!(
            "the rest not tried: the login's bound (connect_timeout {per:?} × {hosts} hosts) ran \
             out"
        ));
    }
    parts.join("; ")
}

/// Adds the list of hosts tried to `e` when there was more than one attempt.
fn finish_error(e: Error, attempts: Vec<Attempt>, ran_out: bool) -> Error {
    if attempts.len() <= 1 && !ran_out {
        return e.with_attempts(attempts);
    }
    let text = format!(
        "hosts tried: {}",
        attempts
            .iter()
            .map(Attempt::describe)
            .collect::<Vec<_>>()
            .join("; ")
    );
    let text = if ran_out {
        format!("{text}; the rest not tried: the login's overall bound ran out")
    } else {
        text
    };
    e.with_context(text).with_attempts(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_keeps_every_host_and_varies_the_order() {
        let base: Vec<u32> = (0..6).collect();
        let mut orders = std::collections::HashSet::new();
        for _ in 0..200 {
            let mut v = base.clone();
            shuffle(&mut v);
            let mut sorted = v.clone();
            sorted.sort();
            assert_eq!(sorted, base);
            orders.insert(v);
        }
        // 720 orders are possible; a fixed or near-fixed order would show here.
        assert!(orders.len() > 50, "{} orders", orders.len());
    }

    #[test]
    fn no_host_of_the_wanted_kind_is_its_own_retryable_kind_naming_each_host() {
        let c: crate::Config = "host=db-1.example.test,db-2.example.test,db-3.example.test \
            hostaddr=127.0.0.1,127.0.0.1,127.0.0.1 port=5433,5434,5435 sslmode=disable \
            target_session_attrs=read-write"
            .parse()
            .unwrap();
        let connector = Connector::new(c.clone()).unwrap();
        let hosts = c.get_hosts();
        let unsuitable = |i: usize, standby: bool| Attempt {
            target: hosts[i].clone(),
            addr: Some(SocketAddr::new(hosts[i].hostaddr.unwrap(), hosts[i].port)),
            outcome: Outcome::Unsuitable {
                wanted: TargetSessionAttrs::ReadWrite,
                server: ServerState {
                    hot_standby: Some(standby),
                    read_only: Some(true),
                },
            },
        };
        let refused = Error::new(Kind::ServerUnreachable {
            addr: hosts[2].describe(),
            detail: "127.0.0.1:5435: Connection refused (os error 111)".into(),
        });
        let attempts = vec![
            unsuitable(0, true),
            unsuitable(1, false),
            failed(&hosts[2], Some("127.0.0.1:5435".parse().unwrap()), &refused),
        ];
        let e = connector.no_host_error(attempts, Some(refused), false);
        assert_eq!(e.kind(), ErrorKind::NoSuitableHost);
        assert!(e.is_retryable());
        assert_eq!(e.attempts().len(), 3);
        let text = e.to_string();
        for words in [
            "no host is read-write (target_session_attrs=read-write)",
            "retrying",
            "db-1.example.test (127.0.0.1) port 5433: a hot standby",
            "db-2.example.test (127.0.0.1) port 5434: a primary whose sessions are read-only",
            "db-3.example.test (127.0.0.1) port 5435: unreachable (127.0.0.1:5435: Connection refused",
        ] {
            assert!(text.contains(words), "{words}: {text}");
        }

        // Nothing answered at all: still the network's fault, as before.
        let none = connector.no_host_error(
            vec![failed(
                &hosts[2],
                None,
                &Error::timeout("login", Duration::from_secs(1)),
            )],
            Some(Error::timeout("login", Duration::from_secs(1))),
            true,
        );
        assert_eq!(none.kind(), ErrorKind::ServerUnreachable);
    }

    #[test]
    fn own_kerberos_failures_stop_the_list() {
        for k in [
            ErrorKind::NoCredentials,
            ErrorKind::BadPassword,
            ErrorKind::KdcUnreachable,
            ErrorKind::AccountRefused,
        ] {
            assert!(!next_host_may_work(k), "{k:?}");
        }
        for k in [
            ErrorKind::ServerUnreachable,
            ErrorKind::Timeout,
            ErrorKind::Tls,
            ErrorKind::ServicePrincipalUnknown,
            ErrorKind::ServerGss,
            ErrorKind::Server,
        ] {
            assert!(next_host_may_work(k), "{k:?}");
        }
    }
}
