//! `nfs-manage client-config`: the lines a client needs to mount a project's export.
//!
//! The server is the cluster's service IP; for a dual-primary volume (served by both nodes
//! at once) or a cluster without one, the nodes' names, as replicated-server autofs entries
//! list them (`home -noquota,noatime,nfsvers=3 fiori,torchio:/vol/home/home`). The options
//! follow the export: `ro` when it is exported read-only, its `sec=` flavours, then the
//! layout's `clients.nfs_version` and `clients.options`. A client mounts each project at
//! `clients.mount_root/NAME`.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::cli::{ClientConfigArgs, Global, MountFormat};
use crate::commands::fleet;
use crate::config::fleet::{FleetCluster, Layout};
use crate::domain::projects::{self, Project};
use crate::error::Error;

#[derive(Debug, Serialize)]
pub struct Mount {
    pub project: String,
    pub cluster: String,
    /// Servers that export it: one, or every node of a dual-primary volume.
    pub servers: Vec<String>,
    pub path: String,
    pub mountpoint: String,
    pub options: Vec<String>,
    /// The lines (or unit file) in the asked format.
    pub text: String,
}

pub fn run(global: &Global, args: &ClientConfigArgs) -> Result<()> {
    let runner = fleet::runner(global);
    let layout = fleet::load(global, &runner)?;
    let mut found: Vec<(&FleetCluster, Project)> = Vec::new();
    match &args.project {
        Some(name) => {
            for c in &layout.clusters {
                let file = projects::project_file(&c.config, name);
                if let Ok(text) = std::fs::read_to_string(&file) {
                    found.push((c, projects::parse_file(&c.config, &file, &text)?));
                }
            }
            if found.is_empty() {
                return Err(Error::Usage(format!(
                    "no cluster of {} has a project {name:?} (looked for {}.yaml in each cluster's projects_dir)",
                    layout.origin, name
                ))
                .into());
            }
        }
        None => {
            for c in &layout.clusters {
                for p in projects::load(&c.config)?.list {
                    found.push((c, p));
                }
            }
        }
    }
    let mounts: Vec<Mount> = found
        .iter()
        .map(|(c, p)| mount_of(&layout, c, p, args.format))
        .collect();
    if global.json {
        crate::output::json(&serde_json::to_string_pretty(&serde_json::json!({
            "format_version": 1,
            "command": "client-config",
            "format": format_name(args.format),
            "mounts": mounts,
        }))?);
    } else if !global.quiet {
        let mut out = String::new();
        if args.format == MountFormat::Autofs {
            out.push_str(&format!(
                "# auto.master: {} /etc/auto.nfs-manage\n",
                layout.clients.mount_root.display()
            ));
        }
        for m in &mounts {
            out.push_str(&m.text);
        }
        outln!("{}", out.trim_end());
    }
    Ok(())
}

fn format_name(f: MountFormat) -> &'static str {
    match f {
        MountFormat::Fstab => "fstab",
        MountFormat::Autofs => "autofs",
        MountFormat::Systemd => "systemd",
    }
}

/// The mount options that follow from the export and the layout's client settings.
pub fn options_of(layout: &Layout, p: &Project) -> Vec<String> {
    let export: Vec<&str> = p.spec.options.iter().map(String::as_str).collect();
    let mut o = vec![if export.contains(&"ro") { "ro" } else { "rw" }.to_string()];
    o.extend(
        export
            .iter()
            .filter(|x| x.starts_with("sec="))
            .map(|x| x.to_string()),
    );
    o.push(format!("nfsvers={}", layout.clients.nfs_version));
    for x in &layout.clients.options {
        if !o.contains(x) {
            o.push(x.clone());
        }
    }
    o
}

pub fn servers_of(c: &FleetCluster, p: &Project) -> Vec<String> {
    let dual = c
        .config
        .volumes
        .iter()
        .any(|v| v.name == p.spec.volume && v.dual_primary);
    match &c.config.service_ip {
        Some(ip) if !dual => vec![ip.address.addr().to_string()],
        _ => c.config.nodes.keys().cloned().collect(),
    }
}

fn mount_of(layout: &Layout, c: &FleetCluster, p: &Project, format: MountFormat) -> Mount {
    let servers = servers_of(c, p);
    let options = options_of(layout, p);
    let mountpoint: PathBuf = layout.clients.mount_root.join(p.name());
    let path = p.export_path.display().to_string();
    let mp = mountpoint.display().to_string();
    let text = match format {
        MountFormat::Autofs => format!(
            "{} -{} {}:{}\n",
            p.name(),
            options.join(","),
            servers.join(","),
            fstab_escape(&path)
        ),
        MountFormat::Fstab => {
            let mut s = String::new();
            if servers.len() > 1 {
                s.push_str(&format!(
                    "# {}: also served by {} (fstab names one server; autofs can list them all)\n",
                    p.name(),
                    servers[1..].join(", ")
                ));
            }
            s.push_str(&format!(
                "{}:{} {} nfs {},_netdev 0 0\n",
                servers[0],
                fstab_escape(&path),
                fstab_escape(&mp),
                options.join(",")
            ));
            s
        }
        MountFormat::Systemd => format!(
            "# /etc/systemd/system/{unit}\n[Unit]\nDescription=NFS export of project {name} (cluster {cluster})\nWants=network-online.target\nAfter=network-online.target\n\n[Mount]\nWhat={server}:{path}\nWhere={mp}\nType=nfs\nOptions={opts},_netdev\n\n[Install]\nWantedBy=remote-fs.target\n\n",
            unit = unit_name(&mp),
            name = p.name(),
            cluster = c.name,
            server = servers[0],
            opts = options.join(","),
        ),
    };
    Mount {
        project: p.name().to_string(),
        cluster: c.name.clone(),
        servers,
        path,
        mountpoint: mp,
        options,
        text,
    }
}

/// fstab and autofs maps split fields at white space: it is written as octal escapes.
fn fstab_escape(s: &str) -> String {
    s.replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011")
}

/// The unit name systemd requires for a mount at `path` (`systemd-escape --path --suffix
/// mount`): slashes become dashes, anything but ASCII letters, digits, `:`, `_` and `.` (and
/// a leading `.`) becomes `\xNN`.
pub fn unit_name(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return "-.mount".into();
    }
    let mut out = String::new();
    for (i, b) in trimmed.bytes().enumerate() {
        match b {
            b'/' => out.push('-'),
            b'.' if i == 0 => out.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || b":_.".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push_str(".mount");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_match_systemd_escape() {
        // Values from `systemd-escape --path --suffix mount`.
        assert_eq!(unit_name("/mnt/nfs/tools"), "mnt-nfs-tools.mount");
        assert_eq!(unit_name("/mnt/nfs/my-proj"), "mnt-nfs-my\\x2dproj.mount");
        assert_eq!(unit_name("/data/.x"), "data-.x.mount");
        assert_eq!(unit_name("/.hidden"), "\\x2ehidden.mount");
        assert_eq!(unit_name("/"), "-.mount");
    }

    #[test]
    fn fstab_fields_escape_white_space() {
        assert_eq!(fstab_escape("/srv/a b"), "/srv/a\\040b");
    }
}
