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

/// Medians over the failovers of one cell.
struct Cell {
    wall: f64,
    /// Tool time as the stand-ins log it (inside each tool process).
    busy_inside: f64,
    /// Tool time as nfs-manage sees it as well (each process from spawn to reaped).
    busy: f64,
    calls: usize,
}

impl Cell {
    fn overhead_inside(&self) -> f64 {
        self.wall - self.busy_inside
    }
    fn overhead(&self) -> f64 {
        self.wall - self.busy
    }
}

fn measure(n: usize, iterations: usize, latency_ms: u64, mux: bool) -> Cell {
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
    let (mut wall, mut inside, mut busy, mut calls) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for i in 0..iterations {
        let to = if i % 2 == 0 { &p.b } else { &p.a };
        let t0 = now_ns();
        let start = Instant::now();
        to.run(&["failover", "--yes"]).status(0);
        let w = start.elapsed().as_secs_f64() * 1000.0;
        let t1 = now_ns();
        let (bi, c) = tool_intervals(&p, t0, t1, false);
        let (b, _) = tool_intervals(&p, t0, t1, true);
        wall.push(w);
        inside.push(bi as f64 / 1e6);
        busy.push(b as f64 / 1e6);
        calls = c;
    }
    Cell {
        wall: median(wall),
        busy_inside: median(inside),
        busy: median(busy),
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
        let one = measure(1, iterations, latency, mux);
        let eight = measure(8, iterations, latency, mux);
        let how = if mux {
            "ssh ControlMaster"
        } else {
            "a new ssh connection per command"
        };
        println!(
            "\n| {how}: {iterations} failovers each, stand-in latency {latency} ms | 1 volume | 8 volumes |"
        );
        println!("|---|---|---|");
        for (what, a, b) in [
            ("failover wall time (median)", one.wall, eight.wall),
            (
                "time some tool was running, spawn to reaped (median)",
                one.busy,
                eight.busy,
            ),
            (
                "orchestration overhead: wall − that (median)",
                one.overhead(),
                eight.overhead(),
            ),
            (
                "time some tool was running, inside the tools only (median)",
                one.busy_inside,
                eight.busy_inside,
            ),
            (
                "wall − that: overhead with every exec and exit counted against nfs-manage",
                one.overhead_inside(),
                eight.overhead_inside(),
            ),
        ] {
            println!("| {what} | {a:.0} ms | {b:.0} ms |");
        }
        println!(
            "| tool calls per failover (both nodes) | {} | {} |",
            one.calls, eight.calls
        );
        println!(
            "\nratio 8 volumes ÷ 1 volume (target ≤ 1.5), {how}: {:.2}",
            eight.wall / one.wall
        );
    }
}
