//! Who is calling: the AWS identity behind the credentials (`sts:GetCallerIdentity`).
//!
//! An access-denied error, or an IAM token the database refuses, means little without the
//! identity that was refused: a role assumed through SSO, an instance role, a user key. STS
//! answers every identity (the action needs no permission), so a failure here is the
//! credentials themselves: missing, expired, rejected, or a clock far off.
//!
//! ```no_run
//! # async fn run() -> Result<(), aurora_krb_domain::Error> {
//! let sdk = aurora_krb_domain::Options::new().region("us-east-1").load_sdk_config().await?;
//! let me = aurora_krb_domain::caller::identify(&sdk, std::time::Duration::from_secs(10)).await?;
//! println!("{} in account {}", me.arn, me.account);
//! # Ok(())
//! # }
//! ```

use crate::error::{Action, Error, Result};
use aws_config::SdkConfig;
use serde::Serialize;
use std::time::Duration;

/// The identity the credentials belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Caller {
    /// The 12-digit account.
    pub account: String,
    /// The identity's ARN: `arn:aws:iam::ACCOUNT:user/NAME`,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, ...
    pub arn: String,
    /// The unique id (`AIDA…` for a user, `AROA…:session` for a role).
    pub user_id: String,
}

/// Asks STS who the credentials of `sdk` belong to, within `timeout` (retries included).
pub async fn identify(sdk: &SdkConfig, timeout: Duration) -> Result<Caller> {
    if sdk.region().is_none() {
        return Err(Error::no_region(None));
    }
    let sts = aws_sdk_sts::Client::new(sdk);
    let call = sts.get_caller_identity().send();
    // A little grace, so the SDK's own operation timeout (which knows more) usually wins.
    let out = tokio::time::timeout(timeout + Duration::from_millis(500), call)
        .await
        .map_err(|_| Error::timeout(Action::GetCallerIdentity, timeout))?
        .map_err(|e| Error::from_sdk(Action::GetCallerIdentity, None, e).with_timeout(timeout))?;
    Ok(Caller {
        account: out.account().unwrap_or_default().to_owned(),
        arn: out.arn().unwrap_or_default().to_owned(),
        user_id: out.user_id().unwrap_or_default().to_owned(),
    })
}
