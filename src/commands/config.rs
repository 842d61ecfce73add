//! `nfs-manage config check`: the config parses and validates (exit 78 otherwise, each error
//! with file:line:column), its DRBD resources are known to `drbdadm [-c drbd_config] dump`
//! (when drbdadm is installed), and the tools it needs are installed (exit 69 otherwise,
//! naming packages).

use anyhow::Result;

use crate::cli::Global;
use crate::config::{Config, Positions, Problem, names_or_none, render_problems};
use crate::domain::projects;
use crate::engine::runner::Runner;
use crate::error::Error;
use crate::tools::package_of;
use crate::tools::{drbd, exportfs};

pub fn check(global: &Global) -> Result<()> {
    let config = Config::load(&global.config)?;
    let runner = Runner::new(
        false,
        global.verbose,
        config.timeouts.probe,
        config.timeouts.step,
    );
    let mut notes = Vec::new();
    let file = global.config.display().to_string();
    let text = std::fs::read_to_string(&global.config).unwrap_or_default();
    let pos = Positions::of(&text);
    let mut errors = Vec::new();

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
                    "{file}: cannot check the DRBD resources: `drbdadm dump all` failed ({}): {}",
                    out.ending(),
                    out.complaint()
                ))
                .into());
            }
            let dump = drbd::parse_dump(&out.stdout).map_err(|e| {
                Error::Config(format!("{file}: cannot check the DRBD resources: {e:#}"))
            })?;
            let problems = drbd_problems(&config, &dump);
            if !problems.is_empty() {
                errors.push(render_problems(&file, &pos, &problems));
            }
        } else {
            notes.push("drbdadm is not installed: DRBD resources were not checked".to_string());
        }
    }

    // Every project, rendered as `exports sync` would: a typo is found here, before a run.
    match projects::load_all(&config) {
        Err(e) => errors.push(e.to_string()),
        Ok(all) => {
            errors.extend(all.invalid.iter().map(|i| i.error.clone()));
            errors.extend(
                all.conflicts
                    .iter()
                    .map(|c| format!("{}: {c}", config.projects_dir.display())),
            );
            for p in &all.list {
                // A project with only a clients_command is rendered with a stand-in client,
                // so its path and options are checked all the same.
                let clients = if p.clients.is_empty() {
                    vec!["192.0.2.1".to_string()]
                } else {
                    p.clients.clone()
                };
                let text = projects::render_project(p, &clients);
                if let Err(e) = exportfs::parse_exports("rendered", &text)
                    .map_err(|e| format!("{e:#}"))
                    .and_then(|back| {
                        let want: Vec<(&std::path::Path, &str, &str)> = clients
                            .iter()
                            .map(|c| (p.export_path.as_path(), c.as_str(), p.options.as_str()))
                            .collect();
                        let got: Vec<(&std::path::Path, &str, &str)> = back
                            .iter()
                            .map(|e| (e.path.as_path(), e.client.as_str(), e.options.as_str()))
                            .collect();
                        if want == got {
                            Ok(())
                        } else {
                            Err("its exports file would not read back as written".to_string())
                        }
                    })
                {
                    errors.push(format!("{}: {e}", p.file.display()));
                }
            }
            if !all.list.is_empty() {
                notes.push(format!("{} project(s) checked", all.list.len()));
            }
        }
    }
    // The netgroup layout works only if glibc answers rpc.mountd from /etc/netgroup.
    if config.exports.layout == crate::config::ExportsLayout::Netgroup {
        let (l, c) = pos.find("exports.layout").unwrap_or((1, 1));
        if let Some(why) = crate::domain::netgroup::nsswitch_problem() {
            errors.push(format!("{file}:{l}:{c}: exports.layout: netgroup: {why}"));
        }
        if let Err(why) = crate::domain::netgroup::read_file() {
            errors.push(format!("{file}:{l}:{c}: exports.layout: netgroup: {why}"));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Config(errors.join("\n")).into());
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

/// Each volume against the DRBD resource it names, as `drbdadm dump` reads the DRBD
/// configuration: the resource exists, has the volume's device, runs on the config's nodes
/// (the pair: with a third node listed, two of them), and allows two primaries exactly when
/// the volume is dual_primary. Each problem names the volume's key and the resource's file.
pub fn drbd_problems(config: &Config, dump: &[drbd::DumpResource]) -> Vec<Problem> {
    let mut p = Vec::new();
    let known: Vec<&str> = dump.iter().map(|r| r.name.as_str()).collect();
    let nodes: Vec<&str> = config.nodes.keys().map(String::as_str).collect();
    for (i, v) in config.volumes.iter().enumerate() {
        let Some(res) = &v.drbd else { continue };
        let at = |k: &str| format!("volumes[{i}].{k}");
        let Some(r) = dump.iter().find(|r| &r.name == res) else {
            p.push(Problem::new(
                at("drbd"),
                format!(
                    "DRBD resource {res:?} is not defined in the DRBD configuration (drbdadm dump all knows: {})",
                    names_or_none(&known)
                ),
            ));
            continue;
        };
        let where_ = r
            .defined_at
            .as_deref()
            .map(|a| format!("defined at {a}"))
            .unwrap_or_else(|| "in `drbdadm dump all`".to_string());
        let device = v.device.display().to_string();
        if !r.devices.contains(&device) {
            p.push(Problem::conflict(
                at("device"),
                at("drbd"),
                format!(
                    "{device} is not a device of DRBD resource {res} ({where_}), which has {}",
                    names_or_none(&r.devices)
                ),
            ));
        }
        if !r.floating {
            let mut hosts: Vec<&str> = r.hosts.iter().map(String::as_str).collect();
            hosts.sort_unstable();
            let fits = if nodes.len() <= 2 {
                hosts == nodes
            } else {
                hosts.len() == 2 && hosts.iter().all(|h| nodes.contains(h))
            };
            if !fits {
                p.push(Problem::conflict(
                    at("drbd"),
                    "nodes",
                    format!(
                        "DRBD resource {res} ({where_}) runs on {}, but the config's nodes are {}; expected the same host names",
                        names_or_none(&hosts),
                        names_or_none(&nodes)
                    ),
                ));
            }
        }
        if v.dual_primary && !r.allow_two_primaries {
            p.push(Problem::conflict(
                at("dual_primary"),
                at("drbd"),
                format!("the volume is dual_primary, but DRBD resource {res} ({where_}) does not set `allow-two-primaries yes`: the second node's promotion would fail"),
            ));
        } else if !v.dual_primary && r.allow_two_primaries {
            p.push(Problem::conflict(
                at("drbd"),
                at("dual_primary"),
                format!("DRBD resource {res} ({where_}) sets `allow-two-primaries yes`, but the volume is not dual_primary: DRBD would not stop a second node from promoting and mounting it; set dual_primary: true (a cluster filesystem) or remove allow-two-primaries"),
            ));
        }
    }
    p
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const CFG: &str = "\
cluster: t
nodes:
  alpha: { address: 192.0.2.6 }
  beta: { address: 192.0.2.7 }
volumes:
  - { name: a, drbd: r0, device: /dev/drbd7, mountpoint: /srv/a, fstype: ext4, dual_primary: true }
  - { name: b, drbd: r1, device: /dev/drbd9, mountpoint: /srv/b, fstype: ext4 }
";

    fn dump() -> Vec<drbd::DumpResource> {
        let text = std::fs::read_to_string(format!(
            "{}/tests/fixtures/drbd/drbdadm-dump.txt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        drbd::parse_dump(&text).unwrap()
    }

    fn problems(yaml: &str) -> String {
        let c = Config::parse(Path::new("c.yaml"), yaml).unwrap();
        render_problems("c.yaml", &Positions::of(yaml), &drbd_problems(&c, &dump()))
    }

    #[test]
    fn volumes_agree_with_their_drbd_resources() {
        assert_eq!(
            problems(CFG),
            "c.yaml:7:34: volumes[1].device: /dev/drbd9 is not a device of DRBD resource r1 (defined at /etc/drbd.d/r.res:9), which has /dev/drbd_x (conflicts with c.yaml:7:22: volumes[1].drbd)"
        );
        let e = problems(&CFG.replace("/dev/drbd7", "/dev/drbd1"));
        assert!(e.contains("volumes[0].device: /dev/drbd1 is not a device of DRBD resource r0 (defined at /etc/drbd.d/r.res:3), which has /dev/drbd7, /dev/drbd8"), "{e}");
        let e = problems(&CFG.replace("beta:", "gamma:"));
        assert!(e.contains("c.yaml:6:22: volumes[0].drbd: DRBD resource r0 (defined at /etc/drbd.d/r.res:3) runs on alpha, beta, but the config's nodes are alpha, gamma") && e.contains("(conflicts with c.yaml:3:3: nodes)"), "{e}");
        let e = problems(&CFG.replace(", dual_primary: true", ""));
        assert!(e.contains("volumes[0].drbd: DRBD resource r0 (defined at /etc/drbd.d/r.res:3) sets `allow-two-primaries yes`, but the volume is not dual_primary"), "{e}");
        let e = problems(&CFG.replace(
            "drbd: r1, device: /dev/drbd9",
            "drbd: r1, device: /dev/drbd_x, dual_primary: true",
        ));
        assert!(
            e.contains("volumes[1].dual_primary: the volume is dual_primary, but DRBD resource r1"),
            "{e}"
        );
        let e = problems(&CFG.replace("drbd: r1", "drbd: r2"));
        assert!(e.contains("volumes[1].drbd: DRBD resource \"r2\" is not defined in the DRBD configuration (drbdadm dump all knows: r0, r1)"), "{e}");
    }
}
