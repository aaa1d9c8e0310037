//! The two spellings of a libpq connection string, `key=value` pairs and
//! `postgresql://` URIs, turned into the same ordered list of pairs.

use crate::error::Error;

/// Splits `s` (a `key=value` string or a URI) into pairs, in order; a later pair for the same
/// key wins, as in libpq.
pub(crate) fn pairs(s: &str) -> Result<Vec<(String, String)>, Error> {
    let t = s.trim();
    if t.starts_with("postgres://") || t.starts_with("postgresql://") {
        uri_pairs(t)
    } else {
        parse_key_values(t)
    }
}

/// Splits a libpq connection string into pairs: `key = value`, values optionally in single
/// quotes, backslash escapes a quote or a backslash.
pub(crate) fn parse_key_values(s: &str) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(Error::config(
                format!("`{key}` in the connection string has no `=value`"),
                "write key=value pairs separated by spaces, e.g. host=db.example.com port=5432",
            ));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => break,
                    },
                    Some('\'') => {
                        out.push((key, value));
                        break;
                    }
                    Some(c) => value.push(c),
                    None => {
                        return Err(Error::config(
                            format!("the value of `{key}` has no closing quote"),
                            "close the quoted value with '",
                        ));
                    }
                }
            }
            continue;
        }
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c == '\\' {
                if let Some(n) = chars.next() {
                    value.push(n);
                }
            } else {
                value.push(c);
            }
        }
        out.push((key, value));
    }
}

/// `postgresql://[user@][host][:port][,host[:port]...][/dbname][?key=value&...]`, as libpq
/// reads it: several hosts become the comma lists `host` and `port`.
fn uri_pairs(uri: &str) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let (before_query, query) = match rest.split_once('?') {
        Some((a, b)) => (a, Some(b)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (before_query, None),
    };
    let hostports = match authority.rsplit_once('@') {
        Some((userinfo, hp)) => {
            if userinfo.contains(':') {
                return Err(Error::config(
                    "the URI carries a password",
                    "remove the password from the URI: Kerberos logins need none, and a \
                     password in a connection string ends up in logs (a password for servers \
                     that ask for one is given in code with Config::password_fallback)",
                ));
            }
            if !userinfo.is_empty() {
                out.push(("user".into(), percent_decode(userinfo)?));
            }
            hp
        }
        None => authority,
    };
    if !hostports.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for hostport in hostports.split(',') {
            let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
                // An IPv6 literal in brackets.
                let (h, after) = inner.split_once(']').ok_or_else(|| {
                    Error::config(
                        format!("unterminated `[` in the URI host `{hostport}`"),
                        "write an IPv6 address as [addr]:port",
                    )
                })?;
                let port = match after {
                    "" => "",
                    p => p.strip_prefix(':').ok_or_else(|| {
                        Error::config(
                            format!("unexpected `{p}` after the IPv6 address `[{h}]` in the URI"),
                            "write an IPv6 address as [addr]:port",
                        )
                    })?,
                };
                (h.to_string(), port)
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) => (percent_decode(h)?, p),
                    None => (percent_decode(hostport)?, ""),
                }
            };
            hosts.push(host);
            ports.push(port.to_string());
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            out.push(("host".into(), hosts.join(",")));
        }
        if ports.iter().any(|p| !p.is_empty()) {
            out.push(("port".into(), ports.join(",")));
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        out.push(("dbname".into(), percent_decode(db)?));
    }
    if let Some(q) = query {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                Error::config(
                    format!("URI parameter `{pair}` has no value"),
                    "write parameters as key=value",
                )
            })?;
            let (k, v) = (percent_decode(k)?, percent_decode(v)?);
            if k == "ssl" {
                // libpq's JDBC compatibility: ssl=true means sslmode=require.
                if v != "true" {
                    return Err(Error::config(
                        format!("URI parameter ssl={v} is not understood"),
                        "write ssl=true (libpq reads it as sslmode=require), or use sslmode=",
                    ));
                }
                out.push(("sslmode".into(), "require".into()));
                continue;
            }
            out.push((k, v));
        }
    }
    Ok(out)
}

pub(crate) fn percent_decode(s: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    Error::config(
                        format!("bad percent escape in URI part `{s}`"),
                        "escape characters as %XX with two hex digits (`@` is %40)",
                    )
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        Error::config(
            format!("URI part `{s}` is not UTF-8 after decoding"),
            "escape only UTF-8 text",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, String)> {
        pairs(s).unwrap()
    }
    fn kv(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn key_values_with_quotes_and_escapes() {
        let kv_ =
            parse_key_values(r"host = db.example.test options='-c search_path=a\'b' port=5433")
                .unwrap();
        assert_eq!(
            kv_,
            kv(&[
                ("host", "db.example.test"),
                ("options", "-c search_path=a'b"),
                ("port", "5433"),
            ])
        );
        assert_eq!(p("a='' b=x"), kv(&[("a", ""), ("b", "x")]));
    }

    #[test]
    fn multi_host_uri() {
        assert_eq!(
            p("postgresql://h1:5432,h2:5433/db"),
            kv(&[("host", "h1,h2"), ("port", "5432,5433"), ("dbname", "db")])
        );
        assert_eq!(
            p("postgres://h1,h2:5433,[::1]/"),
            kv(&[("host", "h1,h2,::1"), ("port", ",5433,")])
        );
        assert_eq!(p("postgres://h1,h2"), kv(&[("host", "h1,h2")]));
        assert_eq!(
            p("postgres://[fe80::1]:6000,[::2]"),
            kv(&[("host", "fe80::1,::2"), ("port", "6000,")])
        );
    }

    #[test]
    fn uri_parts() {
        assert_eq!(
            p("postgresql://al%40R@h/d%20b?sslmode=verify-ca&ssl=true&x=%41"),
            kv(&[
                ("user", "al@R"),
                ("host", "h"),
                ("dbname", "d b"),
                ("sslmode", "verify-ca"),
                ("sslmode", "require"),
                ("x", "A"),
            ])
        );
        assert_eq!(p("postgres://"), kv(&[]));
        assert_eq!(p("postgresql:///db"), kv(&[("dbname", "db")]));
        for bad in [
            "postgres://[::1",
            "postgres://[::1]x",
            "postgres://h?ssl=1",
            "postgres://h?k",
            "postgres://h/%zz",
            "postgres://u:pw@h",
        ] {
            let e = pairs(bad).unwrap_err();
            assert!(!e.fix().is_empty(), "{bad}");
            assert!(!e.to_string().contains("pw@"), "{e}");
        }
    }
}
