//! Test stand-in for `drbdadm`, `drbdsetup` and `systemctl`, which cannot run on the test
//! machine (no DRBD kernel module, systemd is not PID 1); `lvs`, `lvcreate`, `lvremove`
//! (no device-mapper: see lvm.rs) and `bdsync` (not packaged: see bdsync.rs). Tests symlink those three names to
//! this binary and put the directory first on PATH; we dispatch on the basename of argv[0] and
//! answer from JSON state files in `$NFS_MANAGE_STANDIN_DIR` (drbd.json, systemd.json,
//! faults.json; every call is appended to calls.log).
//!
//! Under any other name (mount, umount, exportfs, ip, arping, fuser, mkdir…) it is a
//! pass-through: it logs the call, applies a matching fault, and otherwise execs the real tool
//! of that name found further along PATH, so faults can be injected in front of real tools.
//!
//! Output formats are copied from real tools; sources (all in tests/fixtures/drbd/):
//! * `drbdsetup status --json`: drbd-utils 9.22.0 user/v9/drbdsetup.c lines 2595-2837 and
//!   3212-3270 (quoted in drbdsetup-status-json.format.md); layout checked against
//!   drbdsetup-status-resync.generated.json and drbdsetup-status-connecting.generated.json.
//! * `drbdadm status` / `drbdsetup status` text: the status-*.txt fixtures (see their
//!   .source files) and drbd-utils 9.22.0 resource_status()/device_status()/
//!   connection_status()/peer_device_status() and user/shared/wrap_printf.c.
//! * drbdadm/drbdsetup error texts and exit codes: errors.md (check_error(), role_cmd(),
//!   status_cmd(), drbdadm_main.c, shared_main.c "Command '...' terminated with exit code N").
//! * systemctl: systemd 252 (Debian 12 252.38); `is-active` exits 0 if at least ONE unit is
//!   active or reloading (src/systemctl/systemctl-is-active.c check_unit_generic(), and
//!   systemctl(1): "Returns an exit code 0 if at least one is active").
//!
//! Never a tty in tests, so no colors; text status wraps at 80 columns like wrap_printf()
//! does when stdout is not a terminal.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigHandler, Signal, signal};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

mod bdsync;
mod lvm;

// ---- state files -------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Default, Clone)]
struct DrbdState {
    #[serde(default)]
    resources: Vec<Resource>,
    /// Two-node test beds: the other node's stand-in directory. Then each peer's connection,
    /// role and disk are read from that node's drbd.json (what the kernel would learn over the
    /// replication link); the peer entry here only says whether we want to be connected
    /// (`Connected`) or not (`StandAlone`…), and carries replication/`done` while resyncing.
    /// A `link-down` file in either directory is a cut link: peers become Connecting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    peer_state_dir: Option<PathBuf>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Resource {
    name: String,
    node_id: u32,
    role: String,
    up: bool,
    #[serde(default)]
    allow_two_primaries: bool,
    #[serde(default)]
    volumes: Vec<Volume>,
    #[serde(default)]
    peers: Vec<Peer>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Volume {
    volume: u32,
    minor: u32,
    #[serde(default)]
    device: String,
    disk: String,
    #[serde(default)]
    size_kib: u64,
}

#[derive(Serialize, Deserialize, Clone)]
struct Peer {
    name: String,
    node_id: u32,
    connection: String,
    role: String,
    #[serde(default)]
    volumes: Vec<PeerVolume>,
}

#[derive(Serialize, Deserialize, Clone)]
struct PeerVolume {
    volume: u32,
    replication: String,
    disk: String,
    #[serde(default)]
    done: Option<f64>,
}

#[derive(Serialize, Deserialize, Default)]
struct SystemdState {
    #[serde(default)]
    units: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Fault {
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default)]
    nth: u64,
    #[serde(default)]
    rc: Option<i32>,
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: String,
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    effect: Effect,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Effect {
    #[default]
    Skip,
    Apply,
}

/// Missing file = default (nothing configured); anything unparsable is a test bug.
fn load<T: DeserializeOwned + Default>(path: &Path) -> Result<T> {
    match fs::read_to_string(path) {
        Ok(s) => serde_json::from_str(&s).with_context(|| format!("parsing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Temp file + rename, so a test reading the state never sees half a file.
fn save<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

// ---- invocation plumbing -----------------------------------------------------------------

/// What a command prints and returns; built in memory so a fault with `effect: apply` can run
/// the real state change and throw its output away.
#[derive(Default)]
struct Out {
    stdout: String,
    stderr: String,
    code: i32,
}

impl Out {
    fn err(mut self, line: &str, code: i32) -> Self {
        self.stderr.push_str(line);
        self.stderr.push('\n');
        self.code = self.code.max(code);
        self
    }
}

enum Action {
    Done(Out),
    /// `drbdadm dump` & co. work without the kernel module, so the real drbdadm answers; any
    /// tool we do not stand in for is always the real one.
    ExecReal,
}

struct Call {
    dir: PathBuf,
    tool: String,
    args: Vec<String>,
    /// Invocation as logged and as fault patterns see it: `drbdadm primary tools`.
    line: String,
}

impl Call {
    fn unsupported(&self) -> Out {
        Out::default().err(&format!("standin: unsupported: {}", self.line), 64)
    }
}

fn main() {
    // Like the C tools: die quietly on a closed pipe instead of reporting EPIPE.
    // SAFETY: single-threaded, before anything else runs; SIG_DFL is always a valid handler.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.ok();
    let argv: Vec<String> = std::env::args().collect();
    let argv0 = argv.first().cloned().unwrap_or_default();
    let tool = Path::new(&argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(dir) = std::env::var_os("NFS_MANAGE_STANDIN_DIR") else {
        eprintln!("standin: NFS_MANAGE_STANDIN_DIR is not set (the test must set it)");
        std::process::exit(64);
    };
    let args = argv[1..].to_vec();
    let line = std::iter::once(tool.as_str())
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let call = Call {
        dir: PathBuf::from(dir),
        tool,
        args,
        line,
    };
    let started = now_ns();
    let code = match run(&call, &argv0) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("standin: error: {e:#}");
            70
        }
    };
    if timing_on(&call) {
        // One line per call: start and end (ns since the epoch) and the call, for benchmarks.
        let line = format!("{started} {} {}\n", now_ns(), call.line);
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(call.dir.join("timing.log"))
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
    std::process::exit(code);
}

/// Serialize concurrent calls of one test; the locks live until they are dropped or the
/// process exits (the files are close-on-exec, so an exec'd real tool does not hold them).
/// With a linked peer, DRBD calls take both nodes' locks (in one global order), so a promotion
/// here and one there are serialized like DRBD's cluster-wide state changes.
fn lock_dirs(call: &Call) -> Result<Vec<Flock<std::fs::File>>> {
    let mut dirs = vec![call.dir.clone()];
    if call.tool.starts_with("drbd")
        && let Ok(st) = load::<DrbdState>(&call.dir.join("drbd.json"))
        && let Some(p) = st.peer_state_dir
    {
        dirs.push(p);
    }
    let mut dirs: Vec<PathBuf> = dirs
        .into_iter()
        .map(|d| d.canonicalize().unwrap_or(d))
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut locks = Vec::new();
    for d in &dirs {
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(d.join(".lock"))
            .with_context(|| format!("opening {}/.lock", d.display()))?;
        locks.push(
            Flock::lock(lock_file, FlockArg::LockExclusive)
                .map_err(|(_, e)| e)
                .context("flock .lock")?,
        );
    }
    Ok(locks)
}

fn run(call: &Call, argv0: &str) -> Result<i32> {
    let mut _locks = lock_dirs(call)?;

    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(call.dir.join("calls.log"))?;
    writeln!(log, "{}", call.line)?;

    if let Some(fault) = firing_fault(call)? {
        if fault.sleep_ms > 0 {
            // A slow tool does not hold up the other calls running beside it.
            drop(_locks);
            std::thread::sleep(std::time::Duration::from_millis(fault.sleep_ms));
            _locks = lock_dirs(call)?;
        }
        if let Some(rc) = fault.rc {
            if fault.effect == Effect::Apply {
                // State change only; output replaced by the fault's.
                if let Action::ExecReal = dispatch(call)? {
                    let real = find_real(&call.tool, argv0).context("no real tool on PATH")?;
                    Command::new(real).args(&call.args).output()?;
                }
            }
            return emit(&fault.stdout, &fault.stderr, rc);
        }
    }

    if call.tool == "bdsync" {
        // Its roles run at once (client, patch) and stream: they must not hold the lock.
        drop(_locks);
        return Ok(bdsync::main(call));
    }
    match dispatch(call)? {
        Action::Done(out) => emit(&out.stdout, &out.stderr, out.code),
        Action::ExecReal => match find_real(&call.tool, argv0) {
            // Timed runs (benchmarks) wait for the real tool to log when it ended.
            Some(real) if timing_on(call) => {
                drop(_locks);
                let st = Command::new(&real).args(&call.args).status()?;
                Ok(st.code().unwrap_or(128))
            }
            Some(real) => {
                let err = Command::new(&real).args(&call.args).exec();
                Err(err).with_context(|| format!("exec {}", real.display()))
            }
            None => {
                eprintln!("standin: no real {} on PATH", call.tool);
                Ok(127)
            }
        },
    }
}

/// A `timing` file in the state directory turns on timing.log (see main).
fn timing_on(call: &Call) -> bool {
    call.dir.join("timing").exists()
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn emit(stdout: &str, stderr: &str, code: i32) -> Result<i32> {
    std::io::stdout().write_all(stdout.as_bytes())?;
    std::io::stdout().flush()?;
    std::io::stderr().write_all(stderr.as_bytes())?;
    Ok(code)
}

fn dispatch(call: &Call) -> Result<Action> {
    Ok(match call.tool.as_str() {
        "drbdsetup" => Action::Done(drbdsetup(call)?),
        "drbdadm" => drbdadm(call)?,
        "systemctl" => Action::Done(systemctl(call)?),
        "lvs" => Action::Done(lvm::lvs(call)?),
        "lvcreate" => Action::Done(lvm::lvcreate(call)?),
        "lvremove" => Action::Done(lvm::lvremove(call)?),
        // Test helper, not a real tool: register an image as VG/LV.
        "lvm-seed" => Action::Done(lvm::seed(call)?),
        _ => Action::ExecReal,
    })
}

/// Counts every matching call per fault (counters keyed by the fault's index in the list) and
/// returns the first fault, in list order, that fires on this call; only that one acts.
fn firing_fault(call: &Call) -> Result<Option<Fault>> {
    let faults: Vec<Fault> = load(&call.dir.join("faults.json"))?;
    let counters_path = call.dir.join("fault-counters.json");
    let mut counters: BTreeMap<String, u64> = load(&counters_path)?;
    let mut fired = None;
    let mut matched = false;
    for (i, fault) in faults.into_iter().enumerate() {
        if !call.line.starts_with(&fault.pattern) {
            continue;
        }
        matched = true;
        let n = counters.entry(i.to_string()).or_insert(0);
        *n += 1;
        if fired.is_none() && (fault.nth == 0 || fault.nth == *n) {
            fired = Some(fault);
        }
    }
    if matched {
        save(&counters_path, &counters)?;
    }
    Ok(fired)
}

/// The real tool: first executable of that name on PATH that is not this stand-in.
fn find_real(tool: &str, argv0: &str) -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?.canonicalize().ok()?;
    let skip_dir = Path::new(argv0)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .and_then(|p| p.canonicalize().ok());
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|d| {
        if d.canonicalize()
            .ok()
            .is_some_and(|d| Some(&d) == skip_dir.as_ref())
        {
            return None;
        }
        let candidate = d.join(tool);
        let meta = fs::metadata(&candidate).ok()?;
        let runnable = meta.is_file() && meta.mode() & 0o111 != 0;
        let other = candidate.canonicalize().ok().is_some_and(|c| c != me);
        (runnable && other).then_some(candidate)
    })
}

// ---- mounted? ------------------------------------------------------------------------------

/// A device counts as mounted when /proc/self/mountinfo has its MAJOR:MINOR (field 3) or
/// names its path as the mount source (first field after " - " is the fs type, then source).
fn is_mounted(device: &str) -> bool {
    if device.is_empty() {
        return false;
    }
    let rdev = fs::metadata(device)
        .ok()
        .filter(|m| m.file_type().is_block_device())
        .map(|m| {
            let rdev = m.rdev();
            format!(
                "{}:{}",
                nix::sys::stat::major(rdev),
                nix::sys::stat::minor(rdev)
            )
        });
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    info.lines().any(|l| {
        let fields: Vec<&str> = l.split(' ').collect();
        let by_dev = rdev.as_deref().is_some_and(|r| fields.get(2) == Some(&r));
        let source = fields
            .iter()
            .position(|f| *f == "-")
            .and_then(|i| fields.get(i + 2));
        by_dev || source == Some(&device)
    })
}

// ---- DRBD state names ------------------------------------------------------------------------

/// The in_resync_without_details range of drbdsetup.c: SyncSource..PausedSyncT without
/// VerifyS/VerifyT. Only there is a `done` percentage shown.
fn is_sync_state(replication: &str) -> bool {
    matches!(
        replication,
        "SyncSource" | "SyncTarget" | "PausedSyncS" | "PausedSyncT"
    )
}

/// What the kernel reports for a peer: nothing is known about a peer that is not connected.
fn peer_view<'a>(peer: &'a Peer, pv: &'a PeerVolume) -> (&'a str, &'a str) {
    if peer.connection == "Connected" {
        (pv.replication.as_str(), pv.disk.as_str())
    } else {
        ("Off", "DUnknown")
    }
}

fn peer_role(peer: &Peer) -> &str {
    if peer.connection == "Connected" {
        &peer.role
    } else {
        "Unknown"
    }
}

/// Out-of-sync KiB derived from `done` (0 without a `done` value).
fn out_of_sync_kib(size_kib: u64, done: Option<f64>) -> u64 {
    done.map_or(0, |d| {
        (size_kib as f64 * (100.0 - d.clamp(0.0, 100.0)) / 100.0).round() as u64
    })
}

fn sorted_volumes(r: &Resource) -> Vec<&Volume> {
    let mut v: Vec<&Volume> = r.volumes.iter().collect();
    v.sort_by_key(|v| v.volume);
    v
}

/// sort_connections(): by connection name (strcmp order).
fn sorted_peers(r: &Resource) -> Vec<&Peer> {
    let mut p: Vec<&Peer> = r.peers.iter().collect();
    p.sort_by(|a, b| a.name.cmp(&b.name)); // byte order, like strcmp()
    p
}

fn sorted_peer_volumes(p: &Peer) -> Vec<&PeerVolume> {
    let mut v: Vec<&PeerVolume> = p.volumes.iter().collect();
    v.sort_by_key(|v| v.volume);
    v
}

// ---- drbdsetup status ----------------------------------------------------------------------

/// status_cmd(): `name` None means "all". Resources sorted by name like sort_resources().
fn status(state: &DrbdState, name: Option<&str>, json: bool) -> Out {
    let mut up: Vec<&Resource> = state.resources.iter().filter(|r| r.up).collect();
    up.sort_by(|a, b| a.name.cmp(&b.name)); // byte order, like strcmp()
    let mut out = Out::default();
    if up.is_empty() && !json {
        out.stdout
            .push_str("# No currently configured DRBD found.\n");
    }
    let chosen: Vec<&Resource> = up
        .into_iter()
        .filter(|r| name.is_none_or(|n| n == r.name))
        .collect();
    if json {
        out.stdout.push_str(&status_json(&chosen));
    } else {
        let mut w = Wrap::new(std::io::stdout().is_terminal());
        for r in &chosen {
            status_text(&mut w, r);
        }
        out.stdout.push_str(&w.out);
    }
    match name {
        Some(n) if chosen.is_empty() => out.err(&format!("{n}: No such resource"), 10),
        _ => out,
    }
}

/// Mirrors the printf/puts sequence of drbd-utils 9.22.0 (format.md): `[`, objects joined by
/// a `,` line, arrays closed as ` ]` right after the last `}`, final `]` plus empty line.
fn status_json(resources: &[&Resource]) -> String {
    let mut o = String::from("[\n");
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            o.push_str(",\n");
        }
        o.push_str(&format!(
            "{{\n  \"name\": \"{}\",\n  \"node-id\": {},\n  \"role\": \"{}\",\n  \
             \"suspended\": false,\n  \"suspended-user\": false,\n  \
             \"suspended-no-data\": false,\n  \"suspended-fencing\": false,\n  \
             \"suspended-quorum\": false,\n  \"force-io-failures\": false,\n  \
             \"write-ordering\": \"flush\",\n  \"devices\": [\n",
            r.name, r.node_id, r.role
        ));
        let vols = sorted_volumes(r);
        for (j, v) in vols.iter().enumerate() {
            if j > 0 {
                o.push_str(",\n");
            }
            o.push_str(&format!(
                "    {{\n      \"volume\": {},\n      \"minor\": {},\n      \
                 \"disk-state\": \"{}\",\n      \"client\": false,\n      \
                 \"quorum\": true,\n      \"size\": {},\n      \"read\": 0,\n      \
                 \"written\": 0,\n      \"al-writes\": 0,\n      \"bm-writes\": 0,\n      \
                 \"upper-pending\": 0,\n      \"lower-pending\": 0\n    }}",
                v.volume, v.minor, v.disk, v.size_kib
            ));
        }
        o.push_str(" ],\n  \"connections\": [\n");
        for (j, p) in sorted_peers(r).iter().enumerate() {
            if j > 0 {
                o.push_str(",\n");
            }
            o.push_str(&format!(
                "    {{\n      \"peer-node-id\": {},\n      \"name\": \"{}\",\n      \
                 \"connection-state\": \"{}\", \n      \"congested\": false,\n      \
                 \"peer-role\": \"{}\",\n      \"ap-in-flight\": 0,\n      \
                 \"rs-in-flight\": 0,\n      \"peer_devices\": [\n",
                p.node_id,
                p.name,
                p.connection,
                peer_role(p)
            ));
            // list_peer_devices() only runs when the resource has devices.
            let pvs = if vols.is_empty() {
                Vec::new()
            } else {
                sorted_peer_volumes(p)
            };
            for (k, pv) in pvs.iter().enumerate() {
                if k > 0 {
                    o.push_str(",\n");
                }
                let size = vols
                    .iter()
                    .find(|v| v.volume == pv.volume)
                    .map_or(0, |v| v.size_kib);
                o.push_str(&peer_device_json(p, pv, size));
            }
            o.push_str(" ]\n    }");
        }
        o.push_str(" ]\n}\n");
    }
    o.push_str("]\n\n");
    o
}

/// peer_device_status_json(): never "sync details" (no rs-total from a stand-in kernel), so a
/// syncing peer device takes the in_resync_without_details branch.
fn peer_device_json(peer: &Peer, pv: &PeerVolume, size_kib: u64) -> String {
    let (repl, disk) = peer_view(peer, pv);
    let oos = out_of_sync_kib(size_kib, pv.done);
    let in_sync = if size_kib == 0 {
        0.0
    } else {
        100.0 * (1.0 - oos as f64 / size_kib as f64)
    };
    let resync_done = pv.done.filter(|_| is_sync_state(repl));
    let mut s = format!(
        "        {{\n          \"volume\": {},\n          \"replication-state\": \"{}\",\n          \
         \"peer-disk-state\": \"{}\",\n          \"peer-client\": false,\n          \
         \"resync-suspended\": \"no\",\n          \"received\": 0,\n          \"sent\": 0,\n          \
         \"out-of-sync\": {},\n          \"pending\": 0,\n          \"unacked\": 0,\n          \
         \"has-sync-details\": false,\n          \"has-online-verify-details\": false,\n          \
         \"percent-in-sync\": {:.2}{}\n",
        pv.volume,
        repl,
        disk,
        oos,
        in_sync,
        if resync_done.is_some() { "," } else { "" }
    );
    if let Some(done) = resync_done {
        s.push_str(&format!("          \"percent-resync-done\": {done:.2}\n"));
    }
    s.push_str("        }");
    s
}

/// user/shared/wrap_printf.c: lines longer than the terminal (80 columns when stdout is not
/// a tty) continue on a new line at the current indent; leading spaces are dropped at the
/// start of a line.
struct Wrap {
    out: String,
    col: usize,
    columns: usize,
    tty: bool,
}

impl Wrap {
    fn new(tty: bool) -> Self {
        Wrap {
            out: String::new(),
            col: 0,
            columns: 80,
            tty,
        }
    }

    fn p(&mut self, indent: usize, text: &str) {
        let mut s = text;
        if self.col + text.len() > self.columns {
            self.out.push('\n');
            s = s.strip_prefix('\n').unwrap_or(s);
            self.col = 0;
        }
        if self.col == 0 {
            s = s.trim_start_matches(' ');
            self.col = indent;
            self.out.push_str(&" ".repeat(indent));
        }
        self.out.push_str(s);
        self.col += s.len();
        if s.ends_with('\n') {
            self.col = 0;
        }
    }
}

/// Non-verbose text of one resource, in the order of status_cmd(): resource_status(),
/// device_status() per volume, connection_status() per peer, then an empty line.
fn status_text(w: &mut Wrap, r: &Resource) {
    w.p(0, &r.name);
    w.p(4, &format!(" role:{}", r.role));
    w.p(0, "\n");
    let vols = sorted_volumes(r);
    let single = vols.len() == 1;
    for v in &vols {
        let mut indent = 2;
        if !(single && v.volume == 0) {
            w.p(indent, &format!("volume:{}", v.volume));
            indent = 6;
        }
        w.p(indent, &format!(" disk:{}", v.disk));
        if v.disk == "Diskless" && !w.tty {
            w.p(indent, " client:no");
        }
        w.p(6, "\n");
    }
    for p in sorted_peers(r) {
        if p.name.is_empty() {
            w.p(2, &format!(" node-id:{}", p.node_id));
        } else {
            w.p(2, &p.name);
        }
        let connected = p.connection == "Connected";
        if connected {
            w.p(6, &format!(" role:{}", p.role));
        } else {
            w.p(6, &format!(" connection:{}", p.connection));
        }
        w.p(0, "\n");
        if connected && !vols.is_empty() {
            for pv in sorted_peer_volumes(p) {
                peer_device_text(w, p, pv, single);
            }
        }
    }
    w.p(0, "\n");
}

fn peer_device_text(w: &mut Wrap, p: &Peer, pv: &PeerVolume, single: bool) {
    let (repl, disk) = peer_view(p, pv);
    let mut indent = 4;
    if !(single && pv.volume == 0) {
        w.p(indent, &format!("volume:{}", pv.volume));
        indent = 8;
    }
    // Printed only when `> L_ESTABLISHED`, i.e. neither Off nor Established.
    if repl != "Off" && repl != "Established" {
        w.p(indent, &format!(" replication:{repl}"));
        indent = 8;
    }
    if repl != "Off" || disk != "DUnknown" {
        w.p(indent, &format!(" peer-disk:{disk}"));
        if disk == "Diskless" && !w.tty {
            w.p(indent, " peer-client:no");
        }
        if let Some(done) = pv.done.filter(|_| is_sync_state(repl)) {
            w.p(8, &format!(" done:{done:.2}"));
        }
    }
    w.p(0, "\n");
}

// ---- the peer's side (two-node test beds) ---------------------------------------------------

/// The state as this node's kernel would report it: with `peer_state_dir`, each peer's
/// connection, role and disk come from the other node's state (see `DrbdState`).
fn effective(state: &DrbdState, dir: &Path) -> Result<DrbdState> {
    let mut eff = state.clone();
    let Some(pdir) = &state.peer_state_dir else {
        return Ok(eff);
    };
    let other: DrbdState = load(&pdir.join("drbd.json"))?;
    let cut = dir.join("link-down").exists() || pdir.join("link-down").exists();
    for r in eff.resources.iter_mut() {
        let theirs = other.resources.iter().find(|o| o.name == r.name);
        for p in r.peers.iter_mut() {
            let wants = p.connection == "Connected";
            let they_want = theirs
                .is_some_and(|t| t.up && t.peers.iter().any(|tp| tp.connection == "Connected"));
            let up = r.up && wants && they_want && !cut;
            match (up, theirs) {
                (true, Some(t)) => {
                    p.connection = "Connected".into();
                    p.role = t.role.clone();
                    for pv in p.volumes.iter_mut() {
                        if let Some(v) = t.volumes.iter().find(|v| v.volume == pv.volume) {
                            pv.disk = v.disk.clone();
                        }
                    }
                }
                _ => {
                    if wants {
                        p.connection = "Connecting".into();
                    }
                    p.role = "Unknown".into();
                }
            }
        }
    }
    Ok(eff)
}

// ---- drbdsetup -----------------------------------------------------------------------------

fn drbdsetup(call: &Call) -> Result<Out> {
    let state: DrbdState = load(&call.dir.join("drbd.json"))?;
    let state = effective(&state, &call.dir)?;
    let json = call.args.iter().any(|a| a == "--json");
    let words: Vec<&str> = call
        .args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--json")
        .collect();
    Ok(match words.as_slice() {
        ["status"] | ["status", "all"] => status(&state, None, json),
        ["status", name] if !name.starts_with('-') => status(&state, Some(name), json),
        _ => call.unsupported(),
    })
}

// ---- drbdadm -------------------------------------------------------------------------------

/// drbdadm appends this to the failing drbdsetup child's stderr (shared_main.c, rv >= 10).
fn child_failed(out: Out, child: &str, code: i32) -> Out {
    out.err(
        &format!("Command 'drbdsetup {child}' terminated with exit code {code}"),
        code,
    )
}

fn drbdadm(call: &Call) -> Result<Action> {
    let Some(cmd) = call.args.first().map(String::as_str) else {
        return Ok(Action::Done(call.unsupported()));
    };
    if cmd.starts_with("dump") || cmd.starts_with("sh-") || cmd == "-c" {
        return Ok(Action::ExecReal);
    }
    // `drbdadm primary --force RES` (passed on to `drbdsetup primary RES --force`).
    let force = cmd == "primary" && call.args[1..].iter().any(|a| a == "--force");
    let names: Vec<&str> = call.args[1..]
        .iter()
        .map(String::as_str)
        .filter(|a| !(force && *a == "--force"))
        .collect();
    let known = ["status", "role", "primary", "secondary", "up", "down"].contains(&cmd);
    if !known || names.iter().any(|n| n.starts_with('-')) || (names.is_empty() && cmd != "status") {
        return Ok(Action::Done(call.unsupported()));
    }
    let path = call.dir.join("drbd.json");
    let mut state: DrbdState = load(&path)?;
    let eff = effective(&state, &call.dir)?;
    if names.is_empty() {
        // `drbdadm status` without a resource runs `drbdsetup status` (all) directly.
        return Ok(Action::Done(status(&eff, None, false)));
    }
    if state.resources.is_empty() {
        // drbdadm_main.c 3424-3427: checked before any name is looked up.
        return Ok(Action::Done(Out::default().err("no resources defined!", 1)));
    }
    // drbdadm works through the names in order, running `drbdsetup CMD NAME` for each; an
    // unknown name ends the run with exit 1, child failures only raise the final exit code.
    let mut out = Out::default();
    let mut changed = false;
    for name in names {
        let Some(i) = state.resources.iter().position(|r| r.name == name) else {
            let msg = format!("'{name}' not defined in your config (for this host).");
            out = out.err(&msg, 1);
            out.code = 1; // exit(E_USAGE), whatever failed before
            break;
        };
        let child = format!("{cmd} {name}");
        if cmd == "status" {
            // Includes the "# No currently configured DRBD found." line when nothing is up.
            let s = status(&eff, Some(name), false);
            out.stdout.push_str(&s.stdout);
            out.stderr.push_str(&s.stderr);
            if s.code != 0 {
                out = child_failed(out, &child, s.code);
            }
            continue;
        }
        // Decided on what the kernel sees (the peer's real role), stored in our own file.
        let mut seen = eff.resources[i].clone();
        match drbdsetup_change(cmd, &mut seen, &mut out.stdout, force) {
            Ok(c) => {
                changed |= c;
                state.resources[i].role = seen.role;
                state.resources[i].up = seen.up;
            }
            Err((text, code)) => {
                out = child_failed(out.err(&format!("{name}: {text}"), code), &child, code)
            }
        }
    }
    if changed {
        save(&path, &state)?;
    }
    Ok(Action::Done(out))
}

/// What the drbdsetup child does for role/primary/secondary/up/down on one resource:
/// Ok(state changed) or Err((message after "NAME: ", exit code)) as check_error() prints it.
fn drbdsetup_change(
    cmd: &str,
    r: &mut Resource,
    stdout: &mut String,
    force: bool,
) -> Result<bool, (String, i32)> {
    let fail = |text: &str, code: i32| Err((text.to_string(), code));
    let held_open = "State change failed: (-12) Device is held open by someone";
    let connected = |p: &&Peer| p.connection == "Connected";
    match cmd {
        "role" if !r.up => fail("Unknown resource", 10),
        "primary" | "secondary" if !r.up => fail("Failure: (158) Unknown resource", 10),
        "role" => {
            stdout.push_str(&format!("{}\n", r.role));
            Ok(false)
        }
        "primary" if r.role == "Primary" => Ok(false),
        "primary" => {
            let peer_primary = r
                .peers
                .iter()
                .filter(connected)
                .any(|p| p.role == "Primary");
            // A diskless or outdated volume is fine while a connected peer has UpToDate data.
            let has_data = |v: &Volume| {
                v.disk == "UpToDate"
                    || r.peers.iter().filter(connected).any(|p| {
                        (p.volumes.iter()).any(|pv| pv.volume == v.volume && pv.disk == "UpToDate")
                    })
            };
            if peer_primary && !r.allow_two_primaries {
                fail(
                    "State change failed: (-1) Multiple primaries not allowed by config",
                    11,
                )
            } else if !force && !r.volumes.iter().all(has_data) {
                fail("State change failed: (-2) Need access to UpToDate data", 17)
            } else {
                r.role = "Primary".into();
                Ok(true)
            }
        }
        // Already Secondary is SS_NOTHING_TO_DO for the kernel: success, no open check.
        "secondary" if r.role == "Secondary" => Ok(false),
        "secondary" | "down" if r.up && r.volumes.iter().any(|v| is_mounted(&v.device)) => {
            fail(held_open, 11)
        }
        "secondary" => {
            r.role = "Secondary".into();
            Ok(true)
        }
        "up" => Ok(!std::mem::replace(&mut r.up, true)),
        // down_cmd(): a resource that is not up is "down" already, exit 0.
        "down" if !r.up => Ok(false),
        "down" => {
            r.up = false;
            r.role = "Secondary".into();
            Ok(true)
        }
        _ => unreachable!("filtered in drbdadm()"),
    }
}

// ---- systemctl -----------------------------------------------------------------------------

/// (display name, lookup key): `nginx` and `nginx.service` are the same unit; other unit
/// types keep their suffix.
fn unit_names(arg: &str) -> (String, String) {
    const TYPES: &str =
        ".socket .target .mount .automount .timer .path .slice .scope .device .swap";
    if let Some(key) = arg.strip_suffix(".service") {
        (arg.to_string(), key.to_string())
    } else if TYPES.split(' ').any(|t| arg.ends_with(t)) {
        (arg.to_string(), arg.to_string())
    } else {
        (format!("{arg}.service"), arg.to_string())
    }
}

fn systemctl(call: &Call) -> Result<Out> {
    let path = call.dir.join("systemd.json");
    let mut state: SystemdState = load(&path)?;
    let quiet = call.args.iter().any(|a| a == "--quiet" || a == "-q");
    let words: Vec<&str> = call
        .args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--quiet" && *a != "-q")
        .collect();
    let Some((&verb, units)) = words.split_first() else {
        return Ok(call.unsupported());
    };
    if units.is_empty() || units.iter().any(|u| u.starts_with('-')) {
        return Ok(call.unsupported());
    }
    let mut out = Out::default();
    match verb {
        "is-active" => {
            // check_unit_generic(): exit 0 if at least one unit is active or reloading.
            let mut any_good = false;
            for u in units {
                let (_, key) = unit_names(u);
                let st = state.units.get(&key).map_or("inactive", String::as_str);
                any_good |= st == "active" || st == "reloading";
                if !quiet {
                    out.stdout.push_str(&format!("{st}\n"));
                }
            }
            out.code = if any_good { 0 } else { 3 };
        }
        "start" | "stop" => {
            let (new, missing) = if verb == "start" {
                ("active", "not found")
            } else {
                ("inactive", "not loaded")
            };
            for u in units {
                let (shown, key) = unit_names(u);
                match state.units.get_mut(&key) {
                    Some(st) => *st = new.to_string(),
                    None => {
                        let msg = format!("Failed to {verb} {shown}: Unit {shown} {missing}.");
                        out = out.err(&msg, 5);
                    }
                }
            }
            save(&path, &state)?;
        }
        _ => return Ok(call.unsupported()),
    }
    Ok(out)
}
