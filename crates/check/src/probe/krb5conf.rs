//! krb5.conf as MIT's profile library reads it: which files, `include`/`includedir`, and
//! the answers `aurora-krb check` needs (default realm, the realm a host maps to and why,
//! KDCs, DNS settings). Pure parsing: no network, no Kerberos library.

use super::bytes::{ReadError, read_capped, size};
use std::fmt;
use std::path::{Path, PathBuf};

/// The largest krb5.conf file read. Real ones are a few kB; a file this size is something
/// else named by mistake (or `/dev/zero`), and reading it whole would never end.
pub const MAX_CONF_BYTES: u64 = 4 << 20;
/// How deep `include`/`includedir` may nest.
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// How many files (named and included) are read at most: a file included over and over (a
/// diamond of includes) multiplies with every level, and MIT reads each inclusion again.
pub const MAX_CONF_FILES: usize = 64;
/// How many bytes are read over all files.
pub const MAX_CONF_TOTAL_BYTES: u64 = 16 << 20;

/// The state of one walk through the files and their includes.
#[derive(Default)]
struct Walk {
    /// The files being read, outermost first (canonical paths), to tell a loop.
    chain: Vec<PathBuf>,
    /// Files read so far.
    files: usize,
    /// Bytes read so far.
    bytes: u64,
    /// The file-count bound was hit and reported.
    capped: bool,
}

/// The path as the kernel resolves it (symlinks, `..`), for telling a loop; the path as
/// written when it cannot be resolved.
fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// One `tag = value` relation, or a `tag = { ... }` subsection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `tag = value`.
    Value(String, String),
    /// `tag = { ... }`.
    Tree(String, Vec<Node>),
}

/// A `[section]` of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The section name, e.g. `libdefaults`.
    pub name: String,
    /// Its relations in file order.
    pub nodes: Vec<Node>,
    /// The file it came from.
    pub file: PathBuf,
}

/// A problem found while reading the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIssue {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number (0 when the file as a whole is concerned).
    pub line: usize,
    /// What is wrong.
    pub message: String,
    /// What kind of problem it is: it decides the fix.
    pub kind: IssueKind,
}

/// What kind of problem a [`ParseIssue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueKind {
    /// A line the Kerberos library refuses; MIT then refuses the whole file.
    Syntax,
    /// A file (named or included) or an `includedir` folder that cannot be read: missing,
    /// not permitted, not text, or far too large to be a krb5.conf.
    Unreadable,
    /// An include that leads back to a file being read: MIT follows it until it runs out of
    /// file descriptors.
    IncludeLoop,
    /// Includes past the bounds of this reader (nesting depth, number of files, total
    /// size): the rest is not read.
    IncludeBound,
}

impl fmt::Display for ParseIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// The merged configuration: for single values the first file (in `KRB5_CONFIG` order)
/// that sets a relation wins, as in MIT's profile library.
#[derive(Debug, Clone, Default)]
pub struct Krb5Conf {
    /// Every section of every file read, in reading order.
    pub sections: Vec<Section>,
    /// The files read (named ones and included ones), in order.
    pub files_read: Vec<PathBuf>,
    /// Files named by `KRB5_CONFIG` (or the default) that do not exist: skipped, as MIT does.
    pub files_missing: Vec<PathBuf>,
    /// Syntax errors and unreadable files. MIT refuses a file with a syntax error.
    pub issues: Vec<ParseIssue>,
}

/// Where the list of configuration files came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// The `KRB5_CONFIG` environment variable (a colon-separated list).
    Env(String),
    /// The built-in default, `/etc/krb5.conf`.
    Default,
}

/// The files MIT reads: `KRB5_CONFIG`'s colon-separated list, else `/etc/krb5.conf`.
pub fn config_files(krb5_config: Option<&str>) -> (ConfigSource, Vec<PathBuf>) {
    match krb5_config.filter(|v| !v.is_empty()) {
        Some(v) => (
            ConfigSource::Env(v.to_string()),
            v.split(':')
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect(),
        ),
        None => (ConfigSource::Default, vec![PathBuf::from("/etc/krb5.conf")]),
    }
}

/// Why a host maps to a realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealmVia {
    /// A `[domain_realm]` relation matched (the key that matched).
    DomainRealm(String),
    /// No relation matched: MIT asks the client realm's KDC for a referral and, failing
    /// that, uses `default_realm` (the realm given here).
    Referral(Option<String>),
}

/// The realm a service host belongs to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRealm {
    /// The realm, when one can be named without asking a KDC.
    pub realm: Option<String>,
    /// How it was found.
    pub via: RealmVia,
}

/// A KDC as written in `[realms]`: `host`, `host:port`, `[v6]:port`, with an optional
/// `tcp/` or `udp/` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdcSpec {
    /// Host name or address.
    pub host: String,
    /// Port (88 when not written).
    pub port: u16,
    /// `Some("tcp")`/`Some("udp")` when the entry is restricted to one transport.
    pub transport: Option<&'static str>,
    /// The entry as written.
    pub written: String,
}

impl Krb5Conf {
    /// Reads the files `KRB5_CONFIG` names (or `/etc/krb5.conf`), following includes.
    pub fn load(krb5_config: Option<&str>) -> (ConfigSource, Krb5Conf) {
        let (source, files) = config_files(krb5_config);
        let mut conf = Krb5Conf::default();
        let mut walk = Walk::default();
        for f in &files {
            if !f.exists() {
                conf.files_missing.push(f.clone());
                continue;
            }
            conf.read_file(f, &mut walk, None);
        }
        (source, conf)
    }

    /// Parses configuration text as if it were the file `file` (includes are followed on
    /// disk, within the same bounds as [`Krb5Conf::load`]).
    pub fn from_text(file: &Path, text: &str) -> Krb5Conf {
        let mut conf = Krb5Conf::default();
        conf.files_read.push(file.to_path_buf());
        let mut walk = Walk {
            files: 1,
            bytes: text.len() as u64,
            ..Walk::default()
        };
        walk.chain.push(canonical(file));
        conf.parse(file, text, &mut walk);
        conf
    }

    /// Reads one file, named or included (`from`: the including file and line), within the
    /// bounds on depth, loops, file count and size.
    fn read_file(&mut self, file: &Path, walk: &mut Walk, from: Option<(&Path, usize)>) {
        let (at, line) = from.unwrap_or((file, 0));
        let issue = |kind: IssueKind, message: String| ParseIssue {
            file: at.to_path_buf(),
            line,
            message,
            kind,
        };
        if walk.chain.len() > MAX_INCLUDE_DEPTH {
            self.issues.push(issue(
                IssueKind::IncludeBound,
                format!(
                    "includes nested deeper than {MAX_INCLUDE_DEPTH} levels: {} is not read",
                    file.display()
                ),
            ));
            return;
        }
        let key = canonical(file);
        if let Some(start) = walk.chain.iter().position(|p| *p == key) {
            // MIT follows the loop until it runs out of file descriptors and then fails.
            let cycle: Vec<String> = walk.chain[start..]
                .iter()
                .chain([&key])
                .map(|p| p.display().to_string())
                .collect();
            self.issues.push(issue(
                IssueKind::IncludeLoop,
                format!(
                    "an include loop ({}): remove the include of {}",
                    cycle.join(" -> "),
                    file.display()
                ),
            ));
            return;
        }
        if walk.files >= MAX_CONF_FILES {
            if !walk.capped {
                walk.capped = true;
                self.issues.push(issue(
                    IssueKind::IncludeBound,
                    format!(
                        "more than {MAX_CONF_FILES} krb5.conf files through includes (a file \
                     included over and over?): {} and the rest are not read",
                        file.display()
                    ),
                ));
            }
            return;
        }
        let budget = MAX_CONF_TOTAL_BYTES.saturating_sub(walk.bytes);
        let limit = MAX_CONF_BYTES.min(budget);
        let at_file = |kind: IssueKind, message: String| ParseIssue {
            file: file.to_path_buf(),
            line: 0,
            message,
            kind,
        };
        let data = match read_capped(file, limit) {
            Ok(d) => d,
            Err(ReadError::TooLarge { .. }) if limit < MAX_CONF_BYTES => {
                self.issues.push(at_file(
                    IssueKind::IncludeBound,
                    format!(
                        "not read: the files read before it and it hold more than {} together",
                        size(MAX_CONF_TOTAL_BYTES)
                    ),
                ));
                return;
            }
            Err(e @ ReadError::TooLarge { .. }) => {
                self.issues.push(at_file(
                    IssueKind::Unreadable,
                    format!("not a krb5.conf: {e} (a device, or another kind of file?)"),
                ));
                return;
            }
            Err(ReadError::Io(e)) => {
                self.issues.push(at_file(
                    IssueKind::Unreadable,
                    format!("cannot be read: {e}"),
                ));
                return;
            }
        };
        walk.files += 1;
        walk.bytes += data.len() as u64;
        let text = match String::from_utf8(data) {
            Ok(t) => t,
            Err(e) => {
                self.issues.push(at_file(
                    IssueKind::Unreadable,
                    format!(
                        "cannot be read: it is not UTF-8 text (byte {})",
                        e.utf8_error().valid_up_to()
                    ),
                ));
                return;
            }
        };
        self.files_read.push(file.to_path_buf());
        walk.chain.push(key);
        self.parse(file, &text, walk);
        walk.chain.pop();
    }

    fn parse(&mut self, file: &Path, text: &str, walk: &mut Walk) {
        let issue = |line: usize, message: String| ParseIssue {
            file: file.to_path_buf(),
            line,
            message,
            kind: IssueKind::Syntax,
        };
        let mut current: Option<Section> = None;
        // Open subsections: (tag, nodes so far).
        let mut stack: Vec<(String, Vec<Node>)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if stack.is_empty() {
                if let Some(path) = line.strip_prefix("includedir ") {
                    self.include_dir(Path::new(path.trim()), walk, file, n);
                    continue;
                }
                if let Some(path) = line.strip_prefix("include ") {
                    let p = Path::new(path.trim());
                    if !p.is_absolute() {
                        self.issues.push(issue(
                            n,
                            format!("include path {} is not absolute", p.display()),
                        ));
                    } else {
                        self.read_file(p, walk, Some((file, n)));
                    }
                    continue;
                }
            }
            if line.starts_with('[') {
                if !stack.is_empty() {
                    self.issues
                        .push(issue(n, "section header inside an open `{`".into()));
                    stack.clear();
                }
                let Some(end) = line.find(']') else {
                    self.issues
                        .push(issue(n, format!("`{line}` is missing its closing `]`")));
                    continue;
                };
                if let Some(s) = current.take() {
                    self.sections.push(s);
                }
                current = Some(Section {
                    name: line[1..end].trim().to_string(),
                    nodes: Vec::new(),
                    file: file.to_path_buf(),
                });
                continue;
            }
            if line.starts_with('}') {
                match stack.pop() {
                    Some((tag, nodes)) => {
                        let node = Node::Tree(tag, nodes);
                        match stack.last_mut() {
                            Some((_, parent)) => parent.push(node),
                            None => match current.as_mut() {
                                Some(s) => s.nodes.push(node),
                                None => self.issues.push(issue(n, "`}` outside a section".into())),
                            },
                        }
                    }
                    None => self
                        .issues
                        .push(issue(n, "`}` without an opening `{`".into())),
                }
                continue;
            }
            let Some((tag, value)) = line.split_once('=') else {
                self.issues
                    .push(issue(n, format!("`{line}` is not `tag = value`")));
                continue;
            };
            let tag = tag.trim().trim_end_matches('*').trim().to_string();
            let value = value.trim();
            if current.is_none() {
                self.issues
                    .push(issue(n, format!("relation `{tag}` outside any [section]")));
                continue;
            }
            if value == "{" {
                stack.push((tag, Vec::new()));
                continue;
            }
            let node = Node::Value(tag, unquote(value));
            match stack.last_mut() {
                Some((_, nodes)) => nodes.push(node),
                None => current.as_mut().expect("checked above").nodes.push(node),
            }
        }
        if !stack.is_empty() {
            self.issues.push(issue(0, "a `{` is never closed".into()));
        }
        if let Some(s) = current.take() {
            self.sections.push(s);
        }
    }

    fn include_dir(&mut self, dir: &Path, walk: &mut Walk, from: &Path, line: usize) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.issues.push(ParseIssue {
                    file: from.to_path_buf(),
                    line,
                    message: format!("includedir {} cannot be read: {e}", dir.display()),
                    kind: IssueKind::Unreadable,
                });
                return;
            }
        };
        // MIT reads names made of letters, digits, `-` and `_`, and (1.15+) names ending
        // in `.conf` that do not start with a dot; editor backups and the like are skipped.
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                !n.is_empty()
                    && (n
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                        || (n.ends_with(".conf") && !n.starts_with('.')))
            })
            .collect();
        names.sort();
        for p in names {
            self.read_file(&p, walk, Some((from, line)));
        }
    }

    fn sections_named<'a, 'b>(
        &'a self,
        name: &'b str,
    ) -> impl Iterator<Item = &'a Section> + use<'a, 'b> {
        self.sections.iter().filter(move |s| s.name == name)
    }

    /// The first value of `[section] tag`.
    pub fn get(&self, section: &str, tag: &str) -> Option<&str> {
        self.sections_named(section).find_map(|s| {
            s.nodes.iter().find_map(|n| match n {
                Node::Value(t, v) if t == tag => Some(v.as_str()),
                _ => None,
            })
        })
    }

    /// A `[libdefaults]` boolean, with MIT's spellings and its default.
    pub fn libdefaults_bool(&self, tag: &str, default: bool) -> bool {
        self.get("libdefaults", tag)
            .and_then(parse_bool)
            .unwrap_or(default)
    }

    /// `default_realm`.
    pub fn default_realm(&self) -> Option<&str> {
        self.get("libdefaults", "default_realm")
    }

    /// The relations of `[realms] REALM = { ... }`, merged across files.
    fn realm_nodes(&self, realm: &str) -> Vec<&Node> {
        self.sections_named("realms")
            .flat_map(|s| s.nodes.iter())
            .filter_map(|n| match n {
                Node::Tree(t, nodes) if t == realm => Some(nodes.iter()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Whether `[realms]` has a stanza for `realm`.
    pub fn has_realm(&self, realm: &str) -> bool {
        self.sections_named("realms")
            .flat_map(|s| s.nodes.iter())
            .any(|n| matches!(n, Node::Tree(t, _) if t == realm))
    }

    /// Every value of `tag` in the realm's stanza.
    pub fn realm_values(&self, realm: &str, tag: &str) -> Vec<&str> {
        self.realm_nodes(realm)
            .into_iter()
            .filter_map(|n| match n {
                Node::Value(t, v) if t == tag => Some(v.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The realms named in `[realms]`.
    pub fn realms(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .sections_named("realms")
            .flat_map(|s| s.nodes.iter())
            .filter_map(|n| match n {
                Node::Tree(t, _) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        v.dedup();
        v
    }

    /// `[capaths] CLIENT = { SERVICE = ... }`: the realms a client of `client` goes through to
    /// reach `service`, in the order written (`.` means directly), merged across files;
    /// `None` when there is no such relation (MIT then tries the direct trust, then the path
    /// the realms' names suggest).
    pub fn capaths(&self, client: &str, service: &str) -> Option<Vec<&str>> {
        let hops: Vec<&str> = self
            .sections_named("capaths")
            .flat_map(|s| s.nodes.iter())
            .filter_map(|n| match n {
                Node::Tree(t, nodes) if t == client => Some(nodes.iter()),
                _ => None,
            })
            .flatten()
            .filter_map(|n| match n {
                Node::Value(t, v) if t == service => Some(v.as_str()),
                _ => None,
            })
            .collect();
        (!hops.is_empty()).then_some(hops)
    }

    /// The KDCs `[realms]` lists for `realm`.
    pub fn kdcs(&self, realm: &str) -> Vec<KdcSpec> {
        self.realm_values(realm, "kdc")
            .into_iter()
            .filter_map(parse_kdc)
            .collect()
    }

    /// Whether KDCs are looked up in DNS (SRV records) for `realm`: `dns_lookup_kdc`, else
    /// `dns_fallback`, else MIT's default (yes) — MIT only asks DNS when the realm lists
    /// no `kdc`.
    pub fn dns_lookup_kdc(&self) -> bool {
        match self
            .get("libdefaults", "dns_lookup_kdc")
            .and_then(parse_bool)
        {
            Some(b) => b,
            None => self.libdefaults_bool("dns_fallback", true),
        }
    }

    /// The realm `host` maps to, as `krb5_get_host_realm()` decides it from the files:
    /// the longest `[domain_realm]` match, else the referral (then `default_realm`).
    pub fn host_realm(&self, host: &str) -> HostRealm {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        // MIT walks from the full name to ever shorter suffixes ("db.x.com", ".x.com",
        // "x.com", ".com", "com"): the first relation found is the longest match.
        let mut candidates = vec![host.clone()];
        let mut rest = host.as_str();
        while let Some(pos) = rest.find('.') {
            let dotted = &rest[pos..];
            candidates.push(dotted.to_string());
            rest = &rest[pos + 1..];
            candidates.push(rest.to_string());
        }
        for c in candidates {
            let found = self.sections_named("domain_realm").find_map(|s| {
                s.nodes.iter().find_map(|n| match n {
                    Node::Value(t, v) if t.to_ascii_lowercase() == c => Some(v.clone()),
                    _ => None,
                })
            });
            if let Some(realm) = found {
                return HostRealm {
                    realm: Some(realm),
                    via: RealmVia::DomainRealm(c),
                };
            }
        }
        let default = self.default_realm().map(str::to_string);
        HostRealm {
            realm: default.clone(),
            via: RealmVia::Referral(default),
        }
    }

    /// `clockskew` in seconds (300 by default).
    /// `udp_preference_limit` of `[libdefaults]`: messages larger than this go to a KDC over
    /// TCP first (MIT's default is 1465; 1 means TCP first for every message).
    pub fn udp_preference_limit(&self) -> u64 {
        self.get("libdefaults", "udp_preference_limit")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(1465)
    }

    /// The clock skew the library accepts, in seconds (`clockskew`, default 300).
    pub fn clockskew(&self) -> u64 {
        self.get("libdefaults", "clockskew")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(300)
    }

    /// `dns_canonicalize_hostname`: `"true"` (MIT's default), `"false"` or `"fallback"`.
    pub fn dns_canonicalize_hostname(&self) -> &str {
        match self.get("libdefaults", "dns_canonicalize_hostname") {
            Some(v) if v.eq_ignore_ascii_case("fallback") => "fallback",
            Some(v) => match parse_bool(v) {
                Some(false) => "false",
                _ => "true",
            },
            None => "true",
        }
    }

    /// `rdns` (true by default): a reverse lookup of the address replaces the name.
    pub fn rdns(&self) -> bool {
        self.libdefaults_bool("rdns", true)
    }
}

/// MIT's boolean spellings.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "t" | "1" | "on" => Some(true),
        "n" | "no" | "false" | "nil" | "0" | "off" => Some(false),
        _ => None,
    }
}

fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"') else {
        return v.to_string();
    };
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('b') => out.push('\u{8}'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses a `kdc =` value.
pub fn parse_kdc(written: &str) -> Option<KdcSpec> {
    let w = written.trim();
    let (transport, rest) = if let Some(r) = w.strip_prefix("tcp/") {
        (Some("tcp"), r)
    } else if let Some(r) = w.strip_prefix("udp/") {
        (Some("udp"), r)
    } else if w.starts_with("kkdcp") || w.starts_with("http") {
        // HTTPS proxies (MS-KKDCP) are not probed.
        return None;
    } else {
        (None, w)
    };
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (h, after) = inner.split_once(']')?;
        (h.to_string(), after.strip_prefix(':'))
    } else if rest.matches(':').count() > 1 {
        // A bare IPv6 address.
        (rest.to_string(), None)
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => 88,
    };
    if host.is_empty() {
        return None;
    }
    Some(KdcSpec {
        host,
        port,
        transport,
        written: w.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
# comment
[libdefaults]
    default_realm = CORP.EXAMPLE.COM
    dns_lookup_kdc = false
    rdns = no
    dns_canonicalize_hostname = fallback
    clockskew = 120

[realms]
    CORP.EXAMPLE.COM = {
        kdc = 127.0.0.1:8888
        kdc = tcp/dc2.corp.example.com
        admin_server = dc1.corp.example.com
    }
    ONPREM.EXAMPLE.COM = {
        kdc = [::1]:750
    }

[domain_realm]
    .example.test = CORP.EXAMPLE.COM
    db.example.test = OTHER.REALM
    .rds.amazonaws.com = ONPREM.EXAMPLE.COM
; last
"#;

    fn conf() -> Krb5Conf {
        Krb5Conf::from_text(Path::new("/x/krb5.conf"), CONF)
    }

    #[test]
    fn libdefaults_and_realms() {
        let c = conf();
        assert!(c.issues.is_empty(), "{:?}", c.issues);
        assert_eq!(c.default_realm(), Some("CORP.EXAMPLE.COM"));
        assert!(!c.dns_lookup_kdc());
        assert!(!c.rdns());
        assert_eq!(c.dns_canonicalize_hostname(), "fallback");
        assert_eq!(c.clockskew(), 120);
        assert_eq!(c.realms(), vec!["CORP.EXAMPLE.COM", "ONPREM.EXAMPLE.COM"]);
        let kdcs = c.kdcs("CORP.EXAMPLE.COM");
        assert_eq!(kdcs.len(), 2);
        assert_eq!((kdcs[0].host.as_str(), kdcs[0].port), ("127.0.0.1", 8888));
        assert_eq!(kdcs[1].transport, Some("tcp"));
        assert_eq!(kdcs[1].port, 88);
        assert_eq!(c.kdcs("ONPREM.EXAMPLE.COM")[0].host, "::1");
        assert!(c.kdcs("NOPE").is_empty());
    }

    #[test]
    fn domain_realm_longest_match_then_referral() {
        let c = conf();
        let r = c.host_realm("db.example.test");
        assert_eq!(r.realm.as_deref(), Some("OTHER.REALM"));
        assert_eq!(r.via, RealmVia::DomainRealm("db.example.test".into()));
        let r = c.host_realm("Other.Example.Test.");
        assert_eq!(r.realm.as_deref(), Some("CORP.EXAMPLE.COM"));
        assert_eq!(r.via, RealmVia::DomainRealm(".example.test".into()));
        let r = c.host_realm("x.cluster-1.us-east-1.rds.amazonaws.com");
        assert_eq!(r.realm.as_deref(), Some("ONPREM.EXAMPLE.COM"));
        let r = c.host_realm("127.0.0.1");
        assert_eq!(r.via, RealmVia::Referral(Some("CORP.EXAMPLE.COM".into())));
    }

    #[test]
    fn defaults_when_unset() {
        let c = Krb5Conf::from_text(Path::new("/k"), "[libdefaults]\n");
        assert!(c.dns_lookup_kdc());
        assert!(c.rdns());
        assert_eq!(c.dns_canonicalize_hostname(), "true");
        assert_eq!(c.clockskew(), 300);
        assert_eq!(c.default_realm(), None);
        assert_eq!(c.host_realm("h").via, RealmVia::Referral(None));
    }

    #[test]
    fn syntax_errors_are_located() {
        let c = Krb5Conf::from_text(
            Path::new("/k"),
            "kdc = x\n[realms\n[realms]\n A = {\n  kdc = a\n",
        );
        let lines: Vec<usize> = c.issues.iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![1, 2, 0], "{:?}", c.issues);
    }

    #[test]
    fn includes_and_the_file_list() {
        let dir = super::super::test_dir("krb5conf");
        let extra = dir.join("extra");
        std::fs::create_dir(&extra).unwrap();
        std::fs::write(
            extra.join("realm-b.conf"),
            "[realms]\n B.TEST = {\n kdc = b:89\n }\n",
        )
        .unwrap();
        std::fs::write(extra.join("ignored~"), "[realms]\n C.TEST = {\n }\n").unwrap();
        let main = dir.join("krb5.conf");
        std::fs::write(
            &main,
            format!(
                "includedir {}\n[libdefaults]\n default_realm = \"A.TEST\"\n",
                extra.display()
            ),
        )
        .unwrap();
        let missing = dir.join("none.conf");
        let list = format!("{}:{}", missing.display(), main.display());
        let (source, c) = Krb5Conf::load(Some(&list));
        assert_eq!(source, ConfigSource::Env(list.clone()));
        assert_eq!(c.files_missing, vec![missing]);
        assert_eq!(c.files_read.len(), 2);
        assert_eq!(c.default_realm(), Some("A.TEST"));
        assert_eq!(c.kdcs("B.TEST")[0].port, 89);
        assert!(!c.has_realm("C.TEST"));
        let (source, _) = Krb5Conf::load(None);
        assert_eq!(source, ConfigSource::Default);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_that_includes_itself_is_read_once() {
        let dir = super::super::test_dir("krb5loop");
        let main = dir.join("krb5.conf");
        // Included twice per level, a self-include would be read 2^9 times before the depth
        // bound stops it; through a symlink, a path comparison alone would not see it.
        std::os::unix::fs::symlink(&main, dir.join("again.conf")).unwrap();
        std::fs::write(
            &main,
            format!(
                "include {}\ninclude {}\n[libdefaults]\n default_realm = A.TEST\n",
                main.display(),
                dir.join("again.conf").display()
            ),
        )
        .unwrap();
        let (_, c) = Krb5Conf::load(Some(main.to_str().unwrap()));
        assert_eq!(c.files_read, vec![main.clone()]);
        assert_eq!(c.default_realm(), Some("A.TEST"));
        assert_eq!(c.issues.len(), 2, "{:?}", c.issues);
        for (i, issue) in c.issues.iter().enumerate() {
            assert_eq!((issue.file.as_path(), issue.line), (main.as_path(), i + 1));
            assert!(issue.message.contains("include loop"), "{issue}");
        }
        // The same through from_text, and a two-file loop through includedir.
        let sub = dir.join("d");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("b.conf"), format!("include {}\n", main.display())).unwrap();
        let c = Krb5Conf::from_text(&main, &format!("includedir {}\n", sub.display()));
        assert_eq!(c.files_read, vec![main.clone(), sub.join("b.conf")]);
        assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
        let m = &c.issues[0].message;
        assert!(m.contains(" -> ") && m.contains("b.conf"), "{m}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_diamond_of_includes_is_bounded() {
        // f0 includes f1 twice, f1 includes f2 twice...: 2^9 - 1 reads within the depth
        // bound, 2^20 with a deeper one; the file bound stops it at MAX_CONF_FILES.
        let dir = super::super::test_dir("krb5diamond");
        let f = |i: usize| dir.join(format!("f{i}.conf"));
        for i in 0..12 {
            let next = f(i + 1);
            let body = if i < 11 {
                format!("include {0}\ninclude {0}\n", next.display())
            } else {
                "[libdefaults]\n default_realm = D.TEST\n".to_string()
            };
            std::fs::write(f(i), body).unwrap();
        }
        let (_, c) = Krb5Conf::load(Some(f(0).to_str().unwrap()));
        assert_eq!(c.files_read.len(), MAX_CONF_FILES);
        let capped: Vec<_> = c
            .issues
            .iter()
            .filter(|i| i.message.contains("more than 64 krb5.conf files"))
            .collect();
        assert_eq!(capped.len(), 1, "{:?}", c.issues);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn endless_and_huge_files_are_refused() {
        // Without a cap these reads never end.
        let (_, c) = Krb5Conf::load(Some("/dev/zero"));
        assert!(c.files_read.is_empty());
        assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
        let i = &c.issues[0];
        assert_eq!(i.file, Path::new("/dev/zero"));
        assert!(i.message.contains("larger than 4 MiB"), "{i}");
        let c = Krb5Conf::from_text(
            Path::new("/k"),
            "include /dev/zero\n[libdefaults]\n default_realm = Z.TEST\n",
        );
        assert_eq!(c.default_realm(), Some("Z.TEST"));
        assert!(c.issues[0].message.contains("larger than 4 MiB"));
        // Files under the per-file cap still add up to the total bound.
        let dir = super::super::test_dir("krb5total");
        let big = dir.join("big.conf");
        let mut text = String::from("[libdefaults]\n");
        while (text.len() as u64) < MAX_CONF_BYTES - 100 {
            text.push_str("# padding padding padding padding padding padding padding pad\n");
        }
        std::fs::write(&big, &text).unwrap();
        let list = vec![big.display().to_string(); 6].join(":");
        let (_, c) = Krb5Conf::load(Some(&list));
        assert_eq!(c.files_read.len(), 4, "{:?}", c.issues);
        assert!(
            c.issues[0].message.contains("16 MiB together"),
            "{:?}",
            c.issues
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn kdc_entries() {
        assert_eq!(parse_kdc("kdc.example.com").unwrap().port, 88);
        assert_eq!(parse_kdc("udp/1.2.3.4:750").unwrap().transport, Some("udp"));
        assert_eq!(parse_kdc("fe80::1").unwrap().host, "fe80::1");
        assert!(parse_kdc("kkdcp https://x/KdcProxy").is_none());
        assert!(parse_kdc("h:notaport").is_none());
    }
}
