//! `nfs-manage config check`: the config parses and validates (exit 78 otherwise, each error
//! with file:line:column), its DRBD resources are known to `drbdadm [-c drbd_config] dump`
//! (when drbdadm is installed), and the tools it needs are installed (exit 69 otherwise,
//! naming packages).

use anyhow::Result;

use crate::cli::Global;
use crate::config::{Config, Positions};
use crate::engine::runner::Runner;
use crate::error::Error;
use crate::tools::drbd;
use crate::tools::package_of;

pub fn check(global: &Global) -> Result<()> {
    let config = Config::load(&global.config)?;
    let runner = Runner::new(
        false,
        global.verbose,
        config.timeouts.probe,
        config.timeouts.step,
    );
    let mut notes = Vec::new();

    if let Some(conf) = &config.drbd_config
        && !conf.exists()
    {
        let text = std::fs::read_to_string(&global.config).unwrap_or_default();
        let (l, c) = Positions::of(&text).find("drbd_config").unwrap_or((1, 1));
        return Err(Error::Config(format!(
            "{}:{l}:{c}: drbd_config: {} does not exist (leave drbd_config out for drbdadm's own /etc/drbd.conf)",
            global.config.display(),
            conf.display()
        ))
        .into());
    }
    if config.has_drbd() {
        if which::which("drbdadm").is_ok() {
            let out = runner.run(&drbd::dump_cmd(config.drbd_config.as_deref()))?;
            if !out.success() {
                return Err(Error::Config(format!(
                    "{}: cannot check the DRBD resources: `drbdadm dump all` failed ({}): {}",
                    global.config.display(),
                    out.ending(),
                    out.complaint()
                ))
                .into());
            }
            let known = drbd::parse_dump_resources(&out.stdout);
            let text = std::fs::read_to_string(&global.config).unwrap_or_default();
            let pos = Positions::of(&text);
            let mut errors = Vec::new();
            for (i, v) in config.volumes.iter().enumerate() {
                if let Some(res) = &v.drbd
                    && !known.contains(res)
                {
                    let path = format!("volumes[{i}].drbd");
                    let (l, c) = pos.find(&path).unwrap_or((1, 1));
                    errors.push(format!(
                            "{}:{l}:{c}: {path}: DRBD resource {res:?} is not defined in the DRBD configuration (drbdadm dump all knows: {})",
                            global.config.display(),
                            crate::config::names_or_none(&known)
                        ));
                }
            }
            if !errors.is_empty() {
                return Err(Error::Config(errors.join("\n")).into());
            }
        } else {
            notes
                .push("drbdadm is not installed: DRBD resource names were not checked".to_string());
        }
    }

    let missing: Vec<String> = needed_tools(&config)
        .into_iter()
        .filter(|t| which::which(t).is_err())
        .map(|t| format!("{t} (package {})", package_of(t)))
        .collect();
    if !missing.is_empty() {
        return Err(Error::ToolMissing {
            tool: missing.join(", "),
            package: "see each tool",
        }
        .into());
    }
    if !global.quiet {
        if global.json {
            crate::output::json(
                &serde_json::json!({"format_version": 1, "config": global.config, "valid": true, "notes": notes})
                    .to_string(),
            );
        } else {
            for n in &notes {
                outln!("note: {n}");
            }
            outln!(
                "{}: valid ({} volumes, {} nodes)",
                global.config.display(),
                config.volumes.len(),
                config.nodes.len()
            );
        }
    }
    Ok(())
}

/// The tools `up`, `down`, `status` and `backup` will call for this config.
pub fn needed_tools(c: &Config) -> Vec<&'static str> {
    // A backup-only host serves no volumes: it needs none of the serving tools.
    let mut t = if c.volumes.is_empty() {
        vec!["mount", "umount", "fuser"]
    } else {
        vec!["mount", "umount", "fuser", "systemctl", "exportfs"]
    };
    if c.has_drbd() {
        t.extend(["drbdadm", "drbdsetup"]);
    }
    if c.service_ip.is_some() {
        t.extend(["ip", "arping"]);
    }
    if !c.sync.is_empty() {
        t.extend(["rsync", "ssh"]);
    }
    if !c.backups.is_empty() {
        t.extend(["lvs", "lvcreate", "lvremove"]);
        if !t.contains(&"ssh") {
            t.push("ssh");
        }
        for b in &c.backups {
            let tool = b.transport.word();
            if !t.contains(&tool) {
                t.push(tool);
            }
        }
    }
    if c.lock.is_some() {
        t.push("etcdctl");
    }
    if let Some(r) = &c.remote
        && r.ssh.first().is_some_and(|s| s == "ssh")
        && !t.contains(&"ssh")
    {
        t.push("ssh");
    }
    t
}
