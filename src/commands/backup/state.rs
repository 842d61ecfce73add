//! What is true about each backup, gathered once: the last run and the last successful run
//! (from the journal's `backup-result` lines), the target and pre-sync snapshot with their
//! fill (`data_percent`, one `lvs` call for all target VGs), and the open backup mount (its
//! record, whether it is really mounted, whether it is past its TTL). `backup list`,
//! `check backups` and `metrics` all read this, and the problems below are the only verdicts
//! about backups, so the three never disagree.
//!
//! Verdicts (monitoring severity):
//! - CRITICAL: the last run failed (the job needs a person: it will most likely fail the same
//!   way at the next timer; if the sync had started, the target is partial and only the
//!   pre-sync snapshot holds a complete copy); the target LV does not exist.
//! - WARNING: the last successful run is older than `max_age` (or there is none); the last run
//!   was refused by a safety guard (nothing was changed, the previous copy stands); a snapshot
//!   over 80% full (at 100% LVM invalidates it); a backup mount past its TTL, or recorded but
//!   not mounted.
//! - UNKNOWN: LVM could not be asked (`lvs` failed), so fill and target are not known.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Result;

use super::{MountRecord, ResultRecord, each_result, read_record};
use crate::config::Backup;
use crate::context::Ctx;
use crate::domain::backups::mounts_of;
use crate::domain::state::{Area, Problem};
use crate::tools::{lvm, mount};

/// A snapshot fuller than this (percent of its COW space) is a warning.
pub const FILL_WARN_PERCENT: f64 = 80.0;

/// The journal's verdicts on one backup.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub last: Option<ResultRecord>,
    pub last_ok: Option<ResultRecord>,
}

/// Every backup's last run and last successful run, in one pass over the journal.
pub fn history(journal: &Path) -> Result<HashMap<String, History>> {
    let mut out: HashMap<String, History> = HashMap::new();
    each_result(journal, |r| {
        let h = out.entry(r.backup.clone()).or_default();
        if r.result == "ok" {
            h.last_ok = Some(r.clone());
        }
        h.last = Some(r);
    })?;
    Ok(out)
}

/// When a result was written (the end of its run).
pub fn finished_at(r: &ResultRecord) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(&r.time).ok()
}

pub fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct MountState {
    pub record: MountRecord,
    /// The snapshot is really mounted at the recorded mountpoint.
    pub mounted: bool,
    pub expired: bool,
    pub snapshot: Option<lvm::Lv>,
}

#[derive(Debug, Clone)]
pub struct BackupState {
    pub name: String,
    pub target: Option<lvm::Lv>,
    pub presync: Option<lvm::Lv>,
    pub history: History,
    pub mount: Option<MountState>,
}

impl BackupState {
    /// How long ago the last successful run finished.
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        let t = finished_at(self.history.last_ok.as_ref()?)?;
        Some(now.duration_since(t).unwrap_or_default())
    }
}

#[derive(Debug)]
pub struct Survey {
    pub now: SystemTime,
    /// Why the LVM state is unknown (`lvs` failed); fill and targets are then not known.
    pub lvm_unknown: Option<String>,
    /// In config order.
    pub backups: Vec<BackupState>,
}

pub fn survey(ctx: &Ctx) -> Result<Survey> {
    let cfg = &ctx.config;
    let mut vgs: Vec<&str> = Vec::new();
    for b in &cfg.backups {
        if !vgs.contains(&b.target.vg.as_str()) {
            vgs.push(&b.target.vg);
        }
    }
    let mut lvm_unknown = None;
    let lvs = if vgs.is_empty() {
        Vec::new()
    } else {
        let cmd = lvm::lvs_fill_cmd(&vgs);
        match ctx
            .runner
            .run(&cmd)
            .and_then(|o| lvm::parse_lvs_output(&cmd, &o))
        {
            Ok(l) => l,
            Err(e) => {
                lvm_unknown = Some(format!("{e:#}"));
                Vec::new()
            }
        }
    };
    let mut history = history(&cfg.paths.journal)?;
    let table = mount::read_mountinfo()?;
    let now = SystemTime::now();
    let mut backups = Vec::new();
    for b in &cfg.backups {
        let mount = read_record(ctx, &b.name)?.map(|r| MountState {
            mounted: mounts_of(&r.device, &table)
                .iter()
                .any(|m| m.mountpoint == r.mountpoint),
            expired: r.expired(now),
            snapshot: lvm::find(&lvs, &r.vg, &r.snapshot).cloned(),
            record: r,
        });
        backups.push(BackupState {
            name: b.name.clone(),
            target: lvm::find(&lvs, &b.target.vg, &b.target.lv).cloned(),
            presync: lvm::find(&lvs, &b.target.vg, &b.presync_snapshot()).cloned(),
            history: history.remove(&b.name).unwrap_or_default(),
            mount,
        });
    }
    Ok(Survey {
        now,
        lvm_unknown,
        backups,
    })
}

/// A failed run's error on one line for a monitoring line (`backup list` and the journal
/// keep the whole text): its first line (which step stopped the run, and how) and, from the
/// engine's failure report, the first line of the command's `output:` (the cause); at most
/// 400 characters.
fn gist(s: &str) -> String {
    let mut lines = s.lines();
    let mut one = lines.next().unwrap_or("").trim().to_string();
    if let Some(out) = lines.find_map(|l| l.trim().strip_prefix("output:")) {
        one.push_str("; ");
        one.push_str(out.trim());
    }
    match one.char_indices().nth(400) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}

fn ago(d: Duration) -> String {
    // Minutes are precise enough for an age measured in hours.
    let secs = if d.as_secs() >= 3600 {
        d.as_secs() / 60 * 60
    } else {
        d.as_secs()
    };
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

impl Survey {
    /// Every verdict about the backups, in config order (see the module docs for severities).
    pub fn problems(&self, cfg: &[Backup]) -> Vec<Problem> {
        let mut p = Vec::new();
        if let Some(why) = &self.lvm_unknown {
            p.push(Problem::unknown(
                Area::Backups,
                format!("LVM state unknown: {why}"),
            ));
        }
        for (b, s) in cfg.iter().zip(&self.backups) {
            let name = &b.name;
            match &s.history.last {
                Some(r) if r.result == "ok" => {}
                Some(r) if r.result == "refused" => p.push(Problem::warning(
                    Area::Backups,
                    format!(
                        "backup {name}: the last run ({}) was refused and changed nothing: {}",
                        r.time,
                        gist(r.error.as_deref().unwrap_or("no reason recorded"))
                    ),
                )),
                Some(r) => {
                    let partial = if r.target_touched {
                        format!(
                            "; the target is partial, the pre-sync snapshot {}/{} holds the last complete copy",
                            b.target.vg,
                            b.presync_snapshot()
                        )
                    } else {
                        String::new()
                    };
                    p.push(Problem::critical(
                        Area::Backups,
                        format!(
                            "backup {name}: the last run ({}) {}: {}{partial}",
                            r.time,
                            r.result,
                            gist(r.error.as_deref().unwrap_or("no error recorded"))
                        ),
                    ));
                }
                None => {}
            }
            match s.age(self.now) {
                None => p.push(Problem::warning(
                    Area::Backups,
                    format!(
                        "backup {name}: no successful run in the journal (max age {})",
                        humantime::format_duration(b.max_age)
                    ),
                )),
                Some(age) if age > b.max_age => p.push(Problem::warning(
                    Area::Backups,
                    format!(
                        "backup {name}: the last successful run was {} ago, more than its max age {}",
                        ago(age),
                        humantime::format_duration(b.max_age)
                    ),
                )),
                Some(_) => {}
            }
            if let Some(m) = &s.mount {
                let r = &m.record;
                if !m.mounted {
                    p.push(Problem::warning(
                        Area::Backups,
                        format!(
                            "backup {name}: a mount is recorded at {} but nothing is mounted there; `nfs-manage backup umount {name}` clears it",
                            r.mountpoint.display()
                        ),
                    ));
                } else if m.expired {
                    p.push(Problem::warning(
                        Area::Backups,
                        format!(
                            "backup {name}: the backup mount at {} (since {}) is past its TTL, expired at {}; `nfs-manage backup umount {name}` removes it",
                            r.mountpoint.display(),
                            r.since,
                            r.expires
                        ),
                    ));
                }
            }
            for (what, lv) in [
                ("pre-sync", s.presync.as_ref()),
                ("mount", s.mount.as_ref().and_then(|m| m.snapshot.as_ref())),
            ] {
                if let Some(l) = lv
                    && let Some(pct) = l.data_percent
                    && pct > FILL_WARN_PERCENT
                {
                    p.push(Problem::warning(
                        Area::Backups,
                        format!(
                            "backup {name}: the {what} snapshot {}/{} is {pct:.2}% full; at 100% LVM invalidates it",
                            l.vg, l.name
                        ),
                    ));
                }
            }
            if s.target.is_none() && self.lvm_unknown.is_none() {
                p.push(Problem::critical(
                    Area::Backups,
                    format!(
                        "backup {name}: the target {}/{} does not exist",
                        b.target.vg, b.target.lv
                    ),
                ));
            }
        }
        p
    }

    /// What is fine, in a few words (the OK line of `check backups`).
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .backups
            .iter()
            .map(|s| match s.age(self.now) {
                Some(age) => format!("backup {} ok {} ago", s.name, ago(age)),
                None => format!("backup {} never ok", s.name),
            })
            .collect();
        let open = self.open_mounts();
        if open > 0 {
            parts.push(format!(
                "{open} backup mount{} open",
                if open == 1 { "" } else { "s" }
            ));
        }
        parts.join(", ")
    }

    pub fn open_mounts(&self) -> usize {
        self.backups
            .iter()
            .filter(|s| s.mount.as_ref().is_some_and(|m| m.mounted))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::super::RESULT_STEP;
    use super::*;

    fn rec(time: &str, backup: &str, result: &str) -> String {
        serde_json::to_string(&ResultRecord {
            time: time.into(),
            run: "1-1".into(),
            cluster: "c".into(),
            node: "n".into(),
            operator: "root".into(),
            command: "backup run".into(),
            step: RESULT_STEP.into(),
            title: format!("backup {backup}"),
            argv: Vec::new(),
            rc: None,
            duration_ms: 1000,
            verify: result.into(),
            result: result.into(),
            backup: backup.into(),
            sync_ms: Some(500),
            transport: "bdsync".into(),
            device_bytes: Some(1 << 20),
            diff_bytes: Some(4096),
            target_touched: result != "refused",
            error: (result != "ok").then(|| "boom\nsecond line".into()),
        })
        .unwrap()
    }

    #[test]
    fn history_keeps_the_last_run_and_the_last_good_one() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("journal.jsonl");
        let lines = [
            rec("2024-05-01T10:00:00.000Z", "tools", "ok"),
            r#"{"time":"2024-05-01T10:00:01.000Z","step":"backup-result-not","backup":"tools"}"#
                .into(),
            rec("2024-05-02T10:00:00.000Z", "misc", "ok"),
            "not json backup-result".into(),
            rec("2024-05-03T10:00:00.000Z", "tools", "failed"),
        ];
        std::fs::write(&j, lines.join("\n") + "\n").unwrap();
        let h = history(&j).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h["tools"].last.as_ref().unwrap().result, "failed");
        assert_eq!(
            h["tools"].last_ok.as_ref().unwrap().time,
            "2024-05-01T10:00:00.000Z"
        );
        assert_eq!(
            h["misc"].last.as_ref().unwrap().time,
            h["misc"].last_ok.as_ref().unwrap().time
        );
        assert!(history(&dir.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn errors_shown_on_one_short_line() {
        let report = "step 3 of 4 (copy) stopped the run: the command failed (exit 4)\n  command: bdsync …\n  output:  pipe member `bdsync` failed (exit 4): injected\n           also: more\n  to retry: …";
        assert_eq!(
            gist(report),
            "step 3 of 4 (copy) stopped the run: the command failed (exit 4); pipe member `bdsync` failed (exit 4): injected"
        );
        assert_eq!(gist("boom\nsecond line"), "boom");
        assert_eq!(gist(&"x".repeat(500)).chars().count(), 401);
        assert_eq!(ago(Duration::from_secs(37 * 3600 + 61)), "1day 13h 1m");
        assert_eq!(ago(Duration::from_secs(75)), "1m 15s");
    }

    fn lv(name: &str, pct: Option<f64>) -> lvm::Lv {
        lvm::Lv {
            name: name.into(),
            vg: "backup".into(),
            attr: "swi-a-s---".into(),
            size: 8 << 20,
            origin: Some("tools".into()),
            data_percent: pct,
            path: lvm::dev_path("backup", name),
        }
    }

    /// Each verdict's severity, as the module docs promise.
    #[test]
    fn severities() {
        let cfg = crate::config::Config::parse(
            Path::new("c.yaml"),
            "cluster: b\nnodes:\n  b1: { address: 10.0.0.1 }\nvolumes: []\n\
             remote: { ssh: [ssh], user: root }\nbackups:\n  - name: tools\n    \
             source: { host: src, vg: vd, lv: tools }\n    target: { vg: backup, lv: tools }\n    max_age: 1h\n",
        )
        .unwrap();
        let now = humantime::parse_rfc3339("2024-05-01T12:00:00Z").unwrap();
        let parse = |t: &str| serde_json::from_str::<ResultRecord>(t).unwrap();
        let run = |time: &str, result: &str| parse(&rec(time, "tools", result));
        let survey = |last: Option<ResultRecord>,
                      last_ok: Option<ResultRecord>,
                      mount: Option<MountState>,
                      presync: Option<f64>,
                      lvm_unknown: bool| Survey {
            now,
            lvm_unknown: lvm_unknown.then(|| "lvs failed".to_string()),
            backups: vec![BackupState {
                name: "tools".into(),
                target: (!lvm_unknown).then(|| lv("tools", None)),
                presync: presync.map(|p| lv("tools-presync", Some(p))),
                history: History { last, last_ok },
                mount,
            }],
        };
        let verdicts = |s: &Survey| -> Vec<(crate::domain::state::Severity, String)> {
            s.problems(&cfg.backups)
                .into_iter()
                .map(|p| (p.severity, p.message))
                .collect()
        };
        use crate::domain::state::Severity::*;
        let ok = run("2024-05-01T11:30:00Z", "ok");
        assert!(
            verdicts(&survey(
                Some(ok.clone()),
                Some(ok.clone()),
                None,
                Some(80.0),
                false
            ))
            .is_empty()
        );

        let old = run("2024-05-01T10:00:00Z", "ok");
        let v = verdicts(&survey(
            Some(old.clone()),
            Some(old.clone()),
            None,
            Some(80.01),
            false,
        ));
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0].0, Warning);
        assert!(
            v[0].1.contains("was 2h ago, more than its max age 1h"),
            "{v:?}"
        );
        assert!(
            v[1].1
                .contains("pre-sync snapshot backup/tools-presync is 80.01% full"),
            "{v:?}"
        );

        let v = verdicts(&survey(
            Some(run("2024-05-01T11:50:00Z", "refused")),
            Some(ok.clone()),
            None,
            None,
            false,
        ));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].0, Warning);
        assert!(
            v[0].1.contains("was refused and changed nothing: boom"),
            "{v:?}"
        );

        let v = verdicts(&survey(
            Some(run("2024-05-01T11:50:00Z", "failed")),
            Some(ok.clone()),
            None,
            None,
            false,
        ));
        assert_eq!(v[0].0, Critical);
        assert!(
            v[0].1.contains("failed: boom; the target is partial"),
            "{v:?}"
        );

        let record = MountRecord {
            backup: "tools".into(),
            vg: "backup".into(),
            snapshot: "tools-mount".into(),
            device: "/dev/backup/tools-mount".into(),
            mountpoint: "/mnt/nfs-manage/tools".into(),
            since: "2024-05-01T07:00:00Z".into(),
            expires: "2024-05-01T11:00:00Z".into(),
            operator: "root".into(),
        };
        let m = |mounted, expired| MountState {
            record: record.clone(),
            mounted,
            expired,
            snapshot: Some(lv("tools-mount", Some(95.0))),
        };
        let v = verdicts(&survey(
            Some(ok.clone()),
            Some(ok.clone()),
            Some(m(true, true)),
            None,
            false,
        ));
        assert_eq!(
            v.iter().map(|x| x.0).collect::<Vec<_>>(),
            [Warning, Warning],
            "{v:?}"
        );
        assert!(
            v[0].1
                .contains("is past its TTL, expired at 2024-05-01T11:00:00Z"),
            "{v:?}"
        );
        assert!(
            v[1].1
                .contains("the mount snapshot backup/tools-mount is 95.00% full"),
            "{v:?}"
        );
        let v = verdicts(&survey(
            Some(ok.clone()),
            Some(ok.clone()),
            Some(m(false, false)),
            None,
            false,
        ));
        assert!(v[0].1.contains("but nothing is mounted there"), "{v:?}");

        // LVM unknown: UNKNOWN, and no claim that the target is missing.
        let v = verdicts(&survey(Some(ok.clone()), Some(ok), None, None, true));
        assert_eq!(v, [(Unknown, "LVM state unknown: lvs failed".to_string())]);
        // Never ran, target missing.
        let mut s = survey(None, None, None, None, false);
        s.backups[0].target = None;
        let v = verdicts(&s);
        assert_eq!(
            v.iter().map(|x| x.0).collect::<Vec<_>>(),
            [Warning, Critical],
            "{v:?}"
        );
        assert!(
            v[1].1.contains("the target backup/tools does not exist"),
            "{v:?}"
        );
    }
}
