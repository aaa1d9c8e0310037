//! The AWS clients, their configuration and the timeout around every call.

use crate::error::{Action, Error, Result};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::future::Future;
use std::time::Duration;

/// How to reach AWS: region, profile, endpoint, timeouts and retries.
///
/// Anything left `None` comes from `aws-config`'s standard chain (environment, profiles, SSO,
/// IMDS, `AWS_ENDPOINT_URL*`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The region, e.g. `us-east-1`.
    pub region: Option<String>,
    /// The profile of `~/.aws/config`.
    pub profile: Option<String>,
    /// An endpoint URL for both services (tests, VPC endpoints).
    pub endpoint_url: Option<String>,
    /// The bound on each AWS call, retries included.
    pub timeout: Duration,
    /// The bound on opening a connection.
    pub connect_timeout: Duration,
    /// Attempts per call under the SDK's standard retry (throttling, transient errors).
    pub max_attempts: u32,
    /// The first retry's back-off; it grows exponentially with jitter.
    pub initial_backoff: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            region: None,
            profile: None,
            endpoint_url: None,
            timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
        }
    }
}

impl Options {
    /// The defaults: the standard chain, 20 s per call, 3 attempts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets the profile.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Sets the endpoint URL of both services.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Sets the bound on each call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the bound on opening a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the attempts per call (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first retry's back-off.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The SDK timeouts these options stand for.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_timeout(self.timeout)
            .build()
    }

    /// The SDK's standard retry with these options' attempts and back-off.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts.max(1))
            .with_initial_backoff(self.initial_backoff)
    }

    /// Loads the SDK configuration through `aws-config`'s standard chain, with these options
    /// on top.
    pub async fn load_sdk_config(&self) -> Result<SdkConfig> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(self.timeout_config())
            .retry_config(self.retry_config());
        if let Some(p) = &self.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &self.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(u) = &self.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        // Region discovery may ask IMDS, which does not answer off EC2: bound it.
        tokio::time::timeout(self.timeout, loader.load())
            .await
            .map_err(|_| {
                Error::config(format!(
                    "loading the AWS configuration took longer than {:.0} s (set a region to skip instance-metadata discovery)",
                    self.timeout.as_secs_f64()
                ))
            })
    }
}

/// The clients and what every call needs.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    pub(crate) rds: aws_sdk_rds::Client,
    pub(crate) ds: aws_sdk_directory::Client,
    /// EC2, for the network path (absent: the path is not verified).
    pub(crate) ec2: Option<aws_sdk_ec2::Client>,
    /// Who is calling, asked only when access is denied.
    pub(crate) whoami: crate::whoami::Whoami,
    pub(crate) region: String,
    pub(crate) timeout: Duration,
    pub(crate) profile: Option<String>,
}

impl Lookup {
    pub(crate) fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// Adds the caller's ARN to an access-denied error (one `GetCallerIdentity`, lazily).
    pub(crate) async fn name_caller(&self, e: Error) -> Error {
        if e.is_access_denied() {
            let arn = self.whoami.arn().await;
            e.with_caller(arn)
        } else {
            e
        }
    }
}

/// Runs one AWS call under the timeout. The outer error is the timeout; the inner result is
/// the SDK's, so the caller can pick out the service errors it expects.
pub(crate) async fn call<T>(
    lk: &Lookup,
    action: Action,
    fut: impl Future<Output = T>,
) -> Result<T> {
    // A little grace so that the SDK's own operation timeout, which knows more, usually wins;
    // this one only guarantees that no call outlives the bound.
    let bound = lk.timeout + Duration::from_millis(500);
    tokio::time::timeout(bound, fut)
        .await
        .map_err(|_| Error::timeout(action, lk.timeout))
}
