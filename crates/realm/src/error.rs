use std::path::PathBuf;

/// What went wrong while making, starting or using a realm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A command of the realm (the realm script, kinit, psql, kadmin.local) failed.
    #[error("{command} failed: {stderr}")]
    Command {
        /// The command.
        command: String,
        /// What it printed on stderr (never a password: none is passed on a command line).
        stderr: String,
    },
    /// A service did not come up in time.
    #[error("{what} did not come up within 10 s: see {}", log.display())]
    NotReady {
        /// The service.
        what: String,
        /// Its log file.
        log: PathBuf,
    },
    /// The folder holds no realm, or one this version cannot read.
    #[error("{}: {reason}; create a realm there with `aurora-krb realm up --dir {}`", dir.display(), dir.display())]
    NoRealm {
        /// The folder.
        dir: PathBuf,
        /// Why it is not usable.
        reason: String,
    },
    /// No free port could be found on the loopback interface.
    #[error("no free loopback port for {0}")]
    NoPort(&'static str),
    /// The realm cannot do what was asked (the reason says why and what to do).
    #[error("not supported: {0}")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn command(command: &str, stderr: &[u8]) -> Error {
        Error::Command {
            command: command.to_string(),
            stderr: String::from_utf8_lossy(stderr).trim().to_string(),
        }
    }
}
