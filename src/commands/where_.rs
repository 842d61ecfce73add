//! `nfs-manage where THING`: where a project, volume, cluster, node, path or client address
//! lives in the fleet, and the commands an operator runs for it next.
//!
//! The lookup is read from the layout alone (and, for a project, path or address, from the
//! clusters' projects directories): it stays instant however large the fleet. Which node
//! serves is then asked: the cluster lock in etcd where the cluster has one (one `etcdctl
//! get`), else each node's `status --json` over ssh; `--offline` asks nothing.

use std::net::IpAddr;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::cli::{Global, WhereArgs};
use crate::commands::fleet;
use crate::config::fleet::{FleetCluster, Layout};
use crate::domain::projects::{self, Project};
use crate::engine::runner::Runner;
use crate::error::Error;
use crate::process::shell_quote;
use crate::tools::etcd;

#[derive(Debug, Serialize)]
pub struct Match {
    /// project, volume, path, client, cluster or node
    pub kind: &'static str,
    pub cluster: String,
    pub nodes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mountpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<ExportLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupRef>,
    pub serving: Serving,
    pub commands: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ExportLine {
    pub path: String,
    pub options: String,
    /// Static clients; a clients_command's are only known on the node.
    pub clients: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients_command: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct BackupRef {
    pub host: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Serving {
    /// The node(s) serving now, comma-separated for a dual-primary cluster; null: unknown.
    pub node: Option<String>,
    /// etcd-lock, status, not-asked or unknown
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

pub fn run(global: &Global, args: &WhereArgs) -> Result<()> {
    let runner = fleet::runner(global);
    let layout = fleet::load(global, &runner)?;
    let mut matches = find(&layout, &args.thing)?;
    if matches.is_empty() {
        return Err(Error::Usage(format!(
            "nothing in the fleet ({}, {} clusters) is called or holds {:?}: expected a project, a volume (NAME or CLUSTER/NAME), a cluster, a node, an absolute path or a client address",
            layout.origin,
            layout.clusters.len(),
            args.thing
        ))
        .into());
    }
    let mut asked: Vec<(String, Serving)> = Vec::new();
    for m in &mut matches {
        let serving = if args.offline {
            Serving {
                node: None,
                source: "not-asked",
                detail: None,
            }
        } else if let Some((_, s)) = asked.iter().find(|(c, _)| *c == m.cluster) {
            s.clone()
        } else {
            let c = layout.cluster(&m.cluster).expect("a match names a cluster");
            let s = who_serves(&runner, &layout, c);
            asked.push((m.cluster.clone(), s.clone()));
            s
        };
        m.serving = serving;
        let c = layout.cluster(&m.cluster).expect("a match names a cluster");
        m.commands = next_commands(&layout, &global.fleet, c, m);
    }
    if global.json {
        crate::output::json(&serde_json::to_string_pretty(&serde_json::json!({
            "format_version": 1,
            "command": "where",
            "query": args.thing,
            "matches": matches,
        }))?);
    } else if !global.quiet {
        let blocks: Vec<String> = matches.iter().map(render).collect();
        outln!("{}", blocks.join("\n"));
    }
    Ok(())
}

fn base(kind: &'static str, c: &FleetCluster) -> Match {
    Match {
        kind,
        cluster: c.name.clone(),
        nodes: c.config.nodes.keys().cloned().collect(),
        volume: None,
        mountpoint: None,
        project: None,
        path: None,
        exports: Vec::new(),
        backup: None,
        serving: Serving {
            node: None,
            source: "not-asked",
            detail: None,
        },
        commands: Vec::new(),
    }
}

fn with_volume(mut m: Match, c: &FleetCluster, volume: &str) -> Match {
    let v = c.config.volumes.iter().find(|v| v.name == volume);
    m.volume = Some(volume.to_string());
    m.mountpoint = v.map(|v| v.mountpoint.display().to_string());
    let backup = c.volumes.get(volume).and_then(|x| x.backup.clone());
    if let Some(host) = &c.backup_host {
        m.backup = Some(BackupRef {
            host: host.clone(),
            name: backup.unwrap_or_else(|| volume.to_string()),
        });
    }
    m
}

fn with_project(m: Match, c: &FleetCluster, p: &Project) -> Match {
    let mut m = with_volume(m, c, &p.spec.volume);
    m.project = Some(p.name().to_string());
    m.path = Some(p.export_path.display().to_string());
    m.exports.push(ExportLine {
        path: p.export_path.display().to_string(),
        options: p.options.clone(),
        clients: p.clients.clone(),
        clients_command: p.spec.clients_command.clone(),
    });
    m
}

/// Every place the layout says THING is.
pub fn find(layout: &Layout, thing: &str) -> Result<Vec<Match>> {
    let mut out = Vec::new();
    if thing.starts_with('/') {
        let path = Path::new(thing);
        for c in &layout.clusters {
            let Some(v) = c.config.volume_of(path) else {
                continue;
            };
            let projects = projects::load_all(&c.config)?;
            let holder = projects
                .list
                .iter()
                .filter(|p| path.starts_with(&p.export_path))
                .max_by_key(|p| p.export_path.components().count());
            let mut m = match holder {
                Some(p) => with_project(base("path", c), c, p),
                None => with_volume(base("path", c), c, &v.name),
            };
            m.path = Some(thing.to_string());
            out.push(m);
        }
        return Ok(out);
    }
    if let Ok(addr) = thing.parse::<IpAddr>() {
        for c in &layout.clusters {
            for (n, node) in &c.config.nodes {
                if node.address == addr {
                    let mut m = base("node", c);
                    m.nodes = vec![n.clone()];
                    out.push(m);
                }
            }
            if c.config
                .service_ip
                .as_ref()
                .is_some_and(|s| s.address.addr() == addr)
            {
                out.push(base("cluster", c));
            }
        }
        for (i, p) in projects_for_client(layout, addr)? {
            let c = &layout.clusters[i];
            out.push(with_project(base("client", c), c, &p));
        }
        return Ok(out);
    }
    if let Some((cluster, volume)) = thing.split_once('/') {
        if let Some(c) = layout.cluster(cluster)
            && c.config.volumes.iter().any(|v| v.name == volume)
        {
            out.push(with_volume(base("volume", c), c, volume));
        }
        return Ok(out);
    }
    for c in &layout.clusters {
        if c.name == thing {
            out.push(base("cluster", c));
        }
        if c.config.nodes.contains_key(thing) {
            let mut m = base("node", c);
            m.nodes = vec![thing.to_string()];
            out.push(m);
        }
        if c.config.volumes.iter().any(|v| v.name == thing) {
            out.push(with_volume(base("volume", c), c, thing));
        }
        // One file per cluster is read, not the whole directory.
        let file = projects::project_file(&c.config, thing);
        if let Ok(text) = std::fs::read_to_string(&file) {
            let p = projects::parse_file(&c.config, &file, &text)?;
            out.push(with_project(base("project", c), c, &p));
        }
    }
    Ok(out)
}

/// The projects (with their cluster's index) whose static clients take `addr`. A lookup by
/// address reads every project of the fleet and must stay instant at thousands of them, so
/// each file's text is first scanned for addresses and networks (see [`may_take`]), the
/// clusters shared out over the CPUs; only the files that may match are loaded and
/// validated in full, and the loaded project decides.
fn projects_for_client(layout: &Layout, addr: IpAddr) -> Result<Vec<(usize, Project)>> {
    let files_of = |c: &FleetCluster| -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(&c.config.projects_dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let scan = |i: usize| -> Result<Vec<(usize, Project)>> {
        let c = &layout.clusters[i];
        let mut found = Vec::new();
        for f in files_of(c) {
            let Ok(text) = crate::engine::parallel::read_small(&f) else {
                continue;
            };
            if may_take(&text, addr) {
                let p = projects::parse_file(&c.config, &f, &text)?;
                if p.clients.iter().any(|cl| client_has(cl, addr)) {
                    found.push((i, p));
                }
            }
        }
        Ok(found)
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(layout.clusters.len().max(1));
    let mut parts: Vec<Result<Vec<(usize, Project)>>> = Vec::new();
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                sc.spawn(move || {
                    let mut mine = Vec::new();
                    for i in (w..layout.clusters.len()).step_by(workers) {
                        mine.extend(scan(i)?);
                    }
                    Ok(mine)
                })
            })
            .collect();
        for h in handles {
            parts.push(h.join().expect("a lookup thread does not panic"));
        }
    });
    let mut all = Vec::new();
    for p in parts {
        all.extend(p?);
    }
    all.sort_by(|a, b| (a.0, a.1.name()).cmp(&(b.0, b.1.name())));
    Ok(all)
}

/// Whether a project file's text may export to `addr`: some word of it, read as an address or
/// a network, takes it. Every client entry is such a word, so a file this says no to cannot
/// match; a file with a backslash (a YAML escape could spell an address) is always loaded.
fn may_take(text: &str, addr: IpAddr) -> bool {
    if text.contains('\\') {
        return true;
    }
    text.split(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '/')))
        .filter(|w| w.len() >= 2)
        .any(|w| crate::config::parse_client(w).is_some_and(|cl| client_has(&cl, addr)))
}

/// Whether an export's client entry (an address or a CIDR, normalised) takes `addr`.
fn client_has(client: &str, addr: IpAddr) -> bool {
    if let Ok(a) = client.parse::<IpAddr>() {
        return a == addr;
    }
    client
        .parse::<ipnet::IpNet>()
        .is_ok_and(|net| net.contains(&addr))
}

/// The cluster lock where there is one, else the nodes' own word.
pub(crate) fn who_serves(runner: &Runner, layout: &Layout, c: &FleetCluster) -> Serving {
    if let Some(lock) = &c.config.lock {
        let e = &lock.etcd;
        let key = format!("{}/{}/active", e.prefix, c.name);
        let got = runner
            .run(&etcd::get_cmd(&e.endpoints, e.timeout, &key))
            .and_then(|out| etcd::parse_get(&out, &key));
        return match got {
            Ok(g) => match g.kv {
                None => Serving {
                    node: None,
                    source: "etcd-lock",
                    detail: Some(format!("{key} is free: no node is up")),
                },
                Some(kv) => match etcd::Holder::parse(&kv.value) {
                    // While a failover moves the service, nobody serves for sure.
                    Ok(h) if h.moving_from.is_some() => Serving {
                        node: None,
                        source: "etcd-lock",
                        detail: Some(format!("{key} = {}: a failover is moving it", kv.value)),
                    },
                    Ok(h) => Serving {
                        node: Some(h.node),
                        source: "etcd-lock",
                        detail: Some(format!("{key} = {}", kv.value)),
                    },
                    Err(err) => Serving {
                        node: None,
                        source: "unknown",
                        detail: Some(format!("{key}: {err:#}")),
                    },
                },
            },
            Err(err) => Serving {
                node: None,
                source: "unknown",
                detail: Some(format!("cannot read {key}: {err:#}")),
            },
        };
    }
    let timeout = c.config.failover.ssh_timeout;
    let reports = fleet::gather(runner, layout, &[c], timeout);
    let active: Vec<&str> = reports
        .iter()
        .filter(|r| r.status.as_ref().is_some_and(|s| s.role == "active"))
        .map(|r| r.node.as_str())
        .collect();
    // Every node that is not serving says why: its role and first problem, or why it did not
    // answer.
    let unknown: Vec<String> = reports
        .iter()
        .filter(|r| r.status.as_ref().is_none_or(|s| s.role != "active"))
        .map(|r| match &r.status {
            Some(s) => match s.problems.first() {
                Some(p) => format!("{}: {} ({p})", r.node, s.role),
                None => format!("{}: {}", r.node, s.role),
            },
            None => format!("{}: {}", r.node, r.reason.as_deref().unwrap_or("no answer")),
        })
        .collect();
    Serving {
        node: (!active.is_empty()).then(|| active.join(",")),
        source: if active.is_empty() {
            "unknown"
        } else {
            "status"
        },
        detail: (!unknown.is_empty()).then(|| unknown.join("; ")),
    }
}

/// What an operator runs next, ready to paste.
fn next_commands(layout: &Layout, source: &str, c: &FleetCluster, m: &Match) -> Vec<String> {
    let user = c
        .config
        .remote
        .as_ref()
        .map_or("root".to_string(), |r| r.user.clone());
    let cfg = fleet::config_arg(layout);
    let on = |node: &str, words: &str| format!("ssh {user}@{node} nfs-manage{cfg} {words}");
    let serving: Vec<&str> = m
        .serving
        .node
        .as_deref()
        .map(|n| n.split(',').collect())
        .unwrap_or_default();
    let first = serving
        .first()
        .copied()
        .or_else(|| m.nodes.first().map(String::as_str))
        .unwrap_or_default();
    let mut cmds = vec![on(first, "status")];
    if let Some(p) = &m.project {
        cmds.push(format!(
            "nfs-manage client-config {}{}",
            shell_quote(p),
            fleet_arg(source)
        ));
    }
    if let Some(b) = &m.backup {
        cmds.push(on(
            &b.host,
            &format!("backup mount {}", shell_quote(&b.name)),
        ));
    }
    // A failover is run on the node that takes over: the one not serving now.
    let dual = m.volume.as_deref().is_some_and(|v| {
        c.config
            .volumes
            .iter()
            .any(|x| x.name == v && x.dual_primary)
    });
    if c.config.nodes.len() == 2
        && !dual
        && serving.len() == 1
        && let Some(other) = c.config.nodes.keys().find(|n| n.as_str() != serving[0])
    {
        cmds.push(on(other, "failover"));
    }
    cmds
}

/// `--fleet SOURCE` as this run was given it (nothing for the default).
fn fleet_arg(source: &str) -> String {
    if source == crate::config::fleet::DEFAULT_FLEET {
        String::new()
    } else {
        format!(" --fleet {}", shell_quote(source))
    }
}

fn render(m: &Match) -> String {
    let mut s = String::new();
    let what = match (m.kind, &m.project, &m.volume) {
        ("project" | "client" | "path", Some(p), _) => format!("project {p}"),
        (_, None, Some(v)) => format!("volume {v}"),
        _ => m.kind.to_string(),
    };
    s.push_str(&format!("{what} ({}): cluster {}\n", m.kind, m.cluster));
    s.push_str(&format!("  nodes:     {}\n", m.nodes.join(", ")));
    let serving = match (&m.serving.node, m.serving.source) {
        (_, "not-asked") => "not asked (--offline)".to_string(),
        (Some(n), src) => format!(
            "{n} (from the {})",
            if src == "status" {
                "nodes' status"
            } else {
                "etcd lock"
            }
        ),
        (None, _) => "unknown".to_string(),
    };
    s.push_str(&format!("  serving:   {serving}\n"));
    if let Some(d) = &m.serving.detail {
        s.push_str(&format!("             {d}\n"));
    }
    if let (Some(v), Some(mp)) = (&m.volume, &m.mountpoint) {
        s.push_str(&format!("  volume:    {v} at {mp}\n"));
    }
    if let Some(p) = &m.path {
        s.push_str(&format!("  path:      {p}\n"));
    }
    for e in &m.exports {
        let mut who = e.clients.join(" ");
        if let Some(cmd) = &e.clients_command {
            who.push_str(&format!(
                "{}clients of `{}`",
                if who.is_empty() { "" } else { " + " },
                cmd.join(" ")
            ));
        }
        s.push_str(&format!(
            "  export:    {} ({}) to {who}\n",
            e.path, e.options
        ));
    }
    if let Some(b) = &m.backup {
        s.push_str(&format!("  backup:    {} on {}\n", b.name, b.host));
    }
    s.push_str("  next:\n");
    for c in &m.commands {
        s.push_str(&format!("    {c}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_scan_finds_every_client_form() {
        let a: IpAddr = "198.51.100.7".parse().unwrap();
        for yes in [
            "clients: [198.51.100.7]",
            "clients:\n  - \"198.51.100.0/24\"\n",
            "clients: ['198.51.0.0/16']",
            "clients: [\"19\\x38.51.100.7\"]",
        ] {
            assert!(may_take(yes, a), "{yes}");
        }
        for no in [
            "name: p7\ngid: 198517\nclients: [198.51.100.8, 198.51.101.0/24]",
            "clients: [192.0.2.0/24]",
        ] {
            assert!(!may_take(no, a), "{no}");
        }
        let six: IpAddr = "2001:db8::7".parse().unwrap();
        assert!(may_take("clients: [\"2001:db8::/32\"]", six));
        assert!(!may_take("clients: [\"2001:db9::/32\"]", six));
    }
}
