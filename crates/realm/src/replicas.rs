//! Writer and readers: a realm made with [`RealmOptions::replicas`](crate::RealmOptions)
//! runs PostgreSQL as an Aurora cluster does, one writer and hot-standby readers streaming
//! from it, each instance with a host name and port of its own. [`Realm::failover`] moves
//! the writer's role as Aurora does: the writer stops, a reader is promoted, and the old
//! writer comes back as a reader of the new one.
use std::process::Stdio;

use crate::{Error, Realm};

/// What an instance does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It takes writes (Aurora's writer instance; `pg_is_in_recovery()` is false).
    Writer,
    /// A hot standby of the writer (an Aurora reader instance).
    Reader,
}

/// One PostgreSQL instance of a realm: Aurora's instance endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// 1 for the first writer, then the readers it was made with.
    pub number: u32,
    /// Its host name: the service principal is `postgres/<host>` and the certificate names
    /// it. Without readers, the realm's database host name.
    pub host: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// What it does now.
    pub role: Role,
    /// Whether it runs.
    pub running: bool,
}

impl Realm {
    /// How many readers the realm was made with.
    pub fn replicas(&self) -> u32 {
        self.state.replica_ports.len() as u32
    }

    /// The PostgreSQL instances, in the order they were made (1, the first writer, first).
    pub fn instances(&self) -> Result<Vec<Instance>, Error> {
        let out = self.script(&["instances"])?;
        out.lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let bad = || Error::Command {
                    command: "realm.sh instances".into(),
                    stderr: format!("unexpected line `{l}`"),
                };
                if f.len() != 5 {
                    return Err(bad());
                }
                Ok(Instance {
                    number: f[0].parse().map_err(|_| bad())?,
                    host: f[1].to_string(),
                    port: f[2].parse().map_err(|_| bad())?,
                    role: match f[3] {
                        "writer" => Role::Writer,
                        _ => Role::Reader,
                    },
                    running: f[4] == "running",
                })
            })
            .collect()
    }

    /// The instance that takes writes now.
    pub fn writer(&self) -> Result<Instance, Error> {
        self.instances()?
            .into_iter()
            .find(|i| i.role == Role::Writer)
            .ok_or_else(|| Error::Command {
                command: "realm.sh instances".into(),
                stderr: "no instance is the writer".into(),
            })
    }

    /// The reader instances now.
    pub fn readers(&self) -> Result<Vec<Instance>, Error> {
        Ok(self
            .instances()?
            .into_iter()
            .filter(|i| i.role == Role::Reader)
            .collect())
    }

    /// Fails over as Aurora does: the writer stops, the first running reader is promoted,
    /// the other readers follow it, and the old writer comes back as a reader (rewound to
    /// the new writer's history with `pg_rewind`, else copied anew). Returns the new writer.
    ///
    /// The writer stops cleanly (a fast shutdown, whose WAL senders wait until every
    /// connected reader has confirmed all the WAL), so, like Aurora's shared storage, a
    /// failover loses no acknowledged transaction as long as the promoted reader was
    /// streaming; a promotion after a crash of the writer could (replication is
    /// asynchronous).
    pub fn failover(&self) -> Result<Instance, Error> {
        self.script(&["failover"])?;
        self.writer()
    }

    /// [`Realm::failover`] to reader instance `number`.
    pub fn failover_to(&self, number: u32) -> Result<Instance, Error> {
        self.script(&["failover", &number.to_string()])?;
        self.writer()
    }

    /// Stops one instance (a fault for tests: a reader down, a dead host of a list).
    pub fn stop_instance(&self, number: u32) -> Result<(), Error> {
        self.script(&["stop-instance", &number.to_string()])
            .map(drop)
    }

    /// Starts one instance again.
    pub fn start_instance(&self, number: u32) -> Result<(), Error> {
        self.script(&["start-instance", &number.to_string()])
            .map(drop)
    }

    /// A libpq connection string for `user` against one instance, by its own host name.
    pub fn instance_conninfo(&self, user: &str, instance: &Instance) -> String {
        self.hosts_conninfo(user, std::slice::from_ref(instance))
    }

    /// A libpq connection string for `user` with a host list of these instances, in this
    /// order (`host=a,b hostaddr=127.0.0.1,127.0.0.1 port=pa,pb`).
    pub fn hosts_conninfo(&self, user: &str, instances: &[Instance]) -> String {
        let list =
            |f: &dyn Fn(&Instance) -> String| instances.iter().map(f).collect::<Vec<_>>().join(",");
        format!(
            "host={} hostaddr={} port={} user={} dbname=postgres krbsrvname=postgres \
             sslmode=verify-full sslrootcert={} gssencmode=disable",
            list(&|i| i.host.clone()),
            list(&|_| self.pg_addr().to_string()),
            list(&|i| i.port.to_string()),
            self.principal(user),
            self.ca_file().display()
        )
    }

    /// Runs SQL as the database superuser on one instance over the realm's private socket
    /// (read-only on a reader).
    pub fn admin_sql_on(&self, instance: &Instance, sql: &str) -> Result<String, Error> {
        let out = self
            .command("psql")
            .arg("-X")
            .arg("-At")
            .arg("-v")
            .arg("ON_ERROR_STOP=1")
            .arg("-h")
            .arg(self.dir().join("run"))
            .arg("-p")
            .arg(instance.port.to_string())
            .arg("-U")
            .arg("postgres")
            .arg("-d")
            .arg("postgres")
            .arg("-c")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io("running psql (install Debian's postgresql-client)", e))?;
        if !out.status.success() {
            return Err(Error::command("psql (admin)", &out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }
}
