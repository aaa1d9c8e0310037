//! The directory as Directory Service describes it (`DescribeDirectories`).

use crate::error::{Action, Error, Result};
use crate::lookup::{Lookup, call};
use aws_sdk_directory::types::DirectoryDescription;
use serde::Serialize;

/// The directory types that can serve Aurora (AWS Managed Microsoft AD, own or shared).
pub const SERVING_TYPES: [&str; 2] = ["MicrosoftAD", "SharedMicrosoftAD"];

/// The directory a shared directory comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerDirectory {
    /// The owner's AWS account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The directory identifier in the owner's account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory_id: Option<String>,
    /// The owner directory's DNS servers.
    pub dns_ips: Vec<String>,
    /// The owner directory's VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

/// The directory as Directory Service describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryFacts {
    /// The directory identifier (`d-…`).
    pub id: String,
    /// The DNS name, e.g. `corp.example.com`.
    pub dns_name: String,
    /// The NetBIOS name, e.g. `CORP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_name: Option<String>,
    /// `MicrosoftAD`, `SharedMicrosoftAD`, `SimpleAD`, `ADConnector`, …
    pub directory_type: String,
    /// `Standard` or `Enterprise`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edition: Option<String>,
    /// `Active`, `Creating`, `Impaired`, …
    pub stage: String,
    /// Why the directory is in its stage, when Directory Service says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_reason: Option<String>,
    /// The DNS servers (the domain controllers).
    pub dns_ips: Vec<String>,
    /// The VPC the directory lives in (for a shared directory, the owner's when this account
    /// has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// The directory's subnets.
    pub subnet_ids: Vec<String>,
    /// The security group of the domain controllers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    /// The share status (`Shared`, `PendingAcceptance`, …) of a shared directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_status: Option<String>,
    /// The owner's directory, for a directory shared from another account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<OwnerDirectory>,
}

impl DirectoryFacts {
    /// Whether the directory is shared from another account.
    pub fn is_shared(&self) -> bool {
        self.directory_type == "SharedMicrosoftAD" || self.owner.is_some()
    }

    /// Whether the directory's type can serve Aurora.
    pub fn type_serves_aurora(&self) -> bool {
        SERVING_TYPES.contains(&self.directory_type.as_str())
    }
}

impl From<&DirectoryDescription> for DirectoryFacts {
    fn from(d: &DirectoryDescription) -> Self {
        let owner = d.owner_directory_description().map(|o| OwnerDirectory {
            account_id: o.account_id().map(str::to_owned),
            directory_id: o.directory_id().map(str::to_owned),
            dns_ips: o.dns_ip_addrs().to_vec(),
            vpc_id: o.vpc_settings().and_then(|v| v.vpc_id()).map(str::to_owned),
        });
        let vpc = d.vpc_settings();
        let mut dns_ips = d.dns_ip_addrs().to_vec();
        if dns_ips.is_empty()
            && let Some(o) = &owner
        {
            dns_ips = o.dns_ips.clone();
        }
        DirectoryFacts {
            id: d.directory_id().unwrap_or("").to_owned(),
            dns_name: d.name().unwrap_or("").to_owned(),
            short_name: d.short_name().map(str::to_owned),
            directory_type: d.r#type().map(|t| t.as_str()).unwrap_or("").to_owned(),
            edition: d.edition().map(|e| e.as_str().to_owned()),
            stage: d.stage().map(|s| s.as_str()).unwrap_or("").to_owned(),
            stage_reason: d.stage_reason().map(str::to_owned),
            dns_ips,
            vpc_id: vpc
                .and_then(|v| v.vpc_id())
                .map(str::to_owned)
                .or_else(|| owner.as_ref().and_then(|o| o.vpc_id.clone())),
            subnet_ids: vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default(),
            security_group_id: vpc.and_then(|v| v.security_group_id()).map(str::to_owned),
            share_status: d.share_status().map(|s| s.as_str().to_owned()),
            owner,
        }
    }
}

/// The outcome of looking a directory up.
#[derive(Debug)]
pub(crate) enum DirectoryLookup {
    Found(Box<DirectoryFacts>),
    NotFound,
    Failed(Error),
}

/// Describes one directory by its identifier.
pub(crate) async fn describe(lk: &Lookup, id: &str) -> DirectoryLookup {
    match describe_inner(lk, id).await {
        Ok(Some(d)) => DirectoryLookup::Found(Box::new(d)),
        Ok(None) => DirectoryLookup::NotFound,
        Err(e) => DirectoryLookup::Failed(e),
    }
}

async fn describe_inner(lk: &Lookup, id: &str) -> Result<Option<DirectoryFacts>> {
    let action = Action::DescribeDirectories;
    let mut token: Option<String> = None;
    loop {
        let page = call(
            lk,
            action,
            lk.ds
                .describe_directories()
                .directory_ids(id)
                .set_next_token(token.clone())
                .send(),
        )
        .await?;
        let page = match page {
            Ok(p) => p,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_does_not_exist_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => {
                return Err(Error::from_sdk(action, lk.profile(), e).with_timeout(lk.timeout));
            }
        };
        if let Some(d) = page
            .directory_descriptions()
            .iter()
            .find(|d| d.directory_id() == Some(id))
        {
            return Ok(Some(DirectoryFacts::from(d)));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() && token.as_deref() != Some(t) => token = Some(t.to_owned()),
            _ => return Ok(None),
        }
    }
}
