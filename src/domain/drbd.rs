//! DRBD checks: a resource is up, has a role, and no peer is Primary before we promote.

use anyhow::Result;

use super::facts::probe_drbd;
use crate::context::Ctx;
use crate::engine::check::{Check, Guard, Verdict};
use crate::process::Output;

/// No peer may be Primary for this resource (one that is not dual-primary).
pub struct PeerNotPrimary(pub String);

impl Guard<Ctx> for PeerNotPrimary {
    fn check(&self, ctx: &Ctx) -> Result<Verdict> {
        let res = &self.0;
        let all = probe_drbd(ctx)?;
        Ok(
            match all
                .iter()
                .find(|r| &r.name == res)
                .and_then(|r| r.any_peer_primary())
            {
                Some(c) => Err(format!(
                    "peer {} is Primary for DRBD resource {res}, which is not dual-primary; a second Primary would corrupt it",
                    c.name
                )),
                None => Ok(()),
            },
        )
    }
}

pub enum DrbdCheck {
    /// The resource is configured in the kernel.
    Up(String),
    /// This node's role for the resource.
    Role {
        resource: String,
        role: &'static str,
    },
}

impl Check<Ctx> for DrbdCheck {
    fn check(&self, ctx: &Ctx, _out: &Output) -> Result<Verdict> {
        let all = probe_drbd(ctx)?;
        Ok(match self {
            DrbdCheck::Up(res) => {
                if all.iter().any(|r| &r.name == res) {
                    Ok(())
                } else {
                    Err(format!("DRBD resource {res} is still not configured"))
                }
            }
            DrbdCheck::Role { resource, role } => match all.iter().find(|r| &r.name == resource) {
                Some(r) if r.role == *role => Ok(()),
                Some(r) => Err(format!(
                    "DRBD resource {resource} is {}, expected {role}",
                    r.role
                )),
                None => Err(format!("DRBD resource {resource} is not configured")),
            },
        })
    }
}
