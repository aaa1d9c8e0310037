//! [`PoolConfig`]: a pool's settings in one struct, loadable from a configuration file.

use super::{CreatePoolError, Manager, ManagerConfig, Pool, PoolBuilder, QueueMode};
use crate::{Config, Connector, RecyclingMethod};
use std::time::Duration;

/// A pool's settings: the connection string and how the pool behaves. With feature
/// `serde` it reads from JSON, TOML or any serde format; every field may be left out:
///
/// ```toml
/// conninfo = "host=db.example.test user=app-svc@CORP.EXAMPLE.COM client_keytab=/etc/app/app.keytab"
/// max_size = 16
/// wait_timeout = "5s"        # a number is seconds; "none" waits for ever
/// recycle_timeout = "500ms"
/// recycling_method = "verified"   # fast (default), verified or clean
/// queue_mode = "lifo"        # fifo (default) or lifo
/// ```
///
/// Durations are a number of seconds (`2.5`) or a number with a unit (`"250ms"`, `"30s"`,
/// `"2m"`); `"none"` (or JSON `null`) means no limit.
#[derive(Clone)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(default, deny_unknown_fields)
)]
pub struct PoolConfig {
    /// The libpq connection string (`key=value ...` or a `postgresql://` URI). As with
    /// libpq, the `PG*` environment variables fill in what it leaves out.
    pub conninfo: String,
    /// The most connections open at once. Default: deadpool's (twice the CPU count).
    pub max_size: usize,
    /// How long [`Pool::get`] waits for a connection when all are in use, before
    /// `PoolError::Timeout(TimeoutType::Wait)`. Default [`PoolConfig::DEFAULT_WAIT_TIMEOUT`].
    #[cfg_attr(feature = "serde", serde(with = "duration"))]
    pub wait_timeout: Option<Duration>,
    /// A bound on opening a connection, on top of `connect_timeout`. Default: none, because
    /// every login is already bounded by the conninfo's `connect_timeout` (default
    /// [`crate::config::DEFAULT_CONNECT_TIMEOUT`]) and then fails with an error naming the
    /// step that ran late; a shorter bound here would cut that diagnosis off (lower
    /// `connect_timeout` instead).
    #[cfg_attr(feature = "serde", serde(with = "duration"))]
    pub create_timeout: Option<Duration>,
    /// How long the recycling check may take before the connection is dropped and another
    /// one is tried. Default [`PoolConfig::DEFAULT_RECYCLE_TIMEOUT`].
    #[cfg_attr(feature = "serde", serde(with = "duration"))]
    pub recycle_timeout: Option<Duration>,
    /// The check before an idle connection is handed out again. Default `fast`.
    pub recycling_method: RecyclingMethod,
    /// Which idle connection is handed out: the one idle longest (`fifo`, the default) or
    /// the one used last (`lifo`, which lets the others age out of a server-side idle
    /// timeout).
    #[cfg_attr(feature = "serde", serde(with = "queue_mode"))]
    pub queue_mode: QueueMode,
}

impl PoolConfig {
    /// The default of [`PoolConfig::wait_timeout`].
    pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default of [`PoolConfig::recycle_timeout`].
    pub const DEFAULT_RECYCLE_TIMEOUT: Duration = Duration::from_secs(5);

    /// The defaults, with `conninfo`.
    pub fn new(conninfo: impl Into<String>) -> PoolConfig {
        PoolConfig {
            conninfo: conninfo.into(),
            ..PoolConfig::default()
        }
    }

    /// Parses the connection string (with the `PG*` environment variables, as libpq) and
    /// builds the pool. Opens no connection: the first [`Pool::get`] does.
    pub fn create_pool(&self) -> Result<Pool, CreatePoolError> {
        let config = Config::from_env_and(&self.conninfo).map_err(CreatePoolError::Config)?;
        let connector = Connector::new(config).map_err(CreatePoolError::Config)?;
        self.builder(connector)
            .build()
            .map_err(CreatePoolError::Build)
    }

    /// A pool builder with these settings, whose connections `connector` opens (the
    /// connection string is not read): for a `Config` built in code, or to add hooks
    /// before `build()`.
    pub fn builder(&self, connector: Connector) -> PoolBuilder {
        let manager = Manager::from_config(
            connector,
            ManagerConfig {
                recycling_method: self.recycling_method,
            },
        );
        Pool::builder(manager)
            .max_size(self.max_size)
            .wait_timeout(self.wait_timeout)
            .create_timeout(self.create_timeout)
            .recycle_timeout(self.recycle_timeout)
            .queue_mode(self.queue_mode)
            .runtime(deadpool::Runtime::Tokio1)
    }
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            conninfo: String::new(),
            max_size: deadpool::managed::PoolConfig::default().max_size,
            wait_timeout: Some(PoolConfig::DEFAULT_WAIT_TIMEOUT),
            create_timeout: None,
            recycle_timeout: Some(PoolConfig::DEFAULT_RECYCLE_TIMEOUT),
            recycling_method: RecyclingMethod::default(),
            queue_mode: QueueMode::Fifo,
        }
    }
}

impl std::fmt::Debug for PoolConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password: shown only as its length.
        f.debug_struct("PoolConfig")
            .field(
                "conninfo",
                &format_args!("<{} bytes, not shown>", self.conninfo.len()),
            )
            .field("max_size", &self.max_size)
            .field("wait_timeout", &self.wait_timeout)
            .field("create_timeout", &self.create_timeout)
            .field("recycle_timeout", &self.recycle_timeout)
            .field("recycling_method", &self.recycling_method)
            .field("queue_mode", &self.queue_mode)
            .finish()
    }
}

// By hand: deadpool's QueueMode has no PartialEq.
impl PartialEq for PoolConfig {
    fn eq(&self, other: &PoolConfig) -> bool {
        self.conninfo == other.conninfo
            && self.max_size == other.max_size
            && self.wait_timeout == other.wait_timeout
            && self.create_timeout == other.create_timeout
            && self.recycle_timeout == other.recycle_timeout
            && self.recycling_method == other.recycling_method
            && matches!(
                (self.queue_mode, other.queue_mode),
                (QueueMode::Fifo, QueueMode::Fifo) | (QueueMode::Lifo, QueueMode::Lifo)
            )
    }
}

/// A duration from text: a number of seconds (`2.5`), or a number with a unit (`250ms`,
/// `30s`, `2m`); `None` for `none`. `Err` names what is wrong.
#[cfg(any(feature = "serde", test))]
fn parse_duration(text: &str) -> Result<Option<Duration>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "\"{text}\" has an unknown unit: give ms, s, m or h, or a number of seconds"
            ));
        }
    };
    number
        .parse::<f64>()
        .ok()
        .and_then(|n| Duration::try_from_secs_f64(n * scale).ok())
        .map(Some)
        .ok_or_else(|| format!("\"{text}\" is not a duration: give e.g. 30s, 250ms or 2m"))
}

#[cfg(feature = "serde")]
mod duration {
    use super::parse_duration;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            // Text with a unit reads back the same in every format (TOML has no null).
            None => s.serialize_str("none"),
            Some(d) if d.subsec_nanos() == 0 => s.serialize_str(&format!("{}s", d.as_secs())),
            Some(d) => s.serialize_str(&format!("{}ms", d.as_secs_f64() * 1e3)),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<Duration>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a duration: seconds as a number, \"250ms\", \"30s\", \"2m\" or \"none\"",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(|v| Some(Duration::from_secs(v)))
                    .map_err(|_| E::custom(format!("{v}: a duration cannot be negative")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Duration::try_from_secs_f64(v)
                    .map(Some)
                    .map_err(|_| E::custom(format!("{v} is not a duration in seconds")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_duration(v).map_err(E::custom)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(feature = "serde")]
mod queue_mode {
    use super::QueueMode;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(m: &QueueMode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match m {
            QueueMode::Fifo => "fifo",
            QueueMode::Lifo => "lifo",
        })
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<QueueMode, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "fifo" => Ok(QueueMode::Fifo),
            "lifo" => Ok(QueueMode::Lifo),
            _ => Err(serde::de::Error::custom(format!(
                "\"{s}\" is not a queue mode: give fifo or lifo"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_bound_every_wait() {
        let c = PoolConfig::new("host=db");
        assert_eq!(c.wait_timeout, Some(Duration::from_secs(30)));
        assert_eq!(c.recycle_timeout, Some(Duration::from_secs(5)));
        // Logins are bounded by connect_timeout, with a diagnosis.
        assert_eq!(c.create_timeout, None);
        assert_eq!(c.recycling_method, RecyclingMethod::Fast);
        assert!(c.max_size >= 1);
    }

    #[test]
    fn durations_from_text() {
        let d = |t| parse_duration(t).unwrap();
        assert_eq!(d("30"), Some(Duration::from_secs(30)));
        assert_eq!(d("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(d("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(d("30s"), Some(Duration::from_secs(30)));
        assert_eq!(d("2m"), Some(Duration::from_secs(120)));
        assert_eq!(d(" 1 h "), Some(Duration::from_secs(3600)));
        assert_eq!(d("None"), None);
        assert!(
            parse_duration("5 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_duration("-1s").is_err());
        assert!(
            parse_duration("99999999999999999999999h")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn debug_hides_the_connection_string() {
        let c = PoolConfig::new("host=db user=u password=hunter2");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("max_size"), "{shown}");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn reads_json_with_defaults_for_what_it_leaves_out() {
        let c: PoolConfig = serde_json::from_str(
            r#"{"conninfo": "host=db user=app", "max_size": 16, "wait_timeout": "500ms",
                "recycle_timeout": 2, "create_timeout": null,
                "recycling_method": "clean", "queue_mode": "lifo"}"#,
        )
        .unwrap();
        assert_eq!(c.conninfo, "host=db user=app");
        assert_eq!(c.max_size, 16);
        assert_eq!(c.wait_timeout, Some(Duration::from_millis(500)));
        assert_eq!(c.recycle_timeout, Some(Duration::from_secs(2)));
        assert_eq!(c.create_timeout, None);
        assert_eq!(c.recycling_method, RecyclingMethod::Clean);
        assert!(matches!(c.queue_mode, QueueMode::Lifo));

        let c: PoolConfig = serde_json::from_str(r#"{"conninfo": "host=db"}"#).unwrap();
        assert_eq!(c, PoolConfig::new("host=db"));
        let c: PoolConfig = serde_json::from_str(r#"{"wait_timeout": "none"}"#).unwrap();
        assert_eq!(c.wait_timeout, None);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn round_trips_through_json() {
        let mut c = PoolConfig::new("host=db");
        c.wait_timeout = Some(Duration::from_millis(1500));
        c.recycle_timeout = None;
        c.recycling_method = RecyclingMethod::Verified;
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(
            serde_json::from_str::<PoolConfig>(&text).unwrap(),
            c,
            "{text}"
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn mistakes_are_named() {
        let e = serde_json::from_str::<PoolConfig>(r#"{"max_sise": 3}"#).unwrap_err();
        assert!(e.to_string().contains("max_sise"), "{e}");
        let e =
            serde_json::from_str::<PoolConfig>(r#"{"recycling_method": "discard"}"#).unwrap_err();
        assert!(e.to_string().contains("discard"), "{e}");
        let e = serde_json::from_str::<PoolConfig>(r#"{"wait_timeout": "5 parsecs"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown unit"), "{e}");
        let e = serde_json::from_str::<PoolConfig>(r#"{"queue_mode": "random"}"#).unwrap_err();
        assert!(e.to_string().contains("fifo or lifo"), "{e}");
    }

    #[tokio::test]
    async fn create_pool_names_a_bad_connection_string() {
        let e = PoolConfig::new("host=db sslmode=sometimes")
            .create_pool()
            .unwrap_err();
        match e {
            CreatePoolError::Config(e) => assert_eq!(e.kind(), crate::ErrorKind::Config),
            other => panic!("{other:?}"),
        }
    }
}
