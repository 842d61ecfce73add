//! `backup list [--json]`: each backup's last run (from the journal), result, duration,
//! bytes, the fill of its snapshots (`data_percent` from one `lvs` call for all target VGs)
//! and whether a backup mount is open, since when; then the problems (`state`: the same
//! verdicts `check backups` gives).
//!
//! JSON: `{"format_version":1,"backups":[{"name","transport","source":{"host","vg","lv"},
//! "target":{"vg","lv","exists","size"},"last_run":{"time","result","duration_ms","sync_ms",
//! "device_bytes","diff_bytes","error"}|null,"last_ok":{"time","age_seconds"}|null,
//! "max_age_seconds","presync":{"name","exists","data_percent"},
//! "mount":{"mountpoint","snapshot","since","expires","expired","mounted","data_percent"}|null}],
//! "problems":[…]}`.

use anyhow::Result;
use comfy_table::Table;
use serde_json::{Value, json};

use super::{human_bytes, state};
use crate::context::Ctx;

pub fn list(ctx: &Ctx) -> Result<()> {
    let cfg = &ctx.config;
    let survey = state::survey(ctx)?;
    let problems: Vec<String> = survey
        .problems(&cfg.backups)
        .into_iter()
        .map(|p| p.message)
        .collect();
    let mut rows = Vec::new();
    for (b, s) in cfg.backups.iter().zip(&survey.backups) {
        let target = s.target.as_ref();
        let presync = s.presync.as_ref();
        let last = s.history.last.as_ref();
        let mount = s.mount.as_ref().map(|m| {
            let r = &m.record;
            json!({
                "mountpoint": r.mountpoint, "snapshot": format!("{}/{}", r.vg, r.snapshot),
                "since": r.since, "expires": r.expires, "expired": m.expired,
                "mounted": m.mounted,
                "data_percent": m.snapshot.as_ref().and_then(|s| s.data_percent),
            })
        });
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
            // The newest good copy, aged by this host's clock (the one that wrote the time).
            "last_ok": s.history.last_ok.as_ref().map(|r| json!({
                "time": r.time,
                "age_seconds": s.age(survey.now).map(|a| a.as_secs()),
            })),
            "max_age_seconds": b.max_age.as_secs(),
            "presync": {"name": b.presync_snapshot(), "exists": presync.is_some(),
                        "data_percent": presync.and_then(|p| p.data_percent)},
            "mount": mount,
        }));
    }
    if ctx.global.json {
        crate::output::json(&serde_json::to_string_pretty(
            &json!({"format_version": 1, "backups": rows, "problems": problems}),
        )?);
        return Ok(());
    }
    if ctx.global.quiet {
        return Ok(());
    }
    outln!("{}", render(&rows));
    if problems.is_empty() {
        outln!("problems: none");
    } else {
        outln!("problems:");
        for p in &problems {
            outln!("  - {p}");
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
    let mut t = crate::engine::plan::terminal_table(160);
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
