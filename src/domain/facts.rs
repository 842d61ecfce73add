//! Live state, probed once per run with one call per tool, whatever the number of volumes:
//! `drbdsetup status --json` (or /proc/drbd on DRBD 8.4), /proc/self/mountinfo,
//! `ip -j addr show`, one `systemctl is-active` for every unit, /var/lib/nfs/etab.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;

use crate::config::Volume;
use crate::context::Ctx;
use crate::tools::{drbd, exportfs, ip, mount, systemctl};

#[derive(Debug)]
pub struct Facts {
    /// None when no volume uses DRBD, or (lenient mode) when it could not be probed.
    pub drbd: Option<Vec<drbd::Resource>>,
    pub mounts: Vec<mount::Mount>,
    /// None when there is no service IP, or (lenient) it could not be probed.
    pub addrs: Option<ip::Addrs>,
    pub units: BTreeMap<String, String>,
    pub etab: Vec<exportfs::Export>,
    /// What /etc/exports and `exports_dir` ask for (`Err`: could not be read, in words).
    pub configured: Result<Vec<exportfs::Export>, String>,
    /// Lenient mode only: what could not be probed, in plain words.
    pub unknown: Vec<String>,
    /// Lenient mode only: which facts those are.
    pub missing: Vec<Fact>,
}

/// A fact a dry run may have to do without (its tool missing on this machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    Drbd,
    Addresses,
    Units,
}

impl Fact {
    /// Whether a step of `up` or `down` (by its id) is decided from this fact.
    fn decides(self, step_id: &str) -> bool {
        let kind = step_id.split(':').next().unwrap_or_default();
        match self {
            Fact::Drbd => matches!(kind, "drbd-up" | "promote" | "demote"),
            Fact::Addresses => matches!(kind, "ip" | "announce"),
            Fact::Units => matches!(kind, "start" | "stop"),
        }
    }
}

/// Lenient gathering (for `--dry-run`): a missing tool becomes a warning and the fact is
/// treated as "nothing there", so a plan can be shown on a machine without DRBD or systemd.
/// Strict gathering: any probe failure is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Strict,
    Lenient,
}

pub const PROC_DRBD: &str = "/proc/drbd";

impl Default for Facts {
    fn default() -> Self {
        Facts {
            drbd: None,
            mounts: Vec::new(),
            addrs: None,
            units: BTreeMap::new(),
            etab: Vec::new(),
            configured: Ok(Vec::new()),
            unknown: Vec::new(),
            missing: Vec::new(),
        }
    }
}

impl Facts {
    pub fn gather(ctx: &Ctx, mode: Mode) -> Result<Facts> {
        let mut f = Facts::default();
        let cfg = &ctx.config;
        let units = cfg.units();
        // DRBD 8.4 has no JSON status; its /proc/drbd says so in its first line.
        let proc_drbd = std::fs::read_to_string(PROC_DRBD)
            .ok()
            .filter(|t| t.starts_with("version: 8."));
        let drbd_cmd = drbd::status_json_cmd();
        let ip_cmd = ip::show_cmd();
        let units_cmd = systemctl::is_active_cmd(&units);
        let mut cmds: Vec<&crate::process::Cmd> = vec![&units_cmd];
        let want_drbd = cfg.has_drbd() && proc_drbd.is_none();
        if want_drbd {
            cmds.push(&drbd_cmd);
        }
        if cfg.service_ip.is_some() {
            cmds.push(&ip_cmd);
        }
        // One process per tool, all at once.
        let mut outs = ctx.runner.run_all(&cmds).into_iter();
        let units_out = outs.next().expect("one result per command");
        let drbd_out = if want_drbd { outs.next() } else { None };
        let ip_out = if cfg.service_ip.is_some() {
            outs.next()
        } else {
            None
        };

        let soft = |fact: Fact, what: &str, e: anyhow::Error, f: &mut Facts| -> Result<()> {
            if mode == Mode::Lenient {
                f.unknown.push(format!("{what}: {e:#}"));
                f.missing.push(fact);
                Ok(())
            } else {
                Err(e)
            }
        };
        if cfg.has_drbd() {
            let parsed = match (&proc_drbd, drbd_out) {
                (Some(text), _) => drbd::parse_proc_drbd(text).map(|mut r| {
                    name_as_configured(ctx, &mut r);
                    r
                }),
                (None, Some(out)) => out.and_then(|o| drbd_json(ctx, &o)),
                (None, None) => unreachable!("DRBD probe planned"),
            };
            match parsed {
                Ok(r) => f.drbd = Some(r),
                Err(e) => soft(
                    Fact::Drbd,
                    "DRBD state unknown (its steps are shown as unknown)",
                    e,
                    &mut f,
                )?,
            }
        }
        f.mounts = mount::read_mountinfo()?;
        if let Some(out) = ip_out {
            match out.and_then(|o| {
                if o.success() {
                    ip::parse(&o.stdout)
                } else {
                    bail_probe(&ip_cmd, &o)
                }
            }) {
                Ok(a) => f.addrs = Some(a),
                Err(e) => soft(
                    Fact::Addresses,
                    "addresses unknown (the service IP's steps are shown as unknown)",
                    e,
                    &mut f,
                )?,
            }
        }
        match units_out.and_then(|o| systemctl::parse_is_active(&units, &o)) {
            Ok(u) => f.units = u,
            Err(e) => soft(
                Fact::Units,
                "service states unknown (their steps are shown as unknown)",
                e,
                &mut f,
            )?,
        }
        f.etab = exportfs::read_etab()?;
        f.configured =
            exportfs::read_configured(&cfg.nfs.exports_dir).map_err(|e| format!("{e:#}"));
        Ok(f)
    }

    /// A dry run on missing facts: the steps decided from them are unknown, never `already`
    /// or pending on a guess.
    pub fn mark_unknown(&self, plan: &mut crate::context::Plan) {
        for s in &mut plan.steps {
            if let Some(fact) = self.missing.iter().find(|m| m.decides(&s.id)) {
                let what = match fact {
                    Fact::Drbd => "DRBD's state",
                    Fact::Addresses => "the addresses",
                    Fact::Units => "the services' states",
                };
                s.unknown(format!("{what} could not be probed"));
            }
        }
    }

    pub fn unit_active(&self, unit: &str) -> bool {
        self.units.get(unit).is_some_and(|s| s == "active")
    }

    pub fn resource(&self, name: &str) -> Option<&drbd::Resource> {
        self.drbd.as_ref()?.iter().find(|r| r.name == name)
    }

    /// The DRBD resource and volume number behind a config volume, if the resource is up.
    pub fn volume_drbd(&self, v: &Volume) -> Option<(&drbd::Resource, u32)> {
        let name = v.drbd.as_deref()?;
        let all = self.drbd.as_ref()?;
        // By minor first: /dev/drbdN is minor N on DRBD 9 and 8.4 alike.
        if let Some(minor) = drbd_minor(v) {
            for r in all {
                if let Some(d) = r.devices.iter().find(|d| d.minor == Some(minor)) {
                    return Some((r, d.volume));
                }
            }
        }
        let r = all.iter().find(|r| r.name == name)?;
        if let Some(vol) = by_res_volume(v) {
            return Some((r, vol));
        }
        match r.devices.as_slice() {
            [only] => Some((r, only.volume)),
            _ => None,
        }
    }
}

/// `/dev/drbd4` → 4.
pub fn drbd_minor(v: &Volume) -> Option<u32> {
    v.device.to_str()?.strip_prefix("/dev/drbd")?.parse().ok()
}

/// `/dev/drbd/by-res/tools/1` → 1.
fn by_res_volume(v: &Volume) -> Option<u32> {
    let s = v.device.to_str()?.strip_prefix("/dev/drbd/by-res/")?;
    s.split('/').nth(1)?.parse().ok()
}

pub fn probe_drbd(ctx: &Ctx) -> Result<Vec<drbd::Resource>> {
    if let Ok(text) = std::fs::read_to_string(PROC_DRBD)
        && text.starts_with("version: 8.")
    {
        let mut all = drbd::parse_proc_drbd(&text)?;
        name_as_configured(ctx, &mut all);
        return Ok(all);
    }
    drbd_json(ctx, &ctx.runner.run(&drbd::status_json_cmd())?)
}

/// DRBD 8.4 names neither side: /proc/drbd has minors only (`drbd4`), and its
/// `drbdadm status` calls the other node `peer`. Name them as the config does — the resource
/// whose volume is /dev/drbdN, and the pair's other node — so that every lookup by name (the
/// plans of `up` and `down`, the peer guard, a failover's proof) sees them.
pub fn name_as_configured(ctx: &Ctx, all: &mut [drbd::Resource]) {
    let cfg = &ctx.config;
    let others: Vec<&String> = cfg.nodes.keys().filter(|n| **n != ctx.node).collect();
    // The first volume of each minor names it (one lookup per resource, not a scan).
    let mut by_minor: HashMap<u32, &String> = HashMap::new();
    for v in &cfg.volumes {
        if let (Some(res), Some(minor)) = (&v.drbd, drbd_minor(v)) {
            by_minor.entry(minor).or_insert(res);
        }
    }
    for r in all.iter_mut() {
        let minor = r.devices.first().and_then(|d| d.minor);
        if let Some(name) = minor.and_then(|m| by_minor.get(&m)) {
            r.name = (*name).clone();
        }
        // Only a pair makes "peer" one node.
        if let [other] = others.as_slice() {
            for c in r.connections.iter_mut().filter(|c| c.name == "peer") {
                c.name = (*other).clone();
            }
        }
    }
}

/// `drbdsetup status --json`, or, where the kernel's DRBD is 8.4 and /proc/drbd could not
/// be read (its drbdsetup has no `--json`: exit 20, "unrecognized option"), `drbdadm status`.
fn drbd_json(ctx: &Ctx, out: &crate::process::Output) -> Result<Vec<drbd::Resource>> {
    if out.rc == Some(20) && out.stderr.contains("unrecognized option '--json'") {
        let cmd = drbd::status_cmd(ctx.config.drbd_config.as_deref());
        let text = ctx.runner.run(&cmd)?;
        if !drbd::status_84_ok(&text) {
            return bail_probe(&cmd, &text);
        }
        let mut all = drbd::parse_status_text(&text.stdout)?;
        name_as_configured(ctx, &mut all);
        return Ok(all);
    }
    if !out.success() {
        return bail_probe(&drbd::status_json_cmd(), out);
    }
    drbd::parse_status_json(&out.stdout)
}

fn bail_probe<T>(cmd: &crate::process::Cmd, out: &crate::process::Output) -> Result<T> {
    anyhow::bail!("`{cmd}` failed ({}): {}", out.ending(), out.complaint())
}

pub fn probe_units(ctx: &Ctx, units: &[&str]) -> Result<BTreeMap<String, String>> {
    let out = ctx.runner.run(&systemctl::is_active_cmd(units))?;
    systemctl::parse_is_active(units, &out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Recorded on Debian 12's kernel in the VM test bed (tests/vm/).
    const REAL: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/real/6.1.0-56-amd64_drbd-utils-9.22.0"
    );

    fn real(name: &str) -> String {
        std::fs::read_to_string(Path::new(REAL).join(name)).unwrap()
    }

    fn ctx_on(node: &str) -> Ctx {
        let config = "\
cluster: vm
nodes:
  nfs1: { address: 192.0.2.11 }
  nfs2: { address: 192.0.2.12 }
volumes:
  - { name: tools, drbd: tools, device: /dev/drbd4, mountpoint: /srv/tools, fstype: ext4 }
";
        crate::context::test_ctx(config, node)
    }

    #[test]
    fn every_recorded_real_drbd_84_output_parses() {
        let mut n = 0;
        for e in std::fs::read_dir(REAL).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let text = real(&name);
            if name.starts_with("proc-drbd.") {
                drbd::parse_proc_drbd(&text).unwrap_or_else(|e| panic!("{name}: {e:#}"));
                n += 1;
            } else if name.starts_with("drbdadm-status.") && !name.contains("stderr") {
                drbd::parse_status_text(&text).unwrap_or_else(|e| panic!("{name}: {e:#}"));
                n += 1;
            }
        }
        assert!(n >= 25, "{n} fixtures");
    }

    /// /proc/drbd knows minors only and `drbdadm status` calls the other node `peer`: every
    /// lookup by the config's names must still find them (`up`, `down` and the peer guard
    /// look resources up by name).
    #[test]
    fn drbd_84_resources_and_peers_get_the_configs_names() {
        let ctx = ctx_on("nfs1");
        let mut all =
            drbd::parse_proc_drbd(&real("proc-drbd.connected-uptodate.nfs1.txt")).unwrap();
        name_as_configured(&ctx, &mut all);
        let f = Facts {
            drbd: Some(all),
            ..Facts::default()
        };
        let r = f.resource("tools").expect("found by the config's name");
        assert_eq!(r.role, "Primary");
        assert_eq!(r.connections[0].name, "nfs2");
        assert_eq!(r.connections[0].peer_role, "Secondary");

        let ctx = ctx_on("nfs2");
        let mut all =
            drbd::parse_status_text(&real("drbdadm-status.connected-uptodate.nfs2.txt")).unwrap();
        name_as_configured(&ctx, &mut all);
        let r = all.iter().find(|r| r.name == "tools").unwrap();
        assert_eq!(r.role, "Secondary");
        assert_eq!(r.connections[0].name, "nfs1");
        assert_eq!(r.connections[0].peer_role, "Primary");
        assert!(
            r.any_peer_primary().is_some(),
            "the peer guard sees nfs1 Primary"
        );

        let mut all = drbd::parse_proc_drbd(&real("proc-drbd.resync.nfs2.txt")).unwrap();
        name_as_configured(&ctx, &mut all);
        let pd = &all[0].connections[0].peer_devices[0];
        assert_eq!(
            (all[0].name.as_str(), pd.replication.as_str()),
            ("tools", "SyncTarget")
        );
        assert_eq!(pd.done, Some(9.4));
    }
}
