//! `fleet render`: each node's cluster.yaml, derived from the layout.
//!
//! Without `--out` it writes this host's own config (`--config`); with `--out DIR` every
//! node's, as DIR/NODE/cluster.yaml, for configuration management to ship. A config that
//! does not start with the rendered mark was written by hand: it is never replaced without
//! `--force`, and every file is checked before the first is written, so a refusal changes
//! nothing.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::*;
use crate::cli::FleetRenderArgs;
use crate::config::fleet::RENDERED_MARK;
use crate::engine::files::write_atomic;

#[derive(Debug, Serialize)]
struct FileReport {
    path: String,
    cluster: String,
    node: String,
    /// unchanged, written, would-write (dry run), differs or missing (--check)
    state: &'static str,
}

pub fn run(global: &Global, args: &FleetRenderArgs) -> Result<()> {
    let layout = load(global, &runner(global))?;
    let mut targets: Vec<(PathBuf, &str, String, &str)> = Vec::new();
    match &args.out {
        Some(dir) => {
            for c in &layout.clusters {
                for node in c.config.nodes.keys() {
                    targets.push((
                        dir.join(node).join("cluster.yaml"),
                        &c.name,
                        node.clone(),
                        &c.rendered,
                    ));
                }
            }
        }
        None => {
            let node = this_host(global)?;
            let Some(c) = layout.cluster_of_node(&node) else {
                let e = format!(
                    "{} is not a node of any cluster in {} ({} clusters); pass --node NAME, or --out DIR to render every node's config",
                    node,
                    layout.origin,
                    layout.clusters.len()
                );
                return Err(if global.node.is_some() {
                    Error::Usage(e)
                } else {
                    Error::Config(e)
                }
                .into());
            };
            targets.push((global.config.clone(), &c.name, node, &c.rendered));
        }
    }
    let mut reports = Vec::new();
    let mut hand_written = Vec::new();
    for (path, cluster, node, text) in &targets {
        let current = match std::fs::read_to_string(path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(
                    Error::StepFailed(format!("cannot read {}: {e}", path.display())).into(),
                );
            }
        };
        let state = match &current {
            Some(t) if t == *text => "unchanged",
            Some(t) if !args.check && !args.force && !t.starts_with(RENDERED_MARK) => {
                hand_written.push(path.display().to_string());
                "differs"
            }
            Some(_) if args.check => "differs",
            None if args.check => "missing",
            _ if global.dry_run => "would-write",
            _ => "written",
        };
        reports.push(FileReport {
            path: path.display().to_string(),
            cluster: cluster.to_string(),
            node: node.clone(),
            state,
        });
    }
    if !hand_written.is_empty() {
        return Err(Error::Refused(format!(
            "{} not rendered from a fleet layout (no `{RENDERED_MARK}` first line), so it is not replaced: {}; compare it with `nfs-manage fleet render --out DIR`, then rerun with --force",
            if hand_written.len() == 1 { "this config was" } else { "these configs were" },
            hand_written.join(", ")
        ))
        .into());
    }
    for ((path, _, _, text), r) in targets.iter().zip(&reports) {
        if r.state == "written" {
            write_atomic(path, text)?;
        }
    }
    if global.json {
        crate::output::json(&serde_json::to_string_pretty(&serde_json::json!({
            "format_version": 1,
            "command": "fleet render",
            "source": layout.origin,
            "files": reports,
        }))?);
    } else if !global.quiet {
        for r in &reports {
            outln!(
                "{:<11} {} (cluster {}, node {})",
                r.state,
                r.path,
                r.cluster,
                r.node
            );
        }
    }
    let stale = reports
        .iter()
        .filter(|r| matches!(r.state, "differs" | "missing"))
        .count();
    if args.check && stale > 0 {
        return Err(Error::StepFailed(format!(
            "{stale} of {} cluster configs differ from {}; `nfs-manage fleet render` writes them",
            reports.len(),
            layout.origin
        ))
        .into());
    }
    Ok(())
}
