//! The SLA watch: finds tickets whose response or resolution is overdue, escalates each breach
//! once (tier 1 -> 2 -> 3) and writes it into the ticket's history for the manager.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use onsite_core::sla::Breach;
use tokio::sync::watch;

use crate::app::App;
use crate::error::{Error, Result};
use crate::repo::tickets;
use crate::store::begin_write;

/// Runs [`sweep`] every `sla_check_interval` until `stop` turns true.
pub async fn watch(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = sweep(&app, Utc::now()).await {
            tracing::warn!(error = %e, "SLA sweep failed; retrying next round");
        }
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(app.config.sla_check_interval) => {}
        }
    }
}

/// Escalates every breach not escalated yet as of `now`. Returns how many were escalated.
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<usize> {
    let mut escalated = 0;
    for candidate in tickets::unescalated_breaches(&app.db, now).await? {
        let txn = begin_write(&app.db).await?;
        let mut current = tickets::load(&txn, &candidate.id).await?;
        for breach in tickets::sla_clock(&current).breaches(now) {
            let pending = match breach {
                Breach::Response => !current.response_breach_escalated,
                Breach::Resolution => !current.resolution_breach_escalated && current.resolved_at_us.is_none(),
            };
            if !pending {
                continue;
            }
            match tickets::escalate_breach(&txn, &current, breach, now).await {
                Ok(saved) => {
                    tracing::warn!(ticket = %saved.number, reason = breach.reason(), tier = saved.tier, "SLA breached");
                    current = saved;
                    escalated += 1;
                }
                // Someone changed the ticket meanwhile; the next round sees the new version.
                Err(Error::StaleEtag { .. }) => break,
                Err(e) => return Err(e),
            }
        }
        txn.commit().await?;
    }
    crate::metrics::sla_breaches(escalated as u64);
    Ok(escalated)
}
