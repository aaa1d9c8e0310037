//! Connection services: `service=name` (or `PGSERVICE`) reads the `[name]` section of
//! `pg_service.conf`, as libpq does.
//!
//! libpq's order: the user's file (`PGSERVICEFILE`, else `~/.pg_service.conf`); when it has
//! no `[name]` section, the system file (`PGSYSCONFDIR/pg_service.conf`). The values fill only
//! the keys the connection string does not set, and take precedence over environment
//! variables.

use crate::error::Error;
use std::path::{Path, PathBuf};

/// Where the system file is looked for when `PGSYSCONFDIR` is not set. libpq uses the one
/// directory it was built with; these are the common builds' (Debian and Ubuntu's
/// `postgresql-common`, the PGDG RPMs, PostgreSQL's own default).
pub const DEFAULT_SYSCONFDIRS: &[&str] = &[
    "/etc/postgresql-common",
    "/etc/sysconfig/pgsql",
    "/usr/local/pgsql/etc",
];

/// One `key=value` line of the service's section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceEntry {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
}

impl ServiceEntry {
    /// Where the entry came from, for error context.
    pub(crate) fn origin(&self, service: &str) -> String {
        format!(
            "in service `{service}`, {} line {}",
            self.file.display(),
            self.line
        )
    }
}

/// The files looked in, in libpq's order, from the variables `get` returns.
pub(crate) fn files(get: &dyn Fn(&str) -> Option<String>) -> (Option<PathBuf>, Vec<PathBuf>) {
    let nonempty = |k: &str| get(k).filter(|v| !v.is_empty());
    let user = nonempty("PGSERVICEFILE")
        .map(PathBuf::from)
        .or_else(|| nonempty("HOME").map(|h| Path::new(&h).join(".pg_service.conf")));
    let system = match nonempty("PGSYSCONFDIR") {
        Some(dir) => vec![Path::new(&dir).join("pg_service.conf")],
        None => DEFAULT_SYSCONFDIRS
            .iter()
            .map(|d| Path::new(d).join("pg_service.conf"))
            .collect(),
    };
    (user, system)
}

/// The entries of service `name`.
pub(crate) fn lookup(
    name: &str,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ServiceEntry>, Error> {
    let (user, system) = files(get);
    let mut looked = Vec::new();
    for file in user.into_iter().chain(system) {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                looked.push(format!("{} (absent)", file.display()));
                continue;
            }
            Err(e) => {
                return Err(Error::config(
                    format!("the service file {} cannot be read: {e}", file.display()),
                    "make it readable by the user this program runs as, or point \
                     PGSERVICEFILE at another file",
                ));
            }
        };
        if let Some(entries) = section(&text, name, &file)? {
            return Ok(entries);
        }
        looked.push(format!("{} (no [{name}] section)", file.display()));
    }
    Err(Error::config(
        format!(
            "service `{name}` is not defined; looked in: {}",
            if looked.is_empty() {
                "no file (neither PGSERVICEFILE nor HOME is set)".to_string()
            } else {
                looked.join(", ")
            }
        ),
        format!(
            "add a [{name}] section to ~/.pg_service.conf (or the file PGSERVICEFILE names), \
             or fix the service name"
        ),
    ))
}

/// The entries of section `[name]` of one file, `None` when it has no such section.
fn section(text: &str, name: &str, file: &Path) -> Result<Option<Vec<ServiceEntry>>, Error> {
    let mut found = false;
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            if found {
                break;
            }
            found = header.strip_suffix(']') == Some(name);
            continue;
        }
        if !found {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(Error::config(
                format!(
                    "line {} of the service file {} is not key=value: `{line}`",
                    i + 1,
                    file.display()
                ),
                "write one connection key per line, e.g. host=db.example.com",
            ));
        };
        let key = key.trim();
        if key == "service" {
            return Err(Error::config(
                format!(
                    "line {} of the service file {} names another service (nested services \
                     are not supported, as in libpq)",
                    i + 1,
                    file.display()
                ),
                "copy that service's settings into this section",
            ));
        }
        entries.push(ServiceEntry {
            key: key.to_string(),
            value: value.trim().to_string(),
            file: file.to_path_buf(),
            line: i + 1,
        });
    }
    Ok(found.then_some(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# comment
[other]
host=other.example

[prod]
host = prod.example
  port=5433
options=-c search_path=app
[after]
host=after.example
";

    #[test]
    fn reads_only_the_section() {
        let e = section(FILE, "prod", Path::new("f")).unwrap().unwrap();
        let kv: Vec<_> = e
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str(), e.line))
            .collect();
        assert_eq!(
            kv,
            vec![
                ("host", "prod.example", 6),
                ("port", "5433", 7),
                ("options", "-c search_path=app", 8)
            ]
        );
        assert!(section(FILE, "missing", Path::new("f")).unwrap().is_none());
        assert!(section(FILE, "prod]", Path::new("f")).unwrap().is_none());
        assert_eq!(
            section("[empty]\n", "empty", Path::new("f")).unwrap(),
            Some(vec![])
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = section("[a]\nhost\n", "a", Path::new("/x/pg_service.conf")).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(e.to_string().contains("/x/pg_service.conf"), "{e}");
        let e = section("[a]\nservice=b\n", "a", Path::new("f")).unwrap_err();
        assert!(e.to_string().contains("nested"), "{e}");
        // Errors outside the section are not ours to report, as in libpq.
        assert!(section("[b]\nhost\n[a]\nport=1\n", "a", Path::new("f")).is_ok());
    }

    #[test]
    fn libpq_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let sys = dir.path().join("etc");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&sys).unwrap();
        std::fs::write(home.join(".pg_service.conf"), "[a]\nhost=user.example\n").unwrap();
        std::fs::write(
            sys.join("pg_service.conf"),
            "[a]\nhost=system.example\n[b]\nhost=b.example\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            "HOME" => Some(home.display().to_string()),
            "PGSYSCONFDIR" => Some(sys.display().to_string()),
            _ => None,
        };
        // The user's file wins; the system file is read when the user's lacks the section.
        assert_eq!(lookup("a", &env).unwrap()[0].value, "user.example");
        assert_eq!(lookup("b", &env).unwrap()[0].value, "b.example");
        let e = lookup("c", &env).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("service `c`"), "{msg}");
        assert!(msg.contains(".pg_service.conf (no [c] section)"), "{msg}");
        assert!(msg.contains("pg_service.conf (no [c] section)"), "{msg}");

        // PGSERVICEFILE replaces ~/.pg_service.conf.
        let own = dir.path().join("own.conf");
        std::fs::write(&own, "[a]\nhost=own.example\n").unwrap();
        let env2 = |k: &str| match k {
            "PGSERVICEFILE" => Some(own.display().to_string()),
            "HOME" => Some(home.display().to_string()),
            "PGSYSCONFDIR" => Some(dir.path().join("none").display().to_string()),
            _ => None,
        };
        assert_eq!(lookup("a", &env2).unwrap()[0].value, "own.example");
        let e = lookup("b", &env2).unwrap_err().to_string();
        assert!(e.contains("own.conf (no [b] section)"), "{e}");
        assert!(e.contains("none/pg_service.conf (absent)"), "{e}");
    }
}
