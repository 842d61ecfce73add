//! `nfs-manage metrics [--textfile DIR]`: the node's state as Prometheus metrics, from the same
//! facts and status computation as `status` and `check`, plus the last run of each `sync:`
//! entry from the journal, and each backup's last run, snapshot fill and open mount (the state
//! `backup list` and `check backups` read, `commands::backup::state`).
//!
//! The text exposition format (0.0.4) is written by hand: every metric is a gauge computed
//! once per run, so a registry crate would add a long-lived object model for nothing, and
//! `prometheus-client` writes OpenMetrics rather than the plain text format that
//! node_exporter's textfile collector documents.
//!
//! With `--textfile DIR` the output goes to `DIR/nfs_manage.prom`, written to a temporary file
//! in DIR and renamed over the old one, so the collector never reads half a file. When the
//! probes fail the file still gets `nfs_manage_collect_success 0` (and the run exits 1), so a
//! stale state never passes for a current one.

use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};

use super::backup::state as backup_state;
use crate::cli::MetricsArgs;
use crate::context::Ctx;
use crate::domain::facts::{Facts, Mode};
use crate::domain::state::{self, Severity};

pub const TEXTFILE: &str = "nfs_manage.prom";

/// One metric family: HELP and TYPE once, then its samples.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

#[derive(Default)]
pub struct Exposition {
    families: Vec<Family>,
}

impl Exposition {
    fn family(&mut self, name: &'static str, help: &'static str) -> &mut Family {
        debug_assert!(name.starts_with("nfs_manage_"));
        if let Some(i) = self.families.iter().position(|f| f.name == name) {
            return &mut self.families[i];
        }
        self.families.push(Family {
            name,
            help,
            samples: Vec::new(),
        });
        self.families.last_mut().expect("just pushed")
    }

    fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        let labels = labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
        self.family(name, help).samples.push((labels, value));
    }

    fn flag(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        on: bool,
    ) {
        self.gauge(name, help, labels, if on { 1.0 } else { 0.0 });
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in self.families.iter().filter(|f| !f.samples.is_empty()) {
            let help = f.help.replace('\\', r"\\").replace('\n', r"\n");
            let _ = writeln!(out, "# HELP {} {help}", f.name);
            let _ = writeln!(out, "# TYPE {} gauge", f.name);
            for (labels, value) in &f.samples {
                out.push_str(f.name);
                if !labels.is_empty() {
                    let parts: Vec<String> = labels
                        .iter()
                        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                        .collect();
                    let _ = write!(out, "{{{}}}", parts.join(","));
                }
                let _ = writeln!(out, " {}", number(*value));
            }
        }
        out
    }
}

/// Label values escape backslash, double quote and newline (exposition format 0.0.4).
pub fn escape_label(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

pub fn run(ctx: &Ctx, args: &MetricsArgs) -> Result<()> {
    if ctx.global.json {
        return Err(crate::error::Error::Usage(
            "metrics prints the Prometheus text format; --json is not available for it (`status --json` and `check --json` are)".into(),
        )
        .into());
    }
    let mut e = Exposition::default();
    let gathered = Facts::gather(ctx, Mode::Strict);
    let backups = (!ctx.config.backups.is_empty()).then(|| backup_state::survey(ctx));
    let backups_ok = match &backups {
        None => true,
        Some(Ok(s)) => s.lvm_unknown.is_none(),
        Some(Err(_)) => false,
    };
    collected(&mut e, gathered.is_ok() && backups_ok);
    let result = gathered.map(|facts| node_metrics(ctx, &facts, &mut e));
    sync_metrics(ctx, &mut e);
    let backups = match backups {
        Some(Ok(s)) => {
            backup_metrics(ctx, &s, &mut e);
            match s.lvm_unknown {
                Some(why) => Err(anyhow::anyhow!("LVM state unknown: {why}")),
                None => Ok(()),
            }
        }
        Some(Err(err)) => Err(err),
        None => Ok(()),
    };
    let text = e.render();
    match &args.textfile {
        Some(dir) => write_atomically(dir, &text)?,
        None => out!("{text}"),
    }
    result.context("cannot collect the node's state (nfs_manage_collect_success is 0)")?;
    backups.context("cannot collect the backups' state (nfs_manage_collect_success is 0)")
}

/// Whether the metrics below are current, and when they were collected.
fn collected(e: &mut Exposition, success: bool) {
    e.flag(
        "nfs_manage_collect_success",
        "1 if every probe ran and the metrics below are current, 0 if not",
        &[],
        success,
    );
    e.gauge(
        "nfs_manage_collect_timestamp_seconds",
        "When these metrics were collected (Unix time)",
        &[],
        now_secs().floor(),
    );
}

/// When the config cannot be loaded, the textfile still says so, freshly: an old file left in
/// place would pass an old state for a current one.
pub fn config_failed(args: &MetricsArgs, err: anyhow::Error) -> anyhow::Error {
    let Some(dir) = &args.textfile else {
        return err;
    };
    let mut e = Exposition::default();
    collected(&mut e, false);
    match write_atomically(dir, &e.render()) {
        Ok(()) => err.context("the textfile says nfs_manage_collect_success 0"),
        Err(w) => err.context(format!("and the textfile could not be written: {w:#}")),
    }
}

fn node_metrics(ctx: &Ctx, f: &Facts, e: &mut Exposition) {
    let st = state::compute(ctx, f);
    e.gauge(
        "nfs_manage_info",
        "The cluster and node these metrics describe (always 1)",
        &[
            ("cluster", &st.cluster),
            ("node", &st.node),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
        1.0,
    );
    for role in ["active", "standby", "degraded", "down"] {
        e.flag(
            "nfs_manage_role",
            "The node's overall role, as nfs-manage status says it (1 for the current one)",
            &[("role", role)],
            st.role == role,
        );
    }
    for (sev, word) in [
        (Severity::Critical, "critical"),
        (Severity::Warning, "warning"),
        (Severity::Unknown, "unknown"),
    ] {
        e.gauge(
            "nfs_manage_problems",
            "Problems nfs-manage status reports, by severity",
            &[("severity", word)],
            st.problems.iter().filter(|p| p.severity == sev).count() as f64,
        );
    }
    for v in &st.volumes {
        let vol = [("volume", v.name.as_str())];
        e.flag(
            "nfs_manage_volume_mounted",
            "1 if the volume's device is mounted on its mountpoint",
            &vol,
            v.mounted,
        );
        e.flag(
            "nfs_manage_volume_exported",
            "1 if something under the volume's mountpoint is exported (etab)",
            &vol,
            v.exported,
        );
        let Some(d) = &v.drbd else { continue };
        let res = [
            ("volume", v.name.as_str()),
            ("resource", d.resource.as_str()),
        ];
        e.flag(
            "nfs_manage_drbd_primary",
            "1 if this node is DRBD Primary for the volume",
            &res,
            d.role == "Primary",
        );
        e.gauge(
            "nfs_manage_drbd_role",
            "The volume's DRBD role on this node, in DRBD's word (always 1)",
            &[res[0], res[1], ("role", &d.role)],
            1.0,
        );
        e.flag(
            "nfs_manage_drbd_disk_uptodate",
            "1 if the local DRBD disk is UpToDate",
            &res,
            d.disk == "UpToDate",
        );
        e.gauge(
            "nfs_manage_drbd_disk_state",
            "The local DRBD disk state, in DRBD's word (always 1)",
            &[res[0], res[1], ("disk", &d.disk)],
            1.0,
        );
        let dev = f.volume_drbd(
            ctx.config
                .volumes
                .iter()
                .find(|c| c.name == v.name)
                .expect("same volumes"),
        );
        for p in &d.peers {
            let peer = [res[0], res[1], ("peer", p.name.as_str())];
            e.flag(
                "nfs_manage_drbd_peer_connected",
                "1 if the DRBD connection to the peer is Connected",
                &peer,
                p.connection == "Connected",
            );
            e.gauge(
                "nfs_manage_drbd_peer_connection_state",
                "The DRBD connection state to the peer, in DRBD's word (always 1)",
                &[peer[0], peer[1], peer[2], ("connection", &p.connection)],
                1.0,
            );
            e.gauge(
                "nfs_manage_drbd_peer_replication_state",
                "The DRBD replication state with the peer, in DRBD's word (always 1)",
                &[peer[0], peer[1], peer[2], ("replication", &p.replication)],
                1.0,
            );
            e.flag(
                "nfs_manage_drbd_peer_disk_uptodate",
                "1 if the peer's DRBD disk is UpToDate",
                &peer,
                p.disk == "UpToDate",
            );
            e.flag(
                "nfs_manage_drbd_peer_syncing",
                "1 while a resync with the peer runs",
                &peer,
                crate::tools::drbd::is_syncing(&p.replication),
            );
            if let Some(pct) = p.sync_percent {
                e.gauge(
                    "nfs_manage_drbd_peer_sync_percent",
                    "Resync progress with the peer, in percent (only while a resync runs)",
                    &peer,
                    pct,
                );
            }
            let oos = dev.and_then(|(r, vol)| {
                r.connections
                    .iter()
                    .find(|c| c.name == p.name)?
                    .peer_devices
                    .iter()
                    .find(|pd| pd.volume == vol)?
                    .out_of_sync_kib
            });
            if let Some(kib) = oos {
                e.gauge(
                    "nfs_manage_drbd_peer_out_of_sync_bytes",
                    "Data that differs between this node and the peer, in bytes",
                    &peer,
                    (kib * 1024) as f64,
                );
            }
        }
    }
    if let Some(ip) = &st.service_ip {
        e.flag(
            "nfs_manage_service_ip_present",
            "1 if the service IP is on this node (exact address, prefix and interface)",
            &[("address", &ip.address), ("interface", &ip.interface)],
            ip.present,
        );
    }
    e.flag(
        "nfs_manage_nfs_active",
        "1 if the NFS server unit is active",
        &[("unit", &st.nfs.service)],
        st.nfs.active,
    );
    for s in &st.services {
        e.flag(
            "nfs_manage_service_active",
            "1 if the extra service unit is active",
            &[("unit", &s.name)],
            s.active,
        );
    }
}

fn sync_metrics(ctx: &Ctx, e: &mut Exposition) {
    let last = super::sync::last_runs(&ctx.config.paths.journal);
    for entry in &ctx.config.sync {
        let Some(run) = last.get(&entry.name) else {
            continue;
        };
        let l = [("sync", entry.name.as_str())];
        e.gauge(
            "nfs_manage_sync_last_run_timestamp_seconds",
            "When the last run of the sync entry started (Unix time)",
            &l,
            run.started,
        );
        e.gauge(
            "nfs_manage_sync_last_duration_seconds",
            "How long the last run of the sync entry took",
            &l,
            run.duration_ms as f64 / 1000.0,
        );
        e.flag(
            "nfs_manage_sync_last_success",
            "1 if the last run of the sync entry completed and was verified",
            &l,
            run.success,
        );
        if let Some(b) = run.transferred_bytes {
            e.gauge(
                "nfs_manage_sync_last_transferred_bytes",
                "File data the last run of the sync entry transferred (rsync's total transferred file size)",
                &l,
                b as f64,
            );
        }
        if let Some(rc) = run.rc {
            e.gauge(
                "nfs_manage_sync_last_exit_code",
                "rsync's exit code in the last run of the sync entry",
                &l,
                rc as f64,
            );
        }
    }
}

/// Per backup, the way sync entries are exported: the last run (start, duration, result,
/// bytes), the end of the last successful run with the configured max age (so an alert can
/// use the same threshold as `check backups`), snapshot fill and the open backup mount.
fn backup_metrics(ctx: &Ctx, s: &backup_state::Survey, e: &mut Exposition) {
    for (b, bs) in ctx.config.backups.iter().zip(&s.backups) {
        let l = [("backup", b.name.as_str())];
        e.gauge(
            "nfs_manage_backup_max_age_seconds",
            "How old the backup's last successful run may be (backups[].max_age)",
            &l,
            b.max_age.as_secs() as f64,
        );
        if let Some(r) = &bs.history.last {
            let end = backup_state::finished_at(r).map(backup_state::unix);
            if let Some(end) = end {
                e.gauge(
                    "nfs_manage_backup_last_run_timestamp_seconds",
                    "When the last run of the backup started (Unix time)",
                    &l,
                    (end - r.duration_ms as f64 / 1000.0).floor(),
                );
            }
            e.gauge(
                "nfs_manage_backup_last_duration_seconds",
                "How long the last run of the backup took",
                &l,
                r.duration_ms as f64 / 1000.0,
            );
            e.flag(
                "nfs_manage_backup_last_success",
                "1 if the last run of the backup completed and was verified",
                &l,
                r.result == "ok",
            );
            e.gauge(
                "nfs_manage_backup_last_result",
                "The last run's result: ok, failed or refused (always 1)",
                &[l[0], ("result", &r.result)],
                1.0,
            );
            if let Some(n) = r.device_bytes {
                e.gauge(
                    "nfs_manage_backup_last_device_bytes",
                    "Size of the device the last run of the backup synced",
                    &l,
                    n as f64,
                );
            }
            if let Some(n) = r.diff_bytes {
                e.gauge(
                    "nfs_manage_backup_last_transferred_bytes",
                    "Data the last run of the backup sent (bdsync's patch, rsync's literal data)",
                    &l,
                    n as f64,
                );
            }
        }
        if let Some(t) = bs
            .history
            .last_ok
            .as_ref()
            .and_then(backup_state::finished_at)
        {
            e.gauge(
                "nfs_manage_backup_last_success_timestamp_seconds",
                "When the last successful run of the backup finished (Unix time)",
                &l,
                backup_state::unix(t).floor(),
            );
        }
        for (which, lv) in [
            ("presync", bs.presync.as_ref()),
            ("mount", bs.mount.as_ref().and_then(|m| m.snapshot.as_ref())),
        ] {
            if let Some(lv) = lv
                && let Some(pct) = lv.data_percent
            {
                e.gauge(
                    "nfs_manage_backup_snapshot_data_percent",
                    "How full the backup's snapshot is (lvs data_percent; LVM invalidates it at 100)",
                    &[l[0], ("snapshot", which), ("lv", &format!("{}/{}", lv.vg, lv.name))],
                    pct,
                );
            }
        }
        let mounted = bs.mount.as_ref().filter(|m| m.mounted);
        e.flag(
            "nfs_manage_backup_mount_open",
            "1 if a backup mount of the backup is mounted",
            &l,
            mounted.is_some(),
        );
        if let Some(t) = mounted.and_then(|m| humantime::parse_rfc3339_weak(&m.record.expires).ok())
        {
            e.gauge(
                "nfs_manage_backup_mount_expiry_timestamp_seconds",
                "When the open backup mount passes its TTL (Unix time)",
                &l,
                backup_state::unix(t),
            );
        }
    }
}

/// Write DIR/nfs_manage.prom atomically: readers see the old file or the new one, never a
/// partial one.
pub fn write_atomically(dir: &Path, text: &str) -> Result<()> {
    // The collector usually runs as another user: world-readable.
    crate::engine::files::write_atomic_mode(&dir.join(TEXTFILE), text, 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_format() {
        let mut e = Exposition::default();
        e.gauge("nfs_manage_x", "An x\\y", &[("a", "q\"uo\\te\nd")], 1.5);
        e.flag("nfs_manage_x", "ignored second help", &[("a", "b")], true);
        e.gauge("nfs_manage_empty", "never shown", &[], 0.0);
        e.families.last_mut().unwrap().samples.clear();
        assert_eq!(
            e.render(),
            "# HELP nfs_manage_x An x\\\\y\n# TYPE nfs_manage_x gauge\nnfs_manage_x{a=\"q\\\"uo\\\\te\\nd\"} 1.5\nnfs_manage_x{a=\"b\"} 1\n"
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(dir.path(), "a 1\n").unwrap();
        write_atomically(dir.path(), "a 2\n").unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [TEXTFILE]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(TEXTFILE)).unwrap(),
            "a 2\n"
        );
    }
}
