//! Free loopback ports, so that any number of realms (and test binaries) run side by side.
use std::net::{Ipv4Addr, TcpListener, UdpSocket};

use crate::Error;

/// A port free for TCP, and for UDP too when `udp` is set (the KDC listens on both).
pub(crate) fn free_port(what: &'static str, udp: bool) -> Result<u16, Error> {
    for _ in 0..50 {
        let Ok(tcp) = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) else {
            continue;
        };
        let Ok(addr) = tcp.local_addr() else { continue };
        if udp && UdpSocket::bind((Ipv4Addr::LOCALHOST, addr.port())).is_err() {
            continue;
        }
        return Ok(addr.port());
    }
    Err(Error::NoPort(what))
}
