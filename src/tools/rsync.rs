//! rsync: the argv for one `sync:` entry over the configured ssh, the argv for a block-device
//! backup transport, and parsers for `--itemize-changes` lines and the `--stats` block.
//!
//! Formats: rsync(1) "--itemize-changes" (`YXcstpoguax path`, `*deleting path`) and the
//! `--stats` block as printed by rsync 3.2.7 (Debian 12) with `--no-human-readable`
//! (main.c output_summary()): "Number of files: 3 (reg: 2, dir: 1)", "Total transferred file
//! size: 12 bytes", "Total bytes sent: 195"…

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;

use crate::config::{Direction, SyncEntry};
use crate::process::{Cmd, Output};

/// Exit codes that mean the tree was copied: 0, and 24 "partial transfer due to vanished
/// source files" (files deleted on the live source while rsync ran; rsync(1) EXIT VALUES).
pub const OK_RCS: &[i32] = &[0, 24];

/// Exit code 23, "partial transfer due to error" (rsync(1) EXIT VALUES).
pub const PARTIAL: i32 = 23;

/// The exit codes of a pass over a tree that clients still write to: those of [`OK_RCS`], and
/// 23 when [`verify_live`] finds that only the writers caused it.
pub const LIVE_RCS: &[i32] = &[0, PARTIAL, 24];

/// The files the sender found changing while it read them, when that is all rsync complained
/// of; `None` when it printed any other error. A file that shrinks under the sender reads
/// short, which rsync reports as `read errors mapping "PATH": No data available (61)`
/// (fileio.c map_ptr() marks a short read ENODATA); the receiver discards that copy
/// (`WARNING: PATH failed verification -- update discarded`) and rsync exits 23. Files that
/// vanished (code 24 on their own) may be among the lines.
pub fn changed_while_read(stderr: &str) -> Option<Vec<String>> {
    let mut paths = Vec::new();
    for l in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        paths.extend(live_line(l)?);
    }
    (!paths.is_empty()).then_some(paths)
}

/// One line of rsync's stderr on a pass over a tree still written to: `Some(Some(path))` for
/// a file read short, `Some(None)` for the lines that go with it (a discarded copy, a
/// vanished file, the closing code 23), `None` for an error of another kind.
fn live_line(l: &str) -> Option<Option<String>> {
    let msg = l
        .strip_prefix("rsync: ")
        .map(|r| r.strip_prefix("[sender] ").unwrap_or(r));
    if let Some(read) = msg.and_then(|m| m.strip_prefix("read errors mapping ")) {
        // The path may hold ": " itself; the errno is the last part.
        return match read.rsplit_once(": ") {
            Some((path, errno)) if errno.ends_with("(61)") => {
                Some(Some(path.trim_matches('"').to_string()))
            }
            _ => None,
        };
    }
    let with_it = l.starts_with("WARNING: ")
        && l.ends_with(" failed verification -- update discarded (will try again).")
        || l.starts_with("file has vanished: ")
        || l.starts_with(
            "rsync error: some files/attrs were not transferred (see previous errors) (code 23)",
        );
    with_it.then_some(None)
}

/// [`verify`] for a pass over a tree that clients still write to: exit 23 is accepted too
/// when the only errors were files changing under the sender ([`changed_while_read`]); the
/// next pass copies them again, and the final one runs when nothing writes.
pub fn verify_live(out: &Output) -> Result<(), String> {
    if out.rc != Some(PARTIAL) {
        return verify(out);
    }
    if changed_while_read(&out.stderr).is_some() {
        return verify(&Output {
            rc: Some(0),
            ..out.clone()
        });
    }
    let other = out
        .stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && live_line(l).is_none())
        .unwrap_or("none printed");
    Err(format!(
        "rsync exit 23 is accepted only for files changing while read; its other error: {other}"
    ))
}

/// Quote an argv for rsync's `-e`/`--rsh` option. rsync splits that string itself (main.c
/// do_cmd(), no shell): on spaces, with single or double quotes grouping, and a doubled quote
/// character inside quotes standing for one; there are no backslash escapes.
pub fn rsh_quote(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn host_part(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) => format!("[{a}]"),
        _ => host.to_string(),
    }
}

/// A directory's contents: rsync copies `dir/` into `dest/`, never `dir` into `dest/dir`.
fn contents(p: &Path) -> String {
    format!("{}/", p.display())
}

/// `rsync -a --itemize-changes --stats … --rsh=SSH SRC/ DEST/`, pushing `path` to
/// `user@host:peer_path` or pulling the other way round.
pub fn sync_cmd(e: &SyncEntry, ssh: &[String], user: &str, host: &str) -> Cmd {
    let mut argv: Vec<String> = vec![
        "rsync".into(),
        "--archive".into(),
        "--itemize-changes".into(),
        "--stats".into(),
        "--no-human-readable".into(),
        format!("--timeout={}", e.timeout.as_secs()),
    ];
    if let Some(bw) = e.bwlimit {
        argv.push(format!("--bwlimit={bw}"));
    }
    for x in &e.exclude {
        argv.push(format!("--exclude={x}"));
    }
    argv.extend(e.options.iter().cloned());
    argv.push(format!("--rsh={}", rsh_quote(ssh)));
    let remote = format!("{user}@{}:{}", host_part(host), contents(e.peer_path()));
    let local = contents(&e.path);
    match e.direction {
        Direction::Push => argv.extend([local, remote]),
        Direction::Pull => argv.extend([remote, local]),
    }
    Cmd::change(argv)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub files: Option<u64>,
    pub created_files: Option<u64>,
    pub deleted_files: Option<u64>,
    pub transferred_files: Option<u64>,
    pub total_size: Option<u64>,
    pub transferred_size: Option<u64>,
    pub literal_data: Option<u64>,
    pub matched_data: Option<u64>,
    pub bytes_sent: Option<u64>,
    pub bytes_received: Option<u64>,
}

impl Stats {
    /// rsync prints the whole block only after the transfer finished.
    pub fn complete(&self) -> bool {
        self.files.is_some()
            && self.transferred_size.is_some()
            && self.bytes_sent.is_some()
            && self.bytes_received.is_some()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Itemized lines (one per changed file, directory, link or deletion).
    pub changes: usize,
    /// The first few, for the journal.
    pub changes_sample: Vec<String>,
    pub stats: Stats,
}

pub const SAMPLE: usize = 20;

fn number(v: &str) -> Option<u64> {
    v.split_whitespace().next()?.replace(',', "").parse().ok()
}

fn is_itemized(l: &str) -> bool {
    if l.starts_with("*deleting ") {
        return true;
    }
    let b = l.as_bytes();
    b.len() > 12 && b"<>ch.*".contains(&b[0]) && b"fdLDS".contains(&b[1]) && b[11] == b' '
}

pub fn parse(stdout: &str) -> Summary {
    let mut s = Summary::default();
    let mut fields: BTreeMap<&str, u64> = BTreeMap::new();
    for l in stdout.lines() {
        if is_itemized(l) {
            s.changes += 1;
            if s.changes_sample.len() < SAMPLE {
                s.changes_sample.push(l.to_string());
            }
        } else if let Some((k, v)) = l.split_once(": ")
            && let Some(n) = number(v)
        {
            fields.insert(k.trim(), n);
        }
    }
    let get = |k: &str| fields.get(k).copied();
    s.stats = Stats {
        files: get("Number of files"),
        created_files: get("Number of created files"),
        deleted_files: get("Number of deleted files"),
        transferred_files: get("Number of regular files transferred"),
        total_size: get("Total file size"),
        transferred_size: get("Total transferred file size"),
        literal_data: get("Literal data"),
        matched_data: get("Matched data"),
        bytes_sent: get("Total bytes sent"),
        bytes_received: get("Total bytes received"),
    };
    s
}

/// The postcondition of a sync: an accepted exit code AND rsync's closing stats block (which
/// it prints only once the whole tree went through).
pub fn verify(out: &Output) -> Result<(), String> {
    if !out.rc.is_some_and(|rc| OK_RCS.contains(&rc)) {
        return Err(format!("rsync {}", out.ending()));
    }
    if parse(&out.stdout).stats.complete() {
        Ok(())
    } else {
        Err("rsync exited 0 but printed no complete --stats block".into())
    }
}

/// Block devices: `--copy-devices` (sender reads the device as a file), `--write-devices`
/// (receiver writes into the device), `--inplace --no-whole-file` (delta transfer into the
/// existing data), `--ignore-times` (never skip on equal size and mtime), `--copy-links` (the
/// remote /dev/VG/LV is a symlink). The local target is given as the resolved device node: a
/// symlink there would be replaced by a regular file.
pub fn device_sync_cmd(
    ssh: &[String],
    dest: &str,
    remote_dev: &Path,
    local_dev: &Path,
    nice: i32,
    bwlimit: Option<u64>,
) -> Cmd {
    let mut argv: Vec<String> = [
        "rsync",
        "--copy-devices",
        "--write-devices",
        "--inplace",
        "--no-whole-file",
        "--ignore-times",
        "--copy-links",
        "--stats",
        "--info=progress2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.push("-e".into());
    argv.push(rsh_quote(ssh));
    argv.push("--rsync-path".into());
    argv.push(format!("nice -n {nice} rsync"));
    if let Some(b) = bwlimit {
        // rsync counts in KiB/s.
        argv.push(format!("--bwlimit={}K", b.div_ceil(1024)));
    }
    argv.push(format!("{dest}:{}", remote_dev.display()));
    argv.push(local_dev.display().to_string());
    Cmd::change(argv)
}

/// The literal (changed) bytes of a finished block-device transfer, from its `--stats` block.
pub fn literal_data(stdout: &str) -> anyhow::Result<u64> {
    parse(stdout).stats.literal_data.ok_or_else(|| {
        anyhow::anyhow!("rsync printed no --stats block (expected \"Literal data: N bytes\")")
    })
}

/// rsync `--info=progress2`: "     32,768,000  97%   31.25MB/s    0:00:01 (xfr#1, …)".
pub fn rsync_progress(line: &str) -> Option<u64> {
    let first = line.split_whitespace().next()?;
    let rest = line.split_whitespace().nth(1)?;
    if !rest.ends_with('%') {
        return None;
    }
    first.replace(',', "").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // rsync 3.2.7 (Debian 12), `rsync -a --itemize-changes --stats --no-human-readable`,
    // pushing a directory with one new file, one changed file and one deletion (--delete).
    const OUT: &str = "\
*deleting   old.txt
.d..t...... ./
<f+++++++++ new file.txt
<f.st...... sub/changed.txt

Number of files: 4 (reg: 2, dir: 2)
Number of created files: 1 (reg: 1)
Number of deleted files: 1 (reg: 1)
Number of regular files transferred: 2
Total file size: 1048588 bytes
Total transferred file size: 1048588 bytes
Literal data: 1048588 bytes
Matched data: 0 bytes
File list size: 0
File list generation time: 0.001 seconds
File list transfer time: 0.000 seconds
Total bytes sent: 1049010
Total bytes received: 73

sent 1049010 bytes  received 73 bytes  2098166.00 bytes/sec
total size is 1048588  speedup is 1.00
";

    #[test]
    fn parses_itemized_changes_and_stats() {
        let s = parse(OUT);
        assert_eq!(s.changes, 4);
        assert_eq!(s.changes_sample[2], "<f+++++++++ new file.txt");
        assert_eq!(s.stats.files, Some(4));
        assert_eq!(s.stats.created_files, Some(1));
        assert_eq!(s.stats.deleted_files, Some(1));
        assert_eq!(s.stats.transferred_files, Some(2));
        assert_eq!(s.stats.transferred_size, Some(1048588));
        assert_eq!(s.stats.bytes_sent, Some(1049010));
        assert_eq!(s.stats.bytes_received, Some(73));
        assert!(s.stats.complete());
        // Digit grouping (rsync's default human-readable level 1) parses too.
        let grouped = OUT.replace("Total bytes sent: 1049010", "Total bytes sent: 1,049,010");
        assert_eq!(parse(&grouped).stats.bytes_sent, Some(1049010));
    }

    #[test]
    fn exit_0_without_stats_is_not_proof() {
        let out = |rc, stdout: &str| Output::fake(rc, stdout, "");
        assert!(verify(&out(0, OUT)).is_ok());
        assert!(verify(&out(24, OUT)).is_ok());
        assert_eq!(
            verify(&out(0, "<f+++++++++ a\n")).unwrap_err(),
            "rsync exited 0 but printed no complete --stats block"
        );
        assert_eq!(verify(&out(23, OUT)).unwrap_err(), "rsync exit 23");
    }

    // rsync 3.5.0, a pass over a tree a client rewrote a file of (`echo $i > count`) while
    // the sender read it.
    const SHRANK: &str = "\
rsync: [sender] read errors mapping \"/srv/tools/shared/alpha/count\": No data available (61)
WARNING: count failed verification -- update discarded (will try again).
rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]
";

    #[test]
    fn a_file_changing_under_the_sender_is_the_writers_doing_not_an_error() {
        assert_eq!(
            changed_while_read(SHRANK),
            Some(vec!["/srv/tools/shared/alpha/count".to_string()])
        );
        let with_vanished = format!("file has vanished: \"/srv/tools/shared/alpha/w3\"\n{SHRANK}");
        assert!(changed_while_read(&with_vanished).is_some());
        // Any other error is one: a file that cannot be read, a real read error.
        for other in [
            "rsync: [sender] send_files failed to open \"/srv/tools/shared/alpha/x\": Permission denied (13)",
            "rsync: [sender] read errors mapping \"/srv/tools/shared/alpha/x\": Input/output error (5)",
            "rsync: [receiver] write failed on \"/srv/misc/shared/alpha/x\": No space left on device (28)",
        ] {
            assert_eq!(
                changed_while_read(&format!("{other}\n{SHRANK}")),
                None,
                "{other}"
            );
        }
        assert_eq!(changed_while_read(""), None);

        let out = |rc, stderr: &str| Output::fake(rc, OUT, stderr);
        assert!(verify_live(&out(23, SHRANK)).is_ok());
        assert!(verify_live(&out(24, "")).is_ok());
        assert_eq!(verify(&out(23, SHRANK)).unwrap_err(), "rsync exit 23");
        let denied = "rsync: [sender] send_files failed to open \"/x\": Permission denied (13)\n\
                      rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]\n";
        assert_eq!(
            verify_live(&out(23, denied)).unwrap_err(),
            "rsync exit 23 is accepted only for files changing while read; its other error: \
             rsync: [sender] send_files failed to open \"/x\": Permission denied (13)"
        );
        // Without its closing stats block, exit 23 proves nothing either.
        assert!(verify_live(&Output::fake(23, "", SHRANK)).is_err());
    }

    #[test]
    fn rsh_is_quoted_for_rsyncs_own_splitter() {
        let argv: Vec<String> = ["ssh", "-o", "BatchMode=yes", "-i", "/root/my key's/id"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            rsh_quote(&argv),
            "ssh -o BatchMode=yes -i '/root/my key''s/id'"
        );
    }

    #[test]
    fn push_and_pull_argv() {
        let e: SyncEntry = yaml_serde::from_str(
            "{ name: t, path: /srv/tools, bwlimit: 40000, exclude: [.snapshot/], options: [--delete] }",
        )
        .unwrap();
        let ssh = vec!["ssh".to_string(), "-o".into(), "BatchMode=yes".into()];
        assert_eq!(
            sync_cmd(&e, &ssh, "root", "10.64.37.7").argv,
            [
                "rsync",
                "--archive",
                "--itemize-changes",
                "--stats",
                "--no-human-readable",
                "--timeout=1200",
                "--bwlimit=40000",
                "--exclude=.snapshot/",
                "--delete",
                "--rsh=ssh -o BatchMode=yes",
                "/srv/tools/",
                "root@10.64.37.7:/srv/tools/"
            ]
        );
        let e: SyncEntry = yaml_serde::from_str(
            "{ name: d, path: /srv/dumps, direction: pull, source: 'fe80::1', peer_path: /data }",
        )
        .unwrap();
        let argv = sync_cmd(&e, &ssh, "dumps", "fe80::1").argv;
        assert_eq!(
            &argv[argv.len() - 2..],
            ["dumps@[fe80::1]:/data/", "/srv/dumps/"]
        );
    }

    // rsync 3.2.7/3.4 --stats output (this machine).
    const DEVICE_STATS: &str = "\r      8,388,608 100%  110.50MB/s    0:00:00 (xfr#1, to-chk=0/1)\n\nNumber of files: 1 (reg: 1)\nNumber of created files: 0\nTotal file size: 8,388,608 bytes\nTotal transferred file size: 8,388,608 bytes\nLiteral data: 2,896 bytes\nMatched data: 8,385,712 bytes\nTotal bytes sent: 14,561\nTotal bytes received: 17,417\n";

    #[test]
    fn device_stats() {
        assert_eq!(literal_data(DEVICE_STATS).unwrap(), 2896);
        assert!(literal_data("nothing").is_err());
    }

    #[test]
    fn device_argv() {
        let c = device_sync_cmd(
            &["ssh".into(), "-i".into(), "/k".into()],
            "root@h",
            Path::new("/dev/vd/s"),
            Path::new("/dev/dm-3"),
            10,
            Some(50 << 20),
        );
        let s = c.to_string();
        assert!(
            s.starts_with("rsync --copy-devices --write-devices --inplace --no-whole-file"),
            "{s}"
        );
        assert!(s.ends_with("-e 'ssh -i /k' --rsync-path 'nice -n 10 rsync' --bwlimit=51200K root@h:/dev/vd/s /dev/dm-3"), "{s}");
    }

    #[test]
    fn rsync_progress_lines() {
        assert_eq!(
            rsync_progress("     32,768,000  97%   31.25MB/s    0:00:01 (xfr#1, to-chk=0/1)"),
            Some(32_768_000)
        );
        assert_eq!(rsync_progress("Number of files: 1 (reg: 1)"), None);
    }
}
