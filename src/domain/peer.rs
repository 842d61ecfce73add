//! What a failover checks of the peer: that a nested `nfs-manage` run there completed, that
//! it let go of DRBD, and (after fencing) that it is gone.

use anyhow::Result;

use super::facts::probe_drbd;
use crate::context::Ctx;
use crate::engine::check::{Check, Verdict};
use crate::process::Output;

pub enum PeerCheck {
    /// `nfs-manage CMD --json` ran on `node` (here or over ssh): its JSON result must say the
    /// plan completed (`ok` or `nothing to do`), every step done or already in place.
    SubRun { node: String, command: String },
    /// Proof that `node` let go: its non-dual DRBD resources are Secondary, seen from here
    /// (this node's own role, or the connected peer's role). The command is `drbdadm status`.
    LetGo { node: String },
    /// The peer still looks dead after fencing: DRBD not connected to it, no ARP answer for
    /// the service IP.
    Gone { node: String },
}

impl Check<Ctx> for PeerCheck {
    fn check(&self, ctx: &Ctx, out: &Output) -> Result<Verdict> {
        Ok(match self {
            PeerCheck::SubRun { node, command } => sub_run(node, command, out),
            PeerCheck::LetGo { node } => {
                let mut all = crate::tools::drbd::parse_status_text(&out.stdout)?;
                super::facts::name_as_configured(ctx, &mut all);
                let_go(ctx, node, &all)
            }
            PeerCheck::Gone { node } => peer_gone(ctx, node)?,
        })
    }
}

/// The JSON result of `nfs-manage CMD --yes --json` run as a step (see `Verify::SubRun`).
fn sub_run(node: &str, command: &str, out: &Output) -> Verdict {
    #[derive(serde::Deserialize)]
    struct Step {
        id: String,
        state: String,
    }
    #[derive(serde::Deserialize)]
    struct Result {
        format_version: u32,
        command: String,
        #[serde(default)]
        steps: Vec<Step>,
        #[serde(default)]
        result: Option<String>,
        /// `{"message":…,"exit_code":…}` (a plain string from older versions).
        #[serde(default)]
        error: Option<serde_json::Value>,
    }
    let r: Result = match serde_json::from_str(out.stdout.trim()) {
        Ok(r) => r,
        Err(e) => {
            return Err(format!(
                "`nfs-manage {command}` on {node} did not print its JSON result ({e}): {:?}",
                out.stdout.trim().chars().take(200).collect::<String>()
            ));
        }
    };
    if r.format_version != 1 || r.command != command {
        return Err(format!(
            "unexpected result from {node}: format_version {}, command {:?}",
            r.format_version, r.command
        ));
    }
    let result = r.result.as_deref().unwrap_or("");
    if !matches!(result, "ok" | "nothing to do") {
        return Err(format!(
            "`nfs-manage {command}` on {node}: {result}{}",
            r.error
                .map(|e| match e.get("message").and_then(|m| m.as_str()) {
                    Some(m) => format!(": {m}"),
                    None => format!(": {}", e.as_str().map_or(e.to_string(), String::from)),
                })
                .unwrap_or_default()
        ));
    }
    let open: Vec<String> = r
        .steps
        .iter()
        .filter(|s| s.state != "done" && s.state != "already")
        .map(|s| format!("{} {}", s.id, s.state))
        .collect();
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`nfs-manage {command}` on {node} says {result} but left steps open: {}",
            open.join(", ")
        ))
    }
}

/// `node` holds no non-dual resource as Primary, seen from here.
pub fn let_go(ctx: &Ctx, node: &str, all: &[crate::tools::drbd::Resource]) -> Verdict {
    let cfg = &ctx.config;
    let mut bad = Vec::new();
    for res in cfg.drbd_resources() {
        if cfg.resource_dual_primary(res) {
            continue;
        }
        let Some(r) = all.iter().find(|r| r.name == res) else {
            if node != ctx.node {
                bad.push(format!(
                    "{res}: not up on this node, so {node}'s role cannot be seen"
                ));
            }
            continue;
        };
        if node == ctx.node {
            if r.role == "Primary" {
                bad.push(format!("{res}: this node is still Primary"));
            }
            continue;
        }
        match r.connections.iter().find(|c| c.name == node) {
            Some(c) if c.connection == "Connected" && c.peer_role == "Secondary" => {}
            Some(c) if c.connection == "Connected" => {
                bad.push(format!("{res}: {node} is {}", c.peer_role))
            }
            Some(c) => bad.push(format!(
                "{res}: not connected to {node} ({}), so its role cannot be seen",
                c.connection
            )),
            None => bad.push(format!("{res}: no connection to {node}")),
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{node} has not let go: {}", bad.join("; ")))
    }
}

/// After fencing: DRBD is not connected to `node` on any resource and nobody answers ARP for
/// the service IP.
fn peer_gone(ctx: &Ctx, node: &str) -> Result<Verdict> {
    let all = probe_drbd(ctx)?;
    let connected: Vec<&str> = all
        .iter()
        .filter(|r| {
            r.connections
                .iter()
                .any(|c| c.name == node && c.connection == "Connected")
        })
        .map(|r| r.name.as_str())
        .collect();
    if !connected.is_empty() {
        return Ok(Err(format!(
            "DRBD is still connected to {node} on {}",
            connected.join(", ")
        )));
    }
    super::network::address_free(ctx)
}
