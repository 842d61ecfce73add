//! Benchmark for `scripts/bench-failover.sh` (ignored in normal runs: it measures, it does
//! not assert). Two nodes with stand-ins of fixed latency for DRBD and systemctl:
//! 1. failover of 8 volumes ÷ failover of 1 volume (independent per-volume steps run in
//!    parallel, so the ratio stays near 1);
//! 2. orchestration overhead: wall time minus the time during which at least one tool (leaf
//!    command: DRBD, systemctl, mount, umount, exportfs, ip, arping, fuser, etcdctl, mkdir) was
//!    running on either node, i.e. the time spent in nfs-manage itself, ssh included.

use std::time::Instant;

use crate::harness::*;

/// One tool run: start and end (ns since the epoch), node, command line.
type Span = (u128, u128, String);

/// Tool runs on both nodes between `from` and `to`, from two logs: the stand-ins' own
/// `timing.log` (every leaf tool, also those an ssh session started on the peer) and, with
/// `runner`, nfs-manage's `NFS_MANAGE_TRACE` (each process from spawn to reaped, so a tool's
/// exec and exit count as the tool's time, as `time` would count them). ssh and nested
/// nfs-manage runs are not tools: what they spend beyond the tools they start is overhead.
fn spans(p: &Pair, from: u128, to: u128, runner: bool) -> Vec<Span> {
    let mut out = Vec::new();
    for h in p.hosts() {
        let mut logs = vec![(h.dir.path().join("standin/timing.log"), false)];
        if runner {
            logs.push((h.trace_path(), true));
        }
        for (log, traced) in logs {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            for l in text.lines() {
                let mut w = l.splitn(3, ' ');
                let s: u128 = w.next().unwrap().parse().unwrap();
                let e: u128 = w.next().unwrap().parse().unwrap();
                let cmd = w.next().unwrap_or("");
                let program = cmd.split(' ').next().unwrap_or("");
                let program = program.rsplit('/').next().unwrap_or(program);
                if traced && matches!(program, "ssh" | "nfs-manage") {
                    continue;
                }
                if s >= from && e <= to {
                    out.push((s, e, format!("{} {cmd}", h.name)));
                }
            }
        }
    }
    out.sort();
    out
}

/// (time during which some tool ran, stand-in tool calls)
fn tool_intervals(p: &Pair, from: u128, to: u128, runner: bool) -> (u128, usize) {
    let calls = spans(p, from, to, false).len();
    let lines = spans(p, from, to, runner);
    if runner && std::env::var("BENCH_TRACE").is_ok() {
        // Where the time between tools goes: gaps over BENCH_TRACE_MS (default 10), with the
        // tool after each.
        let min: u128 = std::env::var("BENCH_TRACE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10);
        let mut end = from;
        for (s, e, l) in &lines {
            if *s > end + min * 1_000_000 {
                eprintln!(
                    "gap {:>5.1} ms before {}",
                    (s - end) as f64 / 1e6,
                    &l[..l.len().min(100)]
                );
            }
            end = end.max(*e);
        }
        eprintln!("gap {:>5.1} ms at the end", (to - end) as f64 / 1e6);
    }
    let mut busy = 0;
    let mut cur: Option<(u128, u128)> = None;
    for (s, e, _) in lines {
        match cur {
            Some((cs, ce)) if s <= ce => cur = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                busy += ce - cs;
                cur = Some((s, e));
            }
            None => cur = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = cur {
        busy += ce - cs;
    }
    (busy, calls)
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// One figure of a failover.
type Figure = fn(&Sample) -> f64;

/// One failover's figures.
#[derive(Clone, Copy)]
struct Sample {
    wall: f64,
    /// Tool time as the stand-ins log it (inside each tool process).
    busy_inside: f64,
    /// Tool time as nfs-manage sees it as well (each process from spawn to reaped).
    busy: f64,
    calls: usize,
}

impl Sample {
    fn overhead_inside(&self) -> f64 {
        self.wall - self.busy_inside
    }
    fn overhead(&self) -> f64 {
        self.wall - self.busy
    }
}

/// A two-node bed with `n` volumes, up on `a`, stand-ins sleeping `latency_ms` per call.
fn bed(n: usize, latency_ms: u64, mux: bool) -> Pair {
    let names: Vec<&'static str> = (1..=n)
        .map(|i| &*Box::leak(format!("v{i}").into_boxed_str()))
        .collect();
    let names: &'static [&'static str] = Box::leak(names.into_boxed_slice());
    let mut p = Pair::new(Spec {
        volumes: names,
        ..Spec::default()
    });
    if mux {
        p.use_ssh_multiplexing();
    }
    let exports: String = names
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "/srv/{v} 192.0.2.0/24(rw,no_subtree_check,fsid={})\n",
                100 + i
            )
        })
        .collect();
    for h in p.hosts() {
        h.write_exports("bench.exports", &exports);
        for t in [
            "etcdctl", "arping", "mount", "umount", "exportfs", "ip", "fuser", "mkdir",
        ] {
            h.wrap_real_tool(t);
        }
        h.faults(serde_json::json!([
            { "match": "drbd", "sleep_ms": latency_ms },
            { "match": "systemctl", "sleep_ms": latency_ms }
        ]));
        std::fs::write(h.dir.path().join("standin/timing"), "").unwrap();
    }
    p.a.run(&["up", "--yes"]).status(0);
    if mux {
        // Open each direction's ssh master first, as a node that has run any remote command
        // in the last ControlPersist seconds has: the cell measures failovers on a kept
        // connection (the one-time ~200 ms handshake is in the other cell).
        p.b.run(&["failover", "--yes"]).status(0);
        p.a.run(&["failover", "--yes"]).status(0);
    }
    p
}

/// The `i`th failover on `p` (even: to b, odd: back to a).
fn failover(p: &Pair, i: usize) -> Sample {
    let to = if i.is_multiple_of(2) { &p.b } else { &p.a };
    let t0 = now_ns();
    let start = Instant::now();
    to.run(&["failover", "--yes"]).status(0);
    let wall = start.elapsed().as_secs_f64() * 1000.0;
    let t1 = now_ns();
    let (bi, calls) = tool_intervals(p, t0, t1, false);
    let (b, _) = tool_intervals(p, t0, t1, true);
    Sample {
        wall,
        busy_inside: bi as f64 / 1e6,
        busy: b as f64 / 1e6,
        calls,
    }
}

#[test]
#[ignore = "benchmark: run by scripts/bench-failover.sh"]
fn bench_failover() {
    privileged!();
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let latency: u64 = std::env::var("BENCH_LATENCY_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    // BENCH_MUX=1 or 0: only the cell with or without ssh ControlMaster.
    let cells: &[bool] = match std::env::var("BENCH_MUX").as_deref() {
        Ok("1") => &[true],
        Ok("0") => &[false],
        _ => &[false, true],
    };
    for &mux in cells {
        // Both beds stand side by side and their failovers alternate (which goes first
        // alternates too), so each pair of failovers sees the same load on the machine.
        let one_bed = bed(1, latency, mux);
        let eight_bed = bed(8, latency, mux);
        let (mut one, mut eight) = (Vec::new(), Vec::new());
        for i in 0..iterations {
            if i.is_multiple_of(2) {
                one.push(failover(&one_bed, i));
                eight.push(failover(&eight_bed, i));
            } else {
                eight.push(failover(&eight_bed, i));
                one.push(failover(&one_bed, i));
            }
        }
        drop((one_bed, eight_bed));
        let how = if mux {
            "ssh ControlMaster"
        } else {
            "a new ssh connection per command"
        };
        let col = |v: &[Sample], f: fn(&Sample) -> f64| {
            let x: Vec<f64> = v.iter().map(f).collect();
            format!("{:.0} / {:.0} ms", min(&x), median(x.clone()))
        };
        println!(
            "\n| {how}: {iterations} paired failovers, stand-in latency {latency} ms (min / median) | 1 volume | 8 volumes |"
        );
        println!("|---|---|---|");
        let rows: [(&str, Figure); 5] = [
            ("failover wall time", |s| s.wall),
            ("time some tool was running, spawn to reaped", |s| s.busy),
            ("orchestration overhead: wall − that", |s| s.overhead()),
            ("time some tool was running, inside the tools only", |s| {
                s.busy_inside
            }),
            (
                "wall − that: overhead with every exec and exit counted against nfs-manage",
                |s| s.overhead_inside(),
            ),
        ];
        for (what, f) in rows {
            println!("| {what} | {} | {} |", col(&one, f), col(&eight, f));
        }
        println!(
            "| tool calls per failover (both nodes) | {} | {} |",
            one[0].calls, eight[0].calls
        );
        let ratio: Vec<f64> = one
            .iter()
            .zip(&eight)
            .map(|(a, b)| b.wall / a.wall)
            .collect();
        let per: Vec<f64> = one
            .iter()
            .zip(&eight)
            .map(|(a, b)| (b.wall - a.wall) / 7.0)
            .collect();
        println!(
            "\nratio 8 volumes ÷ 1 volume (target ≤ 1.5), {how}: min {:.3}, median {:.3} (per pair: {})",
            min(&ratio),
            median(ratio.clone()),
            ratio
                .iter()
                .map(|r| format!("{r:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        println!(
            "cost per extra volume ((8-volume wall − 1-volume wall) ÷ 7), {how}: min {:.1} ms, median {:.1} ms (per pair: {})",
            min(&per),
            median(per.clone()),
            per.iter()
                .map(|r| format!("{r:.1}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
}
