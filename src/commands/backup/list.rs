//! `backup list [--json]`: each backup's last run (from the journal), result, duration,
//! bytes, the fill of its snapshots (`data_percent` from one `lvs` call for all target VGs)
//! and whether a backup mount is open, since when.
//!
//! JSON: `{"format_version":1,"backups":[{"name","transport","source":{"host","vg","lv"},
//! "target":{"vg","lv","exists","size"},"last_run":{"time","result","duration_ms","sync_ms",
//! "device_bytes","diff_bytes","error"}|null,"presync":{"name","exists","data_percent"},
//! "mount":{"mountpoint","snapshot","since","expires","expired","mounted","data_percent"}|null}],
//! "problems":[…]}`.

use std::time::SystemTime;

use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use serde_json::{Value, json};

use super::{human_bytes, last_results, read_record};
use crate::engine::Ctx;
use crate::engine::backup_check::mounts_of;
use crate::tools::{lvm, mount};

pub fn list(ctx: &Ctx) -> Result<()> {
    let cfg = &ctx.config;
    let mut problems = Vec::new();
    let mut vgs: Vec<&str> = Vec::new();
    for b in &cfg.backups {
        if !vgs.contains(&b.target.vg.as_str()) {
            vgs.push(&b.target.vg);
        }
    }
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
                problems.push(format!("LVM state unknown: {e:#}"));
                Vec::new()
            }
        }
    };
    let results = last_results(&cfg.paths.journal)?;
    let table = mount::read_mountinfo()?;
    let now = SystemTime::now();
    let mut rows = Vec::new();
    for b in &cfg.backups {
        let target = lvm::find(&lvs, &b.target.vg, &b.target.lv);
        let presync = lvm::find(&lvs, &b.target.vg, &b.presync_snapshot());
        let last = results.get(&b.name);
        let rec = read_record(ctx, &b.name)?;
        let mount = rec.as_ref().map(|r| {
            let mounted = mounts_of(&r.device, &table)
                .iter()
                .any(|m| m.mountpoint == r.mountpoint);
            let snap = lvm::find(&lvs, &r.vg, &r.snapshot);
            json!({
                "mountpoint": r.mountpoint, "snapshot": format!("{}/{}", r.vg, r.snapshot),
                "since": r.since, "expires": r.expires, "expired": r.expired(now),
                "mounted": mounted, "data_percent": snap.and_then(|s| s.data_percent),
            })
        });
        if let Some(m) = &mount
            && m["mounted"] == false
        {
            problems.push(format!(
                "backup {}: a mount is recorded at {} but nothing is mounted there; `nfs-manage backup umount {}` clears it",
                b.name,
                m["mountpoint"].as_str().unwrap_or(""),
                b.name
            ));
        }
        for (what, lv) in [
            ("pre-sync", presync),
            (
                "mount",
                rec.as_ref()
                    .and_then(|r| lvm::find(&lvs, &r.vg, &r.snapshot)),
            ),
        ] {
            if let Some(p) = lv.and_then(|l| l.data_percent)
                && p >= 80.0
            {
                problems.push(format!(
                    "backup {}: the {what} snapshot is {p:.2}% full; at 100% LVM invalidates it",
                    b.name
                ));
            }
        }
        if target.is_none() && problems.iter().all(|p| !p.starts_with("LVM state unknown")) {
            problems.push(format!(
                "backup {}: the target {}/{} does not exist",
                b.name, b.target.vg, b.target.lv
            ));
        }
        rows.push(json!({
            "name": b.name,
            "transport": b.transport.word(),
            "source": {"host": b.source.host, "vg": b.source.vg, "lv": b.source.lv},
            "target": {"vg": b.target.vg, "lv": b.target.lv, "exists": target.is_some(),
                       "size": target.map(|t| t.size)},
            "last_run": last.map(|r| json!({
                "time": r.time, "result": r.result, "duration_ms": r.duration_ms,
                "sync_ms": r.sync_ms, "device_bytes": r.device_bytes,
                "diff_bytes": r.diff_bytes, "error": r.error,
            })),
            "presync": {"name": b.presync_snapshot(), "exists": presync.is_some(),
                        "data_percent": presync.and_then(|p| p.data_percent)},
            "mount": mount,
        }));
    }
    if ctx.global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"format_version": 1, "backups": rows, "problems": problems})
            )?
        );
        return Ok(());
    }
    if ctx.global.quiet {
        return Ok(());
    }
    println!("{}", render(&rows));
    if problems.is_empty() {
        println!("problems: none");
    } else {
        println!("problems:");
        for p in &problems {
            println!("  - {p}");
        }
    }
    Ok(())
}

fn percent(v: &Value) -> String {
    v.as_f64()
        .map(|p| format!("{p:.2}%"))
        .unwrap_or_else(|| "-".into())
}

fn render(rows: &[Value]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some((w, _)) = console::Term::stdout().size_checked() {
        t.set_width(w.max(60));
    } else {
        t.set_width(160);
    }
    t.set_header(vec![
        "backup",
        "source → target",
        "last run",
        "result",
        "duration",
        "bytes (diff)",
        "pre-sync fill",
        "mount",
    ]);
    for r in rows {
        let last = &r["last_run"];
        let (time, result, dur, bytes) = if last.is_null() {
            (
                "never".to_string(),
                "-".to_string(),
                "-".to_string(),
                "-".to_string(),
            )
        } else {
            (
                last["time"].as_str().unwrap_or("").to_string(),
                last["result"].as_str().unwrap_or("").to_string(),
                format!(
                    "{:.1} s",
                    last["duration_ms"].as_u64().unwrap_or(0) as f64 / 1000.0
                ),
                format!(
                    "{} ({})",
                    last["device_bytes"]
                        .as_u64()
                        .map(human_bytes)
                        .unwrap_or_else(|| "-".into()),
                    last["diff_bytes"]
                        .as_u64()
                        .map(human_bytes)
                        .unwrap_or_else(|| "-".into())
                ),
            )
        };
        let m = &r["mount"];
        let mount = if m.is_null() {
            "-".to_string()
        } else {
            format!(
                "{} since {}{}{}, fill {}",
                m["mountpoint"].as_str().unwrap_or(""),
                m["since"].as_str().unwrap_or(""),
                if m["expired"] == true {
                    " (EXPIRED)"
                } else {
                    ""
                },
                if m["mounted"] == true {
                    ""
                } else {
                    " (NOT MOUNTED)"
                },
                percent(&m["data_percent"])
            )
        };
        t.add_row(vec![
            r["name"].as_str().unwrap_or("").to_string(),
            format!(
                "{}:{}/{} → {}/{} ({})",
                r["source"]["host"].as_str().unwrap_or(""),
                r["source"]["vg"].as_str().unwrap_or(""),
                r["source"]["lv"].as_str().unwrap_or(""),
                r["target"]["vg"].as_str().unwrap_or(""),
                r["target"]["lv"].as_str().unwrap_or(""),
                r["transport"].as_str().unwrap_or("")
            ),
            time,
            result,
            dur,
            bytes,
            percent(&r["presync"]["data_percent"]),
            mount,
        ]);
    }
    t
}
