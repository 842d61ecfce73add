//! Live state, probed once per run with one call per tool, whatever the number of volumes:
//! `drbdsetup status --json` (or /proc/drbd on DRBD 8.4), /proc/self/mountinfo,
//! `ip -j addr show`, one `systemctl is-active` for every unit, /var/lib/nfs/etab.

use std::collections::BTreeMap;

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

        let soft = |what: &str, e: anyhow::Error, f: &mut Facts| -> Result<()> {
            if mode == Mode::Lenient {
                f.unknown.push(format!("{what}: {e:#}"));
                Ok(())
            } else {
                Err(e)
            }
        };
        if cfg.has_drbd() {
            let parsed = match (&proc_drbd, drbd_out) {
                (Some(text), _) => drbd::parse_proc_drbd(text),
                (None, Some(out)) => out.and_then(|o| drbd_json(&o)),
                (None, None) => unreachable!("DRBD probe planned"),
            };
            match parsed {
                Ok(r) => f.drbd = Some(r),
                Err(e) => soft(
                    "DRBD state unknown (the plan assumes every resource is down)",
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
                Err(e) => soft("addresses unknown", e, &mut f)?,
            }
        }
        match units_out.and_then(|o| systemctl::parse_is_active(&units, &o)) {
            Ok(u) => f.units = u,
            Err(e) => soft(
                "service states unknown (the plan assumes they are stopped)",
                e,
                &mut f,
            )?,
        }
        f.etab = exportfs::read_etab()?;
        f.configured =
            exportfs::read_configured(&cfg.nfs.exports_dir).map_err(|e| format!("{e:#}"));
        Ok(f)
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

    pub fn exports_under(&self, v: &Volume) -> Vec<&exportfs::Export> {
        self.etab
            .iter()
            .filter(|e| e.path.starts_with(&v.mountpoint))
            .collect()
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
        return drbd::parse_proc_drbd(&text);
    }
    drbd_json(&ctx.runner.run(&drbd::status_json_cmd())?)
}

fn drbd_json(out: &crate::process::Output) -> Result<Vec<drbd::Resource>> {
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
