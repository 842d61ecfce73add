//! Benchmark for `scripts/bench-failover.sh` (ignored in normal runs: it measures, it does
//! not assert). Two nodes with stand-ins of fixed latency for DRBD and systemctl:
//! 1. failover of 8 volumes ÷ failover of 1 volume (independent per-volume steps run in
//!    parallel, so the ratio stays near 1);
//! 2. orchestration overhead: wall time minus the time during which at least one tool (leaf
//!    command: DRBD, systemctl, mount, umount, exportfs, ip, arping, fuser, etcdctl, mkdir) was
//!    running on either node, i.e. the time spent in nfs-manage itself, ssh included.

use std::time::Instant;

use crate::harness::*;

fn tool_intervals(p: &Pair, from: u128, to: u128) -> (u128, usize) {
    let mut iv: Vec<(u128, u128)> = Vec::new();
    for h in p.hosts() {
        let log =
            std::fs::read_to_string(h.dir.path().join("standin/timing.log")).unwrap_or_default();
        for l in log.lines() {
            let mut w = l.split(' ');
            let s: u128 = w.next().unwrap().parse().unwrap();
            let e: u128 = w.next().unwrap().parse().unwrap();
            if s >= from && e <= to {
                iv.push((s, e));
            }
        }
    }
    let calls = iv.len();
    iv.sort();
    if std::env::var("BENCH_TRACE").is_ok() {
        // Where the time between tools goes: gaps over 10 ms, with the tool after each.
        let mut lines: Vec<(u128, u128, String)> = Vec::new();
        for h in p.hosts() {
            let log = std::fs::read_to_string(h.dir.path().join("standin/timing.log"))
                .unwrap_or_default();
            for l in log.lines() {
                let mut w = l.splitn(3, ' ');
                let s: u128 = w.next().unwrap().parse().unwrap();
                let e: u128 = w.next().unwrap().parse().unwrap();
                if s >= from && e <= to {
                    lines.push((s, e, format!("{} {}", h.name, w.next().unwrap())));
                }
            }
        }
        lines.sort();
        let mut end = from;
        for (s, e, l) in &lines {
            if *s > end + 10_000_000 {
                eprintln!(
                    "gap {:>5} ms before {}",
                    (s - end) / 1_000_000,
                    &l[..l.len().min(100)]
                );
            }
            end = end.max(*e);
        }
        eprintln!("gap {:>5} ms at the end", (to - end) / 1_000_000);
    }
    let mut busy = 0;
    let mut cur: Option<(u128, u128)> = None;
    for (s, e) in iv {
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

/// (median wall ms, median tool-busy ms, median overhead ms, tool calls per failover)
fn measure(n: usize, iterations: usize, latency_ms: u64, mux: bool) -> (f64, f64, f64, usize) {
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
    p.a.run(&["up", "--yes"]).expect(0);
    let (mut wall, mut busy, mut over, mut calls) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for i in 0..iterations {
        let to = if i % 2 == 0 { &p.b } else { &p.a };
        let t0 = now_ns();
        let start = Instant::now();
        to.run(&["failover", "--yes"]).expect(0);
        let w = start.elapsed().as_secs_f64() * 1000.0;
        let (b, c) = tool_intervals(&p, t0, now_ns());
        let b = b as f64 / 1e6;
        wall.push(w);
        busy.push(b);
        over.push(w - b);
        calls = c;
    }
    (median(wall), median(busy), median(over), calls)
}

#[test]
#[ignore = "benchmark: run by scripts/bench-failover.sh"]
fn bench_failover() {
    if !privileged() {
        return;
    }
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let latency: u64 = std::env::var("BENCH_LATENCY_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    for mux in [false, true] {
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
            ("failover wall time (median)", one.0, eight.0),
            ("time some tool was running (median)", one.1, eight.1),
            (
                "orchestration overhead: wall − tool time (median)",
                one.2,
                eight.2,
            ),
        ] {
            println!("| {what} | {a:.0} ms | {b:.0} ms |");
        }
        println!(
            "| tool calls per failover (both nodes) | {} | {} |",
            one.3, eight.3
        );
        println!(
            "\nratio 8 volumes ÷ 1 volume (target ≤ 1.5), {how}: {:.2}",
            eight.0 / one.0
        );
    }
}
