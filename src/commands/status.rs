//! `nfs-manage status`: what is true on this node, per volume and overall, in plain words.

use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use console::style;

use crate::cli::StatusArgs;
use crate::context::Ctx;
use crate::domain::facts::{Facts, Mode};
use crate::domain::state::*;
use crate::tools::fuser;

pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<()> {
    let facts = Facts::gather(ctx, Mode::Strict)?;
    let mut st = compute(ctx, &facts);
    if args.holders {
        add_holders(ctx, &mut st)?;
    }
    if ctx.global.json {
        crate::output::json(&serde_json::to_string_pretty(&st)?);
    } else if !ctx.global.quiet {
        out!("{}", render(&st));
    }
    Ok(())
}

/// Asks fuser about every mounted volume at once (a failover's preflight reads this from the
/// old node in the same ssh session as its status).
fn add_holders(ctx: &Ctx, st: &mut Status) -> Result<()> {
    let cmds: Vec<(usize, crate::process::Cmd)> = st
        .volumes
        .iter()
        .enumerate()
        .filter(|(_, v)| v.mounted)
        .map(|(i, v)| (i, fuser::holders_cmd(std::path::Path::new(&v.mountpoint))))
        .collect();
    let refs: Vec<&crate::process::Cmd> = cmds.iter().map(|(_, c)| c).collect();
    for ((i, cmd), out) in cmds.iter().zip(ctx.runner.run_all(&refs)) {
        let pids = fuser::parse_holders(&out?).map_err(|e| anyhow::anyhow!("`{cmd}`: {e:#}"))?;
        st.volumes[*i].holders = Some(pids.into_iter().map(fuser::describe).collect());
    }
    Ok(())
}

pub fn render(st: &Status) -> String {
    let role = match st.role {
        "active" | "standby" => style(st.role).green().bold(),
        "degraded" => style(st.role).red().bold(),
        _ => style(st.role).yellow().bold(),
    };
    let mut out = format!("{} on {}: {role}\n", st.cluster, st.node);
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec![
        "volume", "DRBD", "disk", "peers", "mounted", "exported",
    ]);
    for v in &st.volumes {
        let (role, disk, peers) = match &v.drbd {
            None => ("-".to_string(), "-".to_string(), "-".to_string()),
            Some(d) => (
                format!("{} {}", d.resource, d.role),
                d.disk.clone(),
                d.peers
                    .iter()
                    .map(|p| {
                        let pct = p
                            .sync_percent
                            .map(|s| format!(" {s:.2}%"))
                            .unwrap_or_default();
                        format!(
                            "{}: {} {} {} {}{pct}",
                            p.name, p.connection, p.role, p.disk, p.replication
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        };
        let mounted = if v.mounted {
            format!(
                "{} {} ({})",
                yes_no(true),
                v.mountpoint,
                v.fstype.as_deref().unwrap_or("?")
            )
        } else {
            format!("{} {}", yes_no(false), v.mountpoint)
        };
        t.add_row(vec![
            v.name.clone(),
            role,
            disk,
            peers,
            mounted,
            yes_no(v.exported),
        ]);
    }
    out.push_str(&format!("{t}\n"));
    for v in &st.volumes {
        if let Some(h) = &v.holders {
            out.push_str(&format!(
                "{} is used by: {}\n",
                v.mountpoint,
                if h.is_empty() {
                    "nothing".to_string()
                } else {
                    crate::domain::mounts::describe_holders(h)
                }
            ));
        }
    }
    out.push_str(&format!(
        "NFS server ({}): {}\n",
        st.nfs.service,
        if st.nfs.active {
            yes_no(true)
        } else {
            st.nfs.state.clone()
        }
    ));
    for s in &st.services {
        out.push_str(&format!("service {}: {}\n", s.name, s.state));
    }
    if let Some(ip) = &st.service_ip {
        out.push_str(&format!(
            "service IP {} on {}: {}\n",
            ip.address,
            ip.interface,
            if ip.present {
                "here".to_string()
            } else {
                "not here".to_string()
            }
        ));
    }
    if st.problems.is_empty() {
        out.push_str("problems: none\n");
    } else {
        out.push_str(&format!("problems ({}):\n", st.problems.len()));
        for p in &st.problems {
            out.push_str(&format!("  - {p}\n"));
        }
    }
    out
}

fn yes_no(b: bool) -> String {
    if b {
        style("yes").green().to_string()
    } else {
        style("no").yellow().to_string()
    }
}
