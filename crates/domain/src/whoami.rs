//! Who is calling: the caller's ARN (`sts:GetCallerIdentity`), asked once and only when AWS
//! denied an action, so that the error names the identity that needs the permission.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// The bound on the one `GetCallerIdentity` call: it only adds a name to an error, so it
/// must not hold the report up.
pub const WHOAMI_TIMEOUT: Duration = Duration::from_secs(3);

/// The caller's identity, fetched lazily and at most once per inspector.
#[derive(Debug, Clone, Default)]
pub(crate) struct Whoami {
    sts: Option<aws_sdk_sts::Client>,
    timeout: Duration,
    arn: Arc<OnceCell<Option<String>>>,
}

impl Whoami {
    pub(crate) fn new(sts: Option<aws_sdk_sts::Client>, timeout: Duration) -> Self {
        Whoami {
            sts,
            timeout: timeout.min(WHOAMI_TIMEOUT),
            arn: Arc::default(),
        }
    }

    /// The caller's ARN, or `None` when it cannot be told (no STS client, the call failed or
    /// ran out of time). `GetCallerIdentity` needs no permission, so it usually answers even
    /// for a caller denied everything else.
    pub(crate) async fn arn(&self) -> Option<String> {
        let sts = self.sts.as_ref()?;
        self.arn
            .get_or_init(|| async {
                match tokio::time::timeout(self.timeout, sts.get_caller_identity().send()).await {
                    Ok(Ok(out)) => out.arn().map(str::to_owned),
                    Ok(Err(e)) => {
                        tracing::debug!(error = %aws_sdk_sts::error::DisplayErrorContext(&e), "GetCallerIdentity failed");
                        None
                    }
                    Err(_) => {
                        tracing::debug!("GetCallerIdentity timed out");
                        None
                    }
                }
            })
            .await
            .clone()
    }
}

/// The policy statement that grants `action`, as JSON.
pub fn policy_statement(action: &str) -> String {
    format!(r#"{{"Effect": "Allow", "Action": "{action}", "Resource": "*"}}"#)
}
