//! `fleet status` and `fleet place`: every node of every cluster asked at once.
//!
//! Each node runs its own `nfs-manage status --json` (over the cluster's `remote.ssh`, with
//! the layout's `node_config`), all of them started together, each with its own time limit:
//! the whole report takes as long as the slowest host, not the sum. A host that does not
//! answer in time, refuses the login or prints no status is reported as unknown with the
//! reason — never left out.

use std::time::Instant;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::*;
use crate::cli::{FleetPlaceArgs, FleetStatusArgs};
use crate::config::fleet::FleetCluster;
use crate::domain::state::Usage;
use crate::process::Cmd;
use crate::tools::ssh;

/// The part of a node's `status --json` the fleet shows.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RemoteStatus {
    pub role: String,
    pub volumes: Vec<RemoteVolume>,
    /// As `status --json` words them: one sentence each.
    #[serde(default)]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RemoteVolume {
    pub name: String,
    pub mounted: bool,
    pub exported: bool,
    pub drbd: Option<RemoteDrbd>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RemoteDrbd {
    pub role: String,
    pub disk: String,
    pub peers: Vec<RemotePeer>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RemotePeer {
    pub name: String,
    pub connection: String,
    pub replication: String,
    pub sync_percent: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    pub cluster: String,
    pub node: String,
    pub address: String,
    /// "answered" or "unknown"
    pub state: &'static str,
    /// Why the node is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<RemoteStatus>,
}

/// What a cluster's backup host says of its backups (`backup list --json`).
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub host: String,
    /// "answered" or "unknown"
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub backups: Vec<BackupAge>,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupAge {
    pub name: String,
    /// `ok`; else a problem: `stale` (the newest good copy is older than `max_age`), `never`
    /// (no successful run), `failed` or `refused` (the last run).
    pub state: &'static str,
    /// The newest good copy: when its run ended and how long ago; null: there is none.
    pub last_ok_time: Option<String>,
    pub age_seconds: Option<u64>,
    /// The backup's `max_age`; null when the backup host does not say (an older version).
    pub max_age_seconds: Option<u64>,
    /// The last run, whatever its result; null: never ran.
    pub last_time: Option<String>,
    pub last_result: Option<String>,
}

impl BackupAge {
    pub fn is_problem(&self) -> bool {
        self.state != "ok"
    }
}

/// A backup's state from its last run's result, its newest good copy's age and its max age.
fn backup_state(last_result: Option<&str>, age: Option<u64>, max_age: Option<u64>) -> &'static str {
    match (last_result, age, max_age) {
        (Some(r), _, _) if r != "ok" && r != "refused" => "failed",
        (_, None, _) => "never",
        (_, Some(a), Some(m)) if a > m => "stale",
        (Some("refused"), _, _) => "refused",
        _ => "ok",
    }
}

#[derive(Debug, Deserialize)]
struct RemoteBackups {
    backups: Vec<RemoteBackup>,
    #[serde(default)]
    problems: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RemoteBackup {
    name: String,
    last_run: Option<RemoteRun>,
    #[serde(default)]
    last_ok: Option<RemoteOk>,
    /// Absent from an older version's list, which has no `last_ok` either.
    #[serde(default)]
    max_age_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct RemoteRun {
    time: String,
    result: String,
}

#[derive(Debug, Deserialize)]
struct RemoteOk {
    time: String,
    #[serde(default)]
    age_seconds: Option<u64>,
}

impl RemoteBackup {
    /// The fleet's view of one backup; ages the backup host did not give are counted here.
    fn age(self, now: std::time::SystemTime) -> BackupAge {
        let since = |t: &str| {
            let t = humantime::parse_rfc3339_weak(t).ok()?;
            Some(now.duration_since(t).unwrap_or_default().as_secs())
        };
        let last_ok = match (self.max_age_seconds, self.last_ok, &self.last_run) {
            (Some(_), ok, _) => ok,
            // An older backup host: its last run, when good, is the newest good copy known.
            (None, _, Some(r)) if r.result == "ok" => Some(RemoteOk {
                time: r.time.clone(),
                age_seconds: None,
            }),
            (None, _, _) => None,
        };
        let age = last_ok
            .as_ref()
            .and_then(|o| o.age_seconds.or_else(|| since(&o.time)));
        let last_result = self.last_run.as_ref().map(|r| r.result.clone());
        BackupAge {
            state: backup_state(last_result.as_deref(), age, self.max_age_seconds),
            name: self.name,
            last_ok_time: last_ok.map(|o| o.time),
            age_seconds: age,
            max_age_seconds: self.max_age_seconds,
            last_time: self.last_run.map(|r| r.time),
            last_result,
        }
    }
}

/// `nfs-manage backup list --json` on `c`'s backup host: by its address when it is one of
/// the cluster's nodes, else by its name.
fn backups_cmd(layout: &Layout, c: &FleetCluster, limit: Duration) -> Option<Cmd> {
    let host = c.backup_host.as_ref()?;
    let remote = c.config.remote.as_ref()?;
    let mut words: Vec<String> = vec![
        "nfs-manage".into(),
        "--config".into(),
        layout.node_config.display().to_string(),
    ];
    let dest = match c.config.nodes.get(host) {
        Some(n) => {
            words.extend(["--node".into(), host.clone()]);
            format!("{}@{}", remote.user, n.address)
        }
        None => format!("{}@{host}", remote.user),
    };
    words.extend(["backup".into(), "list".into(), "--json".into()]);
    Some(ssh::remote(&remote.ssh, &dest, &words, crate::process::Effect::Probe).with_timeout(limit))
}

/// Ask every backup host at once; one report per cluster that has one, by cluster name.
pub fn gather_backups(
    runner: &Runner,
    layout: &Layout,
    limit: Duration,
) -> Vec<(String, BackupReport)> {
    let mut out = Vec::new();
    let mut cmds = Vec::new();
    for c in &layout.clusters {
        let Some(host) = &c.backup_host else { continue };
        let mut r = BackupReport {
            host: host.clone(),
            state: "unknown",
            reason: None,
            backups: Vec::new(),
            problems: Vec::new(),
        };
        match backups_cmd(layout, c, limit) {
            Some(cmd) => cmds.push((out.len(), cmd)),
            None => r.reason = Some("the cluster's config has no remote: (ssh)".into()),
        }
        out.push((c.name.clone(), r));
    }
    let refs: Vec<&Cmd> = cmds.iter().map(|(_, c)| c).collect();
    let now = std::time::SystemTime::now();
    for ((i, cmd), res) in cmds.iter().zip(runner.run_all_limited(&refs, limit)) {
        let r = &mut out[*i].1;
        let parsed = res.map_err(|e| format!("{e:#}")).and_then(|o| {
            serde_json::from_str::<RemoteBackups>(o.stdout.trim()).map_err(|_| {
                if o.timed_out {
                    format!("no answer within {}", humantime::format_duration(limit))
                } else {
                    format!(
                        "`{cmd}` exited {} without a backup list: {}",
                        o.rc.map_or("by a signal".to_string(), |c| c.to_string()),
                        o.stderr.trim()
                    )
                }
            })
        });
        match parsed {
            Ok(b) => {
                r.state = "answered";
                r.problems = b.problems;
                r.backups = b.backups.into_iter().map(|x| x.age(now)).collect();
            }
            Err(why) => r.reason = Some(why),
        }
    }
    out
}

/// The command that asks `node` of `c` for its status, or why there is none.
fn status_cmd(
    layout: &Layout,
    c: &FleetCluster,
    node: &str,
    limit: Duration,
) -> Result<Cmd, String> {
    let Some(remote) = &c.config.remote else {
        return Err("the cluster's config has no remote: (ssh), so it cannot be asked".into());
    };
    let words: Vec<String> = [
        "nfs-manage",
        "--config",
        &layout.node_config.display().to_string(),
        "--node",
        node,
        "status",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Ok(ssh::cmd(
        remote,
        c.config.nodes[node].address,
        &words,
        crate::process::Effect::Probe,
    )
    .with_timeout(limit))
}

/// Ask every node of `clusters` at once; one report per node, in layout order.
pub fn gather(
    runner: &Runner,
    layout: &Layout,
    clusters: &[&FleetCluster],
    limit: Duration,
) -> Vec<NodeReport> {
    let mut reports = Vec::new();
    let mut cmds: Vec<(usize, Cmd)> = Vec::new();
    for c in clusters {
        for (node, n) in &c.config.nodes {
            let mut r = NodeReport {
                cluster: c.name.clone(),
                node: node.clone(),
                address: n.address.to_string(),
                state: "unknown",
                reason: None,
                seconds: 0.0,
                status: None,
            };
            match status_cmd(layout, c, node, limit) {
                Ok(cmd) => cmds.push((reports.len(), cmd)),
                Err(why) => r.reason = Some(why),
            }
            reports.push(r);
        }
    }
    let start = Instant::now();
    let refs: Vec<&Cmd> = cmds.iter().map(|(_, c)| c).collect();
    for ((i, cmd), out) in cmds.iter().zip(runner.run_all_limited(&refs, limit)) {
        let r = &mut reports[*i];
        r.seconds = start.elapsed().as_secs_f64();
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                r.reason = Some(format!("{e:#}"));
                continue;
            }
        };
        r.seconds = out.duration.as_secs_f64();
        if out.timed_out {
            r.reason = Some(format!(
                "no answer within {} (`{cmd}`)",
                humantime::format_duration(limit)
            ));
            continue;
        }
        match serde_json::from_str::<RemoteStatus>(out.stdout.trim()) {
            Ok(st) => {
                r.state = "answered";
                r.status = Some(st);
            }
            Err(e) => {
                // Say what came instead: its complaint, else what it printed and why that is
                // not a status (an older nfs-manage, a login banner, a forced command…).
                let why = match (out.stderr.trim(), out.stdout.trim()) {
                    (err, _) if !err.is_empty() => err.to_string(),
                    ("", "") => "no output".to_string(),
                    (_, printed) => {
                        let start: String = printed.chars().take(200).collect();
                        format!("it printed {start:?}, which is not a status ({e})")
                    }
                };
                r.reason = Some(format!(
                    "`{cmd}` exited {} without a status: {why}",
                    out.rc.map_or("by a signal".to_string(), |c| c.to_string()),
                ));
            }
        }
    }
    reports
}

pub fn run(global: &Global, args: &FleetStatusArgs) -> Result<()> {
    let runner = runner(global);
    let layout = load(global, &runner)?;
    let all: Vec<&FleetCluster> = layout.clusters.iter().collect();
    // The backup hosts are asked while the nodes are.
    let (reports, backups) = std::thread::scope(|sc| {
        let b = sc.spawn(|| gather_backups(&runner, &layout, args.host_timeout));
        let r = gather(&runner, &layout, &all, args.host_timeout);
        (r, b.join().expect("the backup survey does not panic"))
    });
    let backups_of = |name: &str| backups.iter().find(|(c, _)| c == name).map(|(_, b)| b);
    if global.json {
        let clusters: Vec<serde_json::Value> = layout
            .clusters
            .iter()
            .map(|c| {
                let nodes: Vec<&NodeReport> =
                    reports.iter().filter(|r| r.cluster == c.name).collect();
                serde_json::json!({
                    "name": c.name,
                    "active": active_of(&nodes),
                    "backup_host": c.backup_host,
                    "backups": backups_of(&c.name),
                    "targets": c.volumes.iter().map(|(v, x)| (v.clone(), x.target_usage)).collect::<std::collections::BTreeMap<_, _>>(),
                    "nodes": nodes,
                })
            })
            .collect();
        crate::output::json(&serde_json::to_string_pretty(&serde_json::json!({
            "format_version": 1,
            "command": "fleet status",
            "source": layout.origin,
            "clusters": clusters,
        }))?);
    } else if !global.quiet {
        outln!("{}", render(&layout, &reports));
        if !backups.is_empty() {
            outln!("{}", render_backups(&backups));
        }
    }
    // A script must be able to tell a complete survey from one with holes.
    let mut silent: Vec<String> = reports
        .iter()
        .filter(|r| r.state == "unknown")
        .map(|r| format!("{}/{}", r.cluster, r.node))
        .collect();
    silent.extend(
        backups
            .iter()
            .filter(|(_, b)| b.state == "unknown")
            .map(|(c, b)| format!("{c}/{} (backups)", b.host)),
    );
    if !silent.is_empty() {
        return Err(Error::Unknown(format!(
            "{} of {} hosts did not answer and are shown as unknown: {}",
            silent.len(),
            reports.len() + backups.len(),
            silent.join(", ")
        ))
        .into());
    }
    Ok(())
}

/// The node whose role is active (dual-primary clusters may have two: both are named).
fn active_of(nodes: &[&NodeReport]) -> Option<String> {
    let active: Vec<&str> = nodes
        .iter()
        .filter(|r| r.status.as_ref().is_some_and(|s| s.role == "active"))
        .map(|r| r.node.as_str())
        .collect();
    (!active.is_empty()).then(|| active.join(","))
}

pub fn human_bytes(b: u64) -> String {
    let units = ["B", "K", "M", "G", "T", "P"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b}B")
    } else {
        format!("{v:.1}{}", units[u])
    }
}

fn render(layout: &Layout, reports: &[NodeReport]) -> String {
    use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec![
        "cluster",
        "node",
        "role",
        "volumes (used/size, target)",
        "replication",
        "problems",
    ]);
    for r in reports {
        let Some(st) = &r.status else {
            t.add_row(vec![
                r.cluster.clone(),
                r.node.clone(),
                "unknown".into(),
                String::new(),
                String::new(),
                r.reason.clone().unwrap_or_default(),
            ]);
            continue;
        };
        let c = layout.cluster(&r.cluster);
        let vols: Vec<String> = st
            .volumes
            .iter()
            .filter(|v| v.mounted)
            .map(|v| {
                let target = c.map_or(90, |c| c.target_usage(&v.name));
                match v.usage {
                    Some(u) if u.size_bytes > 0 => format!(
                        "{} {}/{} {}%{} (target {target}%)",
                        v.name,
                        human_bytes(u.used_bytes),
                        human_bytes(u.size_bytes),
                        u.used_bytes * 100 / u.size_bytes,
                        if u.used_bytes * 100 > u.size_bytes * u64::from(target) {
                            " OVER"
                        } else {
                            ""
                        },
                    ),
                    _ => format!("{} (usage unknown)", v.name),
                }
            })
            .collect();
        let repl: Vec<String> = st
            .volumes
            .iter()
            .filter_map(|v| {
                let d = v.drbd.as_ref()?;
                let peers: Vec<String> = d
                    .peers
                    .iter()
                    .map(|p| match p.sync_percent {
                        Some(s) => format!("{} {:.1}%", p.replication, s),
                        None => p.replication.clone(),
                    })
                    .collect();
                Some(format!(
                    "{} {}/{} {}",
                    v.name,
                    d.role,
                    d.disk,
                    peers.join(",")
                ))
            })
            .collect();
        let problems: Vec<&str> = st.problems.iter().map(String::as_str).collect();
        t.add_row(vec![
            r.cluster.clone(),
            r.node.clone(),
            st.role.clone(),
            vols.join("\n"),
            repl.join("\n"),
            problems.join("\n"),
        ]);
    }
    let unknown = reports.iter().filter(|r| r.state == "unknown").count();
    format!(
        "{t}\n{} clusters, {} nodes, {} answered, {unknown} unknown",
        layout.clusters.len(),
        reports.len(),
        reports.len() - unknown
    )
}

/// An age in its two largest units: `42s`, `7m 12s`, `3h 05m`, `2d 04h`.
pub fn short_age(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match secs {
        0..60 => format!("{s}s"),
        60..3600 => format!("{m}m {s:02}s"),
        3600..86400 => format!("{h}h {m:02}m"),
        _ => format!("{d}d {h:02}h"),
    }
}

/// The backups of every cluster that has a backup host: one table row per backup, a line per
/// cluster whose host has none or did not answer, a tally naming each problem, and the
/// problems the backup hosts reported themselves (snapshot fill, mounts, LVM).
fn render_backups(backups: &[(String, BackupReport)]) -> String {
    use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
    let now = std::time::SystemTime::now();
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec![
        "cluster",
        "backup host",
        "backup",
        "state",
        "last good copy",
        "last run",
        "max age",
    ]);
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    let (mut total, mut ok) = (0, 0);
    for (cluster, b) in backups {
        if b.state == "unknown" {
            lines.push(format!(
                "backups of {cluster} on {}: unknown ({})",
                b.host,
                b.reason.as_deref().unwrap_or("no answer")
            ));
            continue;
        }
        if b.backups.is_empty() {
            lines.push(format!(
                "backups of {cluster} on {}: none configured",
                b.host
            ));
        }
        for x in &b.backups {
            total += 1;
            if x.is_problem() {
                bad.push(format!("{cluster}/{} {}", x.name, x.state));
            } else {
                ok += 1;
            }
            let last_ok = match x.age_seconds {
                Some(a) => format!("{} ago", short_age(a)),
                None => "never".into(),
            };
            let last_run = match (&x.last_result, &x.last_time) {
                (Some(res), Some(time)) => match humantime::parse_rfc3339_weak(time) {
                    Ok(t) => format!(
                        "{res}, {} ago",
                        short_age(now.duration_since(t).unwrap_or_default().as_secs())
                    ),
                    Err(_) => format!("{res}, {time}"),
                },
                _ => "never".into(),
            };
            t.add_row(vec![
                cluster.clone(),
                b.host.clone(),
                x.name.clone(),
                if x.is_problem() {
                    x.state.to_uppercase()
                } else {
                    x.state.to_string()
                },
                last_ok,
                last_run,
                x.max_age_seconds.map_or("-".into(), short_age),
            ]);
        }
    }
    let mut out = String::new();
    if total > 0 {
        out.push_str(&format!(
            "{t}
"
        ));
    }
    for l in &lines {
        out.push_str(&format!(
            "{l}
"
        ));
    }
    out.push_str(&format!(
        "{total} backups, {ok} ok, {} with a problem{}",
        bad.len(),
        if bad.is_empty() {
            String::new()
        } else {
            format!(": {}", bad.join(", "))
        }
    ));
    for (cluster, b) in backups {
        for p in &b.problems {
            out.push_str(&format!("\n{cluster} ({}): {p}", b.host));
        }
    }
    out
}

/// One volume `fleet place` considered.
#[derive(Debug, Serialize)]
struct Candidate {
    cluster: String,
    volume: String,
    node: String,
    size_bytes: u64,
    used_bytes: u64,
    target_percent: u8,
    /// What is left under the target once the project is there (negative: over).
    headroom_after_bytes: i128,
}

pub fn place(global: &Global, args: &FleetPlaceArgs) -> Result<()> {
    let mut bad = Vec::new();
    crate::config::check_name(&mut bad, "project", &args.project, "a project name");
    if let Some(b) = bad.first() {
        return Err(Error::Usage(b.message.clone()).into());
    }
    let runner = runner(global);
    let layout = load(global, &runner)?;
    for c in &layout.clusters {
        let file = crate::domain::projects::project_file(&c.config, &args.project);
        if file.exists() {
            return Err(Error::Refused(format!(
                "project {} already lives on cluster {} ({}); see `nfs-manage where {}`",
                args.project,
                c.name,
                file.display(),
                args.project
            ))
            .into());
        }
    }
    let all: Vec<&FleetCluster> = layout.clusters.iter().collect();
    let reports = gather(&runner, &layout, &all, args.host_timeout);
    let mut candidates = Vec::new();
    let mut unseen = Vec::new();
    for c in &layout.clusters {
        for v in &c.config.volumes {
            // The node that has it mounted (any of them, for a dual-primary volume).
            let seen = reports
                .iter()
                .filter(|r| r.cluster == c.name)
                .find_map(|r| {
                    let st = r.status.as_ref()?;
                    let rv = st.volumes.iter().find(|x| x.name == v.name && x.mounted)?;
                    Some((r.node.clone(), rv.usage?))
                });
            let Some((node, u)) = seen else {
                unseen.push(format!("{}/{}", c.name, v.name));
                continue;
            };
            let target = c.target_usage(&v.name);
            let limit = u128::from(u.size_bytes) * u128::from(target) / 100;
            candidates.push(Candidate {
                cluster: c.name.clone(),
                volume: v.name.clone(),
                node,
                size_bytes: u.size_bytes,
                used_bytes: u.used_bytes,
                target_percent: target,
                headroom_after_bytes: limit as i128
                    - i128::from(u.used_bytes)
                    - i128::from(args.size),
            });
        }
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.headroom_after_bytes));
    let best = candidates.first().filter(|c| c.headroom_after_bytes >= 0);
    let command = best.map(|b| {
        let user = layout
            .cluster(&b.cluster)
            .and_then(|c| c.config.remote.as_ref())
            .map_or("root", |r| r.user.as_str());
        format!(
            "ssh {user}@{} nfs-manage{} enable-project {} --volume {}",
            b.node,
            config_arg(&layout),
            args.project,
            b.volume
        )
    });
    if global.json {
        crate::output::json(&serde_json::to_string_pretty(&serde_json::json!({
            "format_version": 1,
            "command": "fleet place",
            "project": args.project,
            "size_bytes": args.size,
            "chosen": best,
            "next": command,
            "candidates": candidates,
            "not_considered": unseen,
        }))?);
    } else if !global.quiet {
        for c in &candidates {
            let h = c.headroom_after_bytes;
            outln!(
                "{}/{} on {}: {} used of {} ({}%), target {}%: {}",
                c.cluster,
                c.volume,
                c.node,
                human_bytes(c.used_bytes),
                human_bytes(c.size_bytes),
                c.used_bytes * 100 / c.size_bytes.max(1),
                c.target_percent,
                if h >= 0 {
                    format!("{} left under the target after it", human_bytes(h as u64))
                } else {
                    format!(
                        "{} over the target with it",
                        human_bytes(h.unsigned_abs() as u64)
                    )
                }
            );
        }
        for u in &unseen {
            outln!("{u}: not considered, no node answered with its usage");
        }
        if let (Some(b), Some(cmd)) = (best, &command) {
            outln!(
                "\nplace {} ({}) on {}/{}: the most headroom under its target\n  {cmd}",
                args.project,
                human_bytes(args.size),
                b.cluster,
                b.volume
            );
        }
    }
    if best.is_none() {
        return Err(Error::Refused(format!(
            "no volume has room for {} under its target usage ({} considered, {} not answering)",
            human_bytes(args.size),
            candidates.len(),
            unseen.len()
        ))
        .into());
    }
    Ok(())
}

/// ` --config PATH` for a command run on a node, when the nodes keep it elsewhere than the
/// default.
pub fn config_arg(layout: &Layout) -> String {
    if layout.node_config == std::path::Path::new(crate::cli::DEFAULT_CONFIG) {
        String::new()
    } else {
        format!(
            " --config {}",
            crate::process::shell_quote(&layout.node_config.display().to_string())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::state::{
        Area, DrbdStatus, NfsStatus, PeerStatus, Problem, Status, VolumeStatus,
    };

    /// What a node prints is what the fleet reads: a degraded node with problems (one
    /// sentence each in `status --json`) is shown with them, never as a host that did not
    /// answer.
    #[test]
    fn a_nodes_status_json_with_problems_is_read() {
        let st = Status {
            format_version: 1,
            cluster: "c".into(),
            node: "n1".into(),
            role: "degraded",
            service_ip: None,
            nfs: NfsStatus {
                service: "nfs-server".into(),
                active: false,
                state: "inactive".into(),
            },
            services: Vec::new(),
            volumes: vec![VolumeStatus {
                name: "tools".into(),
                mountpoint: "/srv/tools".into(),
                mounted: false,
                fstype: None,
                exported: false,
                drbd: Some(DrbdStatus {
                    resource: "tools".into(),
                    role: "Primary".into(),
                    disk: "UpToDate".into(),
                    peers: vec![PeerStatus {
                        name: "n2".into(),
                        connection: "Connected".into(),
                        role: "Secondary".into(),
                        disk: "UpToDate".into(),
                        replication: "Established".into(),
                        sync_percent: None,
                    }],
                }),
                usage: None,
                holders: None,
            }],
            problems: vec![
                Problem::critical(Area::Nfs, "NFS server nfs-server is inactive"),
                Problem::critical(Area::Exports, "volume tools: not mounted at /srv/tools"),
            ],
        };
        let text = serde_json::to_string_pretty(&st).unwrap();
        let read: RemoteStatus = serde_json::from_str(&text).unwrap();
        assert_eq!(read.role, "degraded");
        assert_eq!(
            read.problems,
            [
                "NFS server nfs-server is inactive",
                "volume tools: not mounted at /srv/tools"
            ]
        );
        assert_eq!(read.volumes[0].name, "tools");
        assert!(!read.volumes[0].mounted);
    }

    #[test]
    fn ages_read_in_their_two_largest_units() {
        assert_eq!(short_age(0), "0s");
        assert_eq!(short_age(59), "59s");
        assert_eq!(short_age(432), "7m 12s");
        assert_eq!(short_age(3 * 3600 + 5 * 60 + 9), "3h 05m");
        assert_eq!(short_age(36 * 3600), "1d 12h");
    }

    #[test]
    fn a_backup_is_a_problem_unless_its_last_run_was_good_and_its_copy_young() {
        let day = Some(86400);
        assert_eq!(backup_state(Some("ok"), Some(10), day), "ok");
        assert_eq!(backup_state(Some("ok"), Some(86401), day), "stale");
        assert_eq!(backup_state(None, None, day), "never");
        assert_eq!(backup_state(Some("failed"), None, day), "failed");
        assert_eq!(backup_state(Some("failed"), Some(10), day), "failed");
        assert_eq!(backup_state(Some("refused"), Some(10), day), "refused");
        assert_eq!(backup_state(Some("refused"), Some(86401), day), "stale");
        assert_eq!(backup_state(Some("refused"), None, day), "never");
        // A host that does not say its max age: no verdict on the age.
        assert_eq!(backup_state(Some("ok"), Some(86401 * 9), None), "ok");
    }

    #[test]
    fn backup_ages_come_from_the_backup_host_or_from_its_times() {
        let now = humantime::parse_rfc3339("2026-01-02T00:00:00Z").unwrap();
        let read =
            |v: serde_json::Value| serde_json::from_value::<RemoteBackup>(v).unwrap().age(now);
        // This version: the host's own age of its newest good copy, though the last run failed.
        let b = read(serde_json::json!({"name": "tools",
            "last_run": {"time": "2026-01-01T23:00:00Z", "result": "failed"},
            "last_ok": {"time": "2026-01-01T00:00:00Z", "age_seconds": 86000},
            "max_age_seconds": 129600}));
        assert_eq!((b.state, b.age_seconds), ("failed", Some(86000)));
        assert_eq!(b.last_ok_time.as_deref(), Some("2026-01-01T00:00:00Z"));
        let b = read(
            serde_json::json!({"name": "misc", "last_run": null, "last_ok": null,
            "max_age_seconds": 129600}),
        );
        assert_eq!((b.state, b.age_seconds), ("never", None));
        // An older version: a good last run is the newest copy, aged here.
        let b = read(serde_json::json!({"name": "tools",
            "last_run": {"time": "2026-01-01T23:00:00Z", "result": "ok"}}));
        assert_eq!((b.state, b.age_seconds), ("ok", Some(3600)));
    }
}
