//! Real-kernel test bed: nfs-manage's targets (DRBD 8.4, nfsd) on Debian's kernel in VMs.
//!
//! Its own harness (`harness = false`) rather than libtest's, because the three VMs are booted
//! once per run and shared by every scenario, and they must be shut down after the last one
//! whatever happened: libtest has no once-per-binary setup or teardown.
//!
//! `cargo test --test vm` runs every scenario; `cargo test --test vm -- NAME` those whose name
//! contains NAME (`--exact` for an exact match, `--list` to list them). Each scenario starts
//! from blank disks (see scenarios::reset) on the same booted guests. Consoles and every
//! command a scenario ran are written to target/vm-logs/.
//!
//! When the bed cannot run here (not root, no qemu, no vng, no DRBD-capable kernel), it says
//! what to install and skips, except under CI=true, where that is a failure.

mod bed;
mod bmc;
mod breakdown;
mod exports_scale;
mod failover;
mod faults;
mod fixtures;
mod scenarios;
mod volume_init;

use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use bed::{Bed, logs_dir};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let list = args.iter().any(|a| a == "--list");
    let include_ignored = args
        .iter()
        .any(|a| a == "--include-ignored" || a == "--ignored");
    // Options libtest takes with a value: skip the value so it is not read as a filter.
    let mut filters = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--test-threads" | "--skip" | "--format" | "--color" | "-Z" | "--logfile" => {
                it.next();
            }
            s if s.starts_with('-') => {}
            s => filters.push(s.to_string()),
        }
    }
    let all = scenarios::all();
    if list {
        for s in &all {
            println!("{}: test", s.name);
        }
        return;
    }
    let selected: Vec<&scenarios::Scenario> = all
        .iter()
        .filter(|s| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    if exact {
                        s.name == f
                    } else {
                        s.name.contains(f.as_str())
                    }
                })
        })
        .collect();
    let filtered_out = all.len() - selected.len();
    // An ignored scenario runs when asked for by its exact name or with --include-ignored.
    let (selected, ignored): (Vec<_>, Vec<_>) = selected.into_iter().partition(|s| {
        s.ignore.is_none() || include_ignored || filters.iter().any(|f| f == s.name)
    });
    println!("\nrunning {} tests", selected.len() + ignored.len());
    for s in &ignored {
        println!(
            "test {} ... ignored, {}",
            s.name,
            s.ignore.unwrap_or_default()
        );
    }
    if selected.is_empty() {
        summary(0, &[], ignored.len(), filtered_out, Instant::now());
        return;
    }
    let tools = match bed::find_tools() {
        Ok(t) => t,
        Err(msg) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                eprintln!("{msg}\nCI=true: failing instead of skipping");
                let names: Vec<String> = selected.iter().map(|s| s.name.to_string()).collect();
                for n in &names {
                    println!("test {n} ... FAILED");
                }
                summary(0, &names, ignored.len(), filtered_out, Instant::now());
                std::process::exit(101);
            }
            eprintln!("{msg}\nskipping the VM scenarios");
            for s in &selected {
                println!("test {} ... ignored, VM test bed unavailable", s.name);
            }
            summary(
                0,
                &[],
                selected.len() + ignored.len(),
                filtered_out,
                Instant::now(),
            );
            return;
        }
    };

    if let Some(note) = tools.fence_note() {
        eprintln!("{note}");
    }
    let started = Instant::now();
    let bin = match bed::choose_binary() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e:#}");
            let names: Vec<String> = selected.iter().map(|s| s.name.to_string()).collect();
            for n in &names {
                println!("test {n} ... FAILED");
            }
            summary(0, &names, ignored.len(), filtered_out, started);
            std::process::exit(101);
        }
    };
    eprintln!("nfs-manage in the guests: {bin}");
    eprintln!(
        "booting nfs1, nfs2, client ({}, TCG); consoles in {}",
        tools.kernel.display(),
        logs_dir().display()
    );
    let mut bed = match Bed::boot(&tools) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("boot failed: {e:#}");
            let names: Vec<String> = selected.iter().map(|s| s.name.to_string()).collect();
            for n in &names {
                println!("test {n} ... FAILED");
            }
            summary(0, &names, ignored.len(), filtered_out, started);
            std::process::exit(101);
        }
    };
    bed::install_interrupt_handler(&bed);
    eprintln!("booted in {:.0}s", bed.boot_time.as_secs_f64());

    let mut passed = 0;
    let mut failed = Vec::new();
    for s in &selected {
        print!("test {} ... ", s.name);
        let _ = std::io::stdout().flush();
        let t = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            scenarios::reset(&bed).and_then(|()| (s.run)(&bed))
        }));
        let took = t.elapsed().as_secs_f64();
        match result {
            Ok(Ok(())) => {
                println!("ok ({took:.0}s)");
                passed += 1;
            }
            Ok(Err(e)) => {
                println!("FAILED ({took:.0}s)");
                eprintln!("---- {} ----\n{e:#}", s.name);
                failed.push(s.name.to_string());
            }
            Err(_) => {
                println!("FAILED ({took:.0}s, panicked)");
                failed.push(s.name.to_string());
            }
        }
    }
    if !failed.is_empty() {
        for vm in &bed.vms {
            eprintln!(
                "---- {} console (last lines) ----\n{}",
                vm.name,
                vm.console_tail(25)
            );
        }
        eprintln!(
            "consoles and per-node command transcripts: {}/{{nfs1,nfs2,client}}.{{console,commands}}.log",
            logs_dir().display()
        );
    }
    if std::env::var_os("NFS_MANAGE_VM_HOLD").is_some() {
        hold();
    }
    bed.shutdown();
    summary(passed, &failed, ignored.len(), filtered_out, started);
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

/// Keep the guests up after the scenarios for debugging by hand (tests/vm/vm-exec), until
/// the release file appears.
fn hold() {
    let release = bed::target_dir().join("vm-run/release");
    let _ = std::fs::remove_file(&release);
    eprintln!(
        "NFS_MANAGE_VM_HOLD: guests kept up; run commands with tests/vm/vm-exec NODE 'CMD'; \
         `touch {}` shuts them down",
        release.display()
    );
    while !release.exists() {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let _ = std::fs::remove_file(&release);
}

/// libtest's closing lines, so tools that read `cargo test` output read this target too.
fn summary(passed: usize, failed: &[String], ignored: usize, filtered: usize, started: Instant) {
    if !failed.is_empty() {
        println!("\nfailures:");
        for f in failed {
            println!("    {f}");
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed; {ignored} ignored; 0 measured; {filtered} filtered out; finished in {:.2}s\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len(),
        started.elapsed().as_secs_f64()
    );
}
