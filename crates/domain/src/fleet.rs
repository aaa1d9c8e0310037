//! Every Aurora PostgreSQL cluster of the account in one region (`DescribeDBClusters` without
//! an identifier, every page), for `aurora-krb check --all-clusters`.

use crate::Inspector;
use crate::cluster::{AURORA_POSTGRESQL, ClusterFacts};
use crate::error::{Action, Error, Result};
use crate::lookup::call;
use aws_sdk_rds::types::Filter;

/// Clusters per page: the most `DescribeDBClusters` returns at once, so a fleet of a few
/// hundred clusters costs a handful of calls.
const PAGE_SIZE: i32 = 100;

impl Inspector {
    /// Lists every Aurora PostgreSQL cluster of the region, in the order RDS returns them.
    ///
    /// Asks RDS for the `aurora-postgresql` engine only (the `engine` filter) and keeps only
    /// that engine in case an endpoint ignores the filter. Each page is one call under the
    /// timeout, retried by the SDK's standard retry (throttling included). A cluster is a
    /// Kerberos cluster when its [`ClusterFacts::memberships`] is not empty.
    pub async fn list_clusters(&self) -> Result<Vec<ClusterFacts>> {
        let lk = &self.lk;
        let action = Action::DescribeDbClusters;
        let mut pages = lk
            .rds
            .describe_db_clusters()
            .filters(
                Filter::builder()
                    .name("engine")
                    .values(AURORA_POSTGRESQL)
                    .build(),
            )
            .into_paginator()
            .page_size(PAGE_SIZE)
            .send();
        let mut out = Vec::new();
        while let Some(page) = call(lk, action, pages.next()).await? {
            let page = page
                .map_err(|e| Error::from_sdk(action, lk.profile(), e).with_timeout(lk.timeout))?;
            out.extend(
                page.db_clusters()
                    .iter()
                    .map(ClusterFacts::from)
                    .filter(|c| c.engine == AURORA_POSTGRESQL),
            );
        }
        tracing::debug!(region = %lk.region, clusters = out.len(), "listed clusters");
        Ok(out)
    }
}

impl ClusterFacts {
    /// Whether the cluster is joined to a directory (has a domain membership), whatever the
    /// membership's status.
    pub fn is_kerberos(&self) -> bool {
        !self.memberships.is_empty()
    }
}
