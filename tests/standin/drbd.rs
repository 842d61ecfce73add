//! `drbdadm` and `drbdsetup`: DRBD kernel state kept in drbd.json, status printed in
//! drbd-utils 9.22.0's exact formats, role and connection changes with drbdadm's errors and
//! exit codes. `drbdadm dump` & co. need no kernel module: the real drbdadm answers those.
//!
//! Output formats are copied from the real tools; sources (all in tests/fixtures/drbd/):
//! * `drbdsetup status --json`: drbd-utils 9.22.0 user/v9/drbdsetup.c lines 2595-2837 and
//!   3212-3270 (quoted in drbdsetup-status-json.format.md); layout checked against
//!   drbdsetup-status-resync.generated.json and drbdsetup-status-connecting.generated.json.
//! * `drbdadm status` / `drbdsetup status` text: the status-*.txt fixtures (see their
//!   .source files) and drbd-utils 9.22.0 resource_status()/device_status()/
//!   connection_status()/peer_device_status() and user/shared/wrap_printf.c.
//! * drbdadm/drbdsetup error texts and exit codes: errors.md (check_error(), role_cmd(),
//!   status_cmd(), drbdadm_main.c, shared_main.c "Command '...' terminated with exit code N").
//!
//! Never a tty in tests, so no colors; text status wraps at 80 columns like wrap_printf()
//! does when stdout is not a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::call::{Action, Call, Out};
use crate::mounts::is_mounted;
use crate::state::{load, save};

#[derive(Serialize, Deserialize, Default, Clone)]
pub struct DrbdState {
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// Two-node test beds: the other node's stand-in directory. Then each peer's connection,
    /// role and disk are read from that node's drbd.json (what the kernel would learn over the
    /// replication link); the peer entry here only says whether we want to be connected
    /// (`Connected`) or not (`StandAlone`…), and carries replication/`done` while resyncing.
    /// A `link-down` file in either directory is a cut link: peers become Connecting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_state_dir: Option<PathBuf>,
    /// The kernel module the stand-in plays: "8.4" prints what DRBD 8.4.11 with drbd-utils
    /// 9.22.0 prints (tests/fixtures/real/…); anything else (the default) DRBD 9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Percent of a sync done per status call. Unset, a sync moves only when a test says
    /// so (it edits `done`); set, a node with Inconsistent data connected to one with
    /// UpToDate data becomes its SyncTarget and gets there (see advance_sync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_step: Option<f64>,
}

impl DrbdState {
    pub fn is_84(&self) -> bool {
        self.version.as_deref() == Some("8.4")
    }
}

#[derive(Serialize, Deserialize, Clone)]
pub struct Resource {
    pub name: String,
    pub node_id: u32,
    pub role: String,
    pub up: bool,
    #[serde(default)]
    pub allow_two_primaries: bool,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    #[serde(default)]
    pub peers: Vec<Peer>,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct Volume {
    pub volume: u32,
    pub minor: u32,
    #[serde(default)]
    pub device: String,
    pub disk: String,
    #[serde(default)]
    pub size_kib: u64,
    /// The backing disk: meta-data lives there, read and written by the real drbdmeta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing: Option<String>,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct Peer {
    pub name: String,
    pub node_id: u32,
    pub connection: String,
    pub role: String,
    #[serde(default)]
    pub volumes: Vec<PeerVolume>,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct PeerVolume {
    pub volume: u32,
    pub replication: String,
    pub disk: String,
    #[serde(default)]
    pub done: Option<f64>,
}

// ---- DRBD state names ------------------------------------------------------------------------

/// The in_resync_without_details range of drbdsetup.c: SyncSource..PausedSyncT without
/// VerifyS/VerifyT. Only there is a `done` percentage shown.
pub fn is_sync_state(replication: &str) -> bool {
    matches!(
        replication,
        "SyncSource" | "SyncTarget" | "PausedSyncS" | "PausedSyncT"
    )
}

/// What the kernel reports for a peer: nothing is known about a peer that is not connected.
pub fn peer_view<'a>(peer: &'a Peer, pv: &'a PeerVolume) -> (&'a str, &'a str) {
    if peer.connection == "Connected" {
        (pv.replication.as_str(), pv.disk.as_str())
    } else {
        ("Off", "DUnknown")
    }
}

pub fn peer_role(peer: &Peer) -> &str {
    if peer.connection == "Connected" {
        &peer.role
    } else {
        "Unknown"
    }
}

/// Out-of-sync KiB derived from `done` (0 without a `done` value).
pub fn out_of_sync_kib(size_kib: u64, done: Option<f64>) -> u64 {
    done.map_or(0, |d| {
        (size_kib as f64 * (100.0 - d.clamp(0.0, 100.0)) / 100.0).round() as u64
    })
}

pub fn sorted_volumes(r: &Resource) -> Vec<&Volume> {
    let mut v: Vec<&Volume> = r.volumes.iter().collect();
    v.sort_by_key(|v| v.volume);
    v
}

/// sort_connections(): by connection name (strcmp order).
pub fn sorted_peers(r: &Resource) -> Vec<&Peer> {
    let mut p: Vec<&Peer> = r.peers.iter().collect();
    p.sort_by(|a, b| a.name.cmp(&b.name)); // byte order, like strcmp()
    p
}

pub fn sorted_peer_volumes(p: &Peer) -> Vec<&PeerVolume> {
    let mut v: Vec<&PeerVolume> = p.volumes.iter().collect();
    v.sort_by_key(|v| v.volume);
    v
}

// ---- drbdsetup status ----------------------------------------------------------------------

/// status_cmd(): `name` None means "all". Resources sorted by name like sort_resources().
pub fn status(state: &DrbdState, name: Option<&str>, json: bool) -> Out {
    if state.is_84() {
        return status_84(state, name, json);
    }
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
pub fn status_json(resources: &[&Resource]) -> String {
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
pub fn peer_device_json(peer: &Peer, pv: &PeerVolume, size_kib: u64) -> String {
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
pub struct Wrap {
    out: String,
    col: usize,
    columns: usize,
    tty: bool,
}

impl Wrap {
    pub fn new(tty: bool) -> Self {
        Wrap {
            out: String::new(),
            col: 0,
            columns: 80,
            tty,
        }
    }

    pub fn p(&mut self, indent: usize, text: &str) {
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
pub fn status_text(w: &mut Wrap, r: &Resource) {
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

pub fn peer_device_text(w: &mut Wrap, p: &Peer, pv: &PeerVolume, single: bool) {
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

/// DRBD 8.4's drbdsetup has no `--json`: it prints its usage and exits 20. Its status of a
/// resource that is not up is "No such resource" (exit 10); `drbdadm status` without a name
/// runs `drbdsetup-84 status RES` for each configured resource.
const STATUS_JSON_84: &str = include_str!(
    "../fixtures/real/6.1.0-56-amd64_drbd-utils-9.22.0/err.drbdsetup-status-json.nfs1.txt"
);

pub fn status_84(state: &DrbdState, name: Option<&str>, json: bool) -> Out {
    let mut out = Out::default();
    if json {
        out.stdout.push_str(STATUS_JSON_84);
        return out.err("status: unrecognized option '--json'", 20);
    }
    for r in state
        .resources
        .iter()
        .filter(|r| name.is_none_or(|n| n == r.name))
    {
        if !r.up {
            out = out.err(&format!("{}: No such resource", r.name), 10);
            out = out.err(
                &format!(
                    "Command 'drbdsetup-84 status {}' terminated with exit code 10",
                    r.name
                ),
                10,
            );
            continue;
        }
        out.stdout.push_str(&status_text_84(r));
    }
    out
}

/// 8.4 as drbd-utils 9.22.0 shows it (drbdadm-status.*.txt): the peer is `peer`, a connected
/// peer device always has its `replication:` word, WFConnection is `connection:Connecting`,
/// StandAlone has no peer line at all.
pub fn status_text_84(r: &Resource) -> String {
    let mut o = format!("{} role:{}\n", r.name, r.role);
    let v = r.volumes.first();
    o.push_str(&format!(
        "  disk:{}\n",
        v.map_or("Diskless", |v| v.disk.as_str())
    ));
    if let Some(p) = r.peers.first() {
        match p.connection.as_str() {
            "StandAlone" => {}
            "Connected" => {
                o.push_str(&format!("  peer role:{}\n", p.role));
                if let Some(pv) = p.volumes.first() {
                    o.push_str(&format!(
                        "    replication:{} peer-disk:{}",
                        pv.replication, pv.disk
                    ));
                    if let Some(d) = pv.done.filter(|_| is_sync_state(&pv.replication)) {
                        o.push_str(&format!(" done:{d:.2}"));
                    }
                    o.push('\n');
                }
            }
            _ => o.push_str("  peer connection:Connecting\n"),
        }
    }
    o.push('\n');
    o
}

// ---- the peer's side (two-node test beds) ---------------------------------------------------

/// The state as this node's kernel would report it: with `peer_state_dir`, each peer's
/// connection, role and disk come from the other node's state (see `DrbdState`).
pub fn effective(state: &DrbdState, dir: &Path) -> Result<DrbdState> {
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
                            // The peer receives our data: we are its SyncSource.
                            let theirs = t.peers.iter().flat_map(|tp| &tp.volumes).find(|tv| {
                                tv.volume == pv.volume && tv.replication == "SyncTarget"
                            });
                            if let Some(tv) = theirs {
                                pv.replication = "SyncSource".into();
                                pv.done = tv.done;
                            }
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

pub fn drbdsetup(call: &Call) -> Result<Out> {
    advance_sync(&call.dir)?;
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
/// `child` is the whole command line: `drbdsetup primary tools` (9), `drbdsetup-84 primary 4`
/// (8.4, where drbdsetup addresses a device by minor).
pub fn child_failed(out: Out, child: &str, code: i32) -> Out {
    out.err(
        &format!("Command '{child}' terminated with exit code {code}"),
        code,
    )
}

pub fn drbdadm(call: &Call) -> Result<Action> {
    // `-c FILE` names the configuration: only the real drbdadm reads it (dump & co.).
    let mut args: Vec<&str> = Vec::new();
    let mut it = call.args.iter().map(String::as_str);
    while let Some(a) = it.next() {
        if a == "-c" {
            it.next();
        } else if !a.starts_with("--config-file") {
            args.push(a);
        }
    }
    let path = call.dir.join("drbd.json");
    let mut state: DrbdState = load(&path)?;
    // 8.4's documented form puts options before the command: `drbdadm -- --clear-bitmap
    // new-current-uuid RES`.
    let mut clear_bitmap_first = false;
    if args.first() == Some(&"--") {
        args.remove(0);
        if args.first() == Some(&"--clear-bitmap") {
            args.remove(0);
            clear_bitmap_first = true;
        }
    }
    let Some(cmd) = args.first().copied() else {
        return Ok(Action::Done(call.unsupported()));
    };
    if cmd == "dump" || cmd == "dump-xml" || cmd.starts_with("sh-") {
        return Ok(Action::ExecReal);
    }
    if cmd == "--version" {
        return Ok(Action::Done(version(&state)));
    }
    if matches!(cmd, "create-md" | "get-gi" | "dump-md" | "new-current-uuid") {
        return Ok(Action::Done(metadata_cmd(
            call,
            &mut state,
            &args,
            clear_bitmap_first,
        )?));
    }
    // `drbdadm primary --force RES` (passed on to `drbdsetup primary RES --force`).
    let force = cmd == "primary" && args[1..].contains(&"--force");
    let names: Vec<&str> = args[1..]
        .iter()
        .copied()
        .filter(|a| !(force && *a == "--force"))
        .collect();
    let known = ["status", "role", "primary", "secondary", "up", "down"].contains(&cmd);
    if !known || names.iter().any(|n| n.starts_with('-')) || (names.is_empty() && cmd != "status") {
        return Ok(Action::Done(call.unsupported()));
    }
    if cmd == "status" {
        advance_sync(&call.dir)?;
        state = load(&path)?;
    }
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
        let minor = state.resources[i].volumes.first().map_or(0, |v| v.minor);
        // 8.4's drbdsetup takes a minor for device commands, the name for resource ones.
        let (child, prefix) = if state.is_84() && cmd != "down" {
            (format!("drbdsetup-84 {cmd} {minor}"), minor.to_string())
        } else if state.is_84() {
            (format!("drbdsetup-84 {cmd} {name}"), name.to_string())
        } else {
            (format!("drbdsetup {cmd} {name}"), name.to_string())
        };
        if cmd == "status" {
            // Includes the "# No currently configured DRBD found." line when nothing is up.
            let s = status(&eff, Some(name), false);
            out.stdout.push_str(&s.stdout);
            out.stderr.push_str(&s.stderr);
            out.code = out.code.max(s.code);
            if s.code != 0 && !state.is_84() {
                out = child_failed(out, &child, s.code);
            }
            continue;
        }
        // Decided on what the kernel sees (the peer's real role), stored in our own file.
        let mut seen = eff.resources[i].clone();
        if cmd == "up"
            && let Some(text) = no_metadata(&state, &seen)?
        {
            out = child_failed(out.err(&text, 10), &attach_line(&state, &seen), 10);
            continue;
        }
        match drbdsetup_change(cmd, &mut seen, &mut out.stdout, force, state.is_84()) {
            Ok(c) => {
                changed |= c;
                state.resources[i].role = seen.role;
                state.resources[i].up = seen.up;
                state.resources[i].volumes = seen.volumes;
            }
            Err((text, code)) => {
                out = child_failed(out.err(&format!("{prefix}: {text}"), code), &child, code)
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
pub fn drbdsetup_change(
    cmd: &str,
    r: &mut Resource,
    stdout: &mut String,
    force: bool,
    v84: bool,
) -> Result<bool, (String, i32)> {
    let fail = |text: &str, code: i32| Err((text.to_string(), code));
    // 8.4: a minor that is not up is not allocated; a refused demotion says why.
    let not_up = if v84 {
        "Failure: (127) Device minor not allocated\nadditional info from kernel:\nunknown minor"
    } else {
        "Failure: (158) Unknown resource"
    };
    let held_open = "State change failed: (-12) Device is held open by someone";
    let connected = |p: &&Peer| p.connection == "Connected";
    match cmd {
        "role" if !r.up && v84 => fail(not_up, 10),
        "role" if !r.up => fail("Unknown resource", 10),
        "primary" | "secondary" if !r.up => fail(not_up, 10),
        // 8.4 says both roles, this node's first.
        "role" if v84 => {
            let peer = r.peers.first().map_or("Unknown", peer_role);
            stdout.push_str(&format!("{}/{peer}\n", r.role));
            Ok(false)
        }
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
                if force {
                    // The forced Primary's data is the data (8.4: overwrite-data-of-peer).
                    for v in r.volumes.iter_mut().filter(|v| v.disk != "Diskless") {
                        v.disk = "UpToDate".into();
                    }
                }
                Ok(true)
            }
        }
        // Already Secondary is SS_NOTHING_TO_DO for the kernel: success, no open check.
        "secondary" if r.role == "Secondary" => Ok(false),
        "down" if v84 && r.up && r.volumes.iter().any(|v| is_mounted(&v.device)) => fail(
            &format!("{held_open}\nadditional info from kernel:\nfailed to demote"),
            11,
        ),
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

// ---- meta-data and the initial sync -----------------------------------------------------

/// `drbdadm --version`: which kernel module is "loaded".
fn version(state: &DrbdState) -> Out {
    let (code, v) = if state.is_84() {
        ("0x08040b", "8.4.11")
    } else {
        ("0x090200", "9.2.0")
    };
    Out {
        stdout: format!(
            "DRBDADM_BUILDTAG=GIT-hash:\\ 409097fe02187f83790b88ac3e0d94f3c167adab\\ reproducible\\ build\\,\\ 2023-01-09\\ 14:51:18\nDRBDADM_API_VERSION=2\nDRBD_KERNEL_VERSION_CODE={code}\nDRBD_KERNEL_VERSION={v}\nDRBDADM_VERSION_CODE=0x091600\nDRBDADM_VERSION=9.22.0\n"
        ),
        ..Out::default()
    }
}

/// The real drbdmeta on the backing disk, with the argv drbdadm gives it: `MINOR v08 DISK
/// internal CMD` on 8.4, `MINOR v09 DISK internal CMD MAX-PEERS` / `--node-id=N get-gi` on 9.
fn drbdmeta(
    state: &DrbdState,
    r: &Resource,
    v: &Volume,
    backing: &str,
    cmd: &str,
    force: bool,
) -> Result<Out> {
    let minor = v.minor.to_string();
    let mut argv: Vec<String> = Vec::new();
    if force {
        argv.push("--force".into());
    }
    argv.extend([
        minor,
        if state.is_84() { "v08" } else { "v09" }.into(),
        backing.into(),
        "internal".into(),
    ]);
    if !state.is_84() && cmd == "get-gi" {
        argv.push(format!(
            "--node-id={}",
            r.peers.first().map_or(1, |p| p.node_id)
        ));
    }
    argv.push(cmd.into());
    if !state.is_84() && cmd == "create-md" {
        argv.push(r.peers.len().max(1).to_string());
    }
    // drbdmeta locks /var/lock/drbd-147-MINOR; a test bed's private /run may lack /run/lock,
    // which systemd-tmpfiles makes on a real host.
    let lock_dir = std::fs::read_link("/var/lock")
        .map(|t| Path::new("/var").join(t))
        .unwrap_or_else(|_| PathBuf::from("/var/lock"));
    std::fs::create_dir_all(&lock_dir)?;
    // drbdmeta asks drbdsetup whether the minor is in use: the real one (no module here), not
    // this stand-in, which would wait for the lock this call holds.
    let o = std::process::Command::new("drbdmeta")
        .args(&argv)
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .stdin(std::process::Stdio::null())
        .output()?;
    let mut out = Out {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(128),
    };
    let code = out.code;
    if code != 0 && cmd != "get-gi" {
        // drbdadm reports its failing child like this (shared_main.c).
        out = out.err(
            &format!(
                "Command 'drbdmeta {}' terminated with exit code {code}",
                argv.join(" ")
            ),
            code,
        );
    }
    Ok(out)
}

fn backing_of(r: &Resource) -> Option<(&Volume, String)> {
    let v = r.volumes.first()?;
    Some((v, v.backing.clone()?))
}

/// create-md, get-gi, dump-md (the real drbdmeta on the backing disk) and new-current-uuid.
fn metadata_cmd(
    call: &Call,
    state: &mut DrbdState,
    args: &[&str],
    clear_bitmap_first: bool,
) -> Result<Out> {
    let cmd = args[0];
    let force = args[1..].contains(&"--force");
    let clear_bitmap = clear_bitmap_first || args[1..].contains(&"--clear-bitmap");
    let names: Vec<&str> = args[1..]
        .iter()
        .copied()
        .filter(|a| !a.starts_with('-'))
        .collect();
    let [name] = names.as_slice() else {
        return Ok(call.unsupported());
    };
    let Some(i) = state.resources.iter().position(|r| r.name == *name) else {
        return Ok(Out::default().err(
            &format!("'{name}' not defined in your config (for this host)."),
            1,
        ));
    };
    let r = state.resources[i].clone();
    if cmd == "new-current-uuid" {
        // Each version's documented form only: 8.4 `-- --clear-bitmap new-current-uuid`,
        // 9 `new-current-uuid --clear-bitmap`.
        if !clear_bitmap || clear_bitmap_first != state.is_84() {
            return Ok(call.unsupported());
        }
        return new_current_uuid(call, state, i);
    }
    let Some((v, backing)) = backing_of(&r) else {
        return Ok(call.unsupported());
    };
    if cmd == "create-md" && r.up {
        return Ok(Out::default().err(&format!("Device '{}' is configured!", v.minor), 20));
    }
    let out = drbdmeta(state, &r, v, &backing, cmd, force)?;
    if cmd == "create-md" && out.code == 0 {
        // Fresh meta-data: Inconsistent, nothing in sync with anyone.
        for v in state.resources[i].volumes.iter_mut() {
            v.disk = "Inconsistent".into();
        }
        save(&call.dir.join("drbd.json"), state)?;
    }
    Ok(out)
}

/// `new-current-uuid --clear-bitmap` on two Connected Secondaries with fresh meta-data: both
/// become UpToDate without a sync (the peer learns the new UUID over the link).
fn new_current_uuid(call: &Call, state: &mut DrbdState, i: usize) -> Result<Out> {
    let eff = effective(state, &call.dir)?;
    let r = &eff.resources[i];
    let minor = r.volumes.first().map_or(0, |v| v.minor);
    let child = format!(
        "{} new-current-uuid {minor} --clear-bitmap",
        setup_tool(state)
    );
    if !r.up {
        // 8.4 as recorded (err.new-current-uuid-not-up.nfs1); 9 not recorded.
        let text = if state.is_84() {
            format!(
                "{minor}: Failure: (127) Device minor not allocated\nadditional info from kernel:\nunknown minor"
            )
        } else {
            format!("{minor}: Failure: (127) Device minor not allocated")
        };
        return Ok(child_failed(Out::default().err(&text, 10), &child, 10));
    }
    // Waiting for a peer that is configured: 8.4 wants it Connected or given up on
    // (err.new-current-uuid-wfconnection.nfs1).
    if state.is_84()
        && r.peers
            .iter()
            .any(|p| p.connection != "Connected" && p.connection != "StandAlone")
    {
        return Ok(child_failed(
            Out::default().err(
                &format!("{minor}: Failure: (151) Need to be StandAlone"),
                10,
            ),
            &child,
            10,
        ));
    }
    let connected = r.peers.iter().all(|p| p.connection == "Connected");
    if !connected || r.role != "Secondary" {
        return Ok(child_failed(
            Out::default().err(
                &format!("{minor}: State change failed: (-2) Need access to UpToDate data"),
                17,
            ),
            &child,
            17,
        ));
    }
    for v in state.resources[i].volumes.iter_mut() {
        v.disk = "UpToDate".into();
    }
    // The peer learns the new UUID over the link: its disk is UpToDate too, as seen from here.
    for p in state.resources[i].peers.iter_mut() {
        for v in p.volumes.iter_mut() {
            v.disk = "UpToDate".into();
        }
    }
    save(&call.dir.join("drbd.json"), state)?;
    if let Some(pdir) = &state.peer_state_dir {
        let ppath = pdir.join("drbd.json");
        let mut other: DrbdState = load(&ppath)?;
        let name = state.resources[i].name.clone();
        if let Some(o) = other.resources.iter_mut().find(|o| o.name == name) {
            for v in o.volumes.iter_mut() {
                v.disk = "UpToDate".into();
            }
        }
        save(&ppath, &other)?;
    }
    Ok(Out::default())
}

/// `drbdadm up` attaches the backing disk: without valid meta-data the kernel refuses.
fn no_metadata(state: &DrbdState, r: &Resource) -> Result<Option<String>> {
    let Some((v, backing)) = backing_of(r) else {
        return Ok(None);
    };
    if r.up {
        return Ok(None);
    }
    let gi = drbdmeta(state, r, v, &backing, "get-gi", false)?;
    Ok((gi.code != 0).then(|| {
        format!(
            "{}: Failure: (119) No valid meta-data signature found.\n\n\t==> Use 'drbdadm create-md res' to initialize meta-data area. <==\n",
            v.minor
        )
    }))
}

fn setup_tool(state: &DrbdState) -> &'static str {
    if state.is_84() {
        "drbdsetup-84"
    } else {
        "drbdsetup"
    }
}

fn attach_line(state: &DrbdState, r: &Resource) -> String {
    let (v, backing) = backing_of(r).expect("checked by no_metadata");
    let tool = if state.is_84() {
        "drbdsetup-84"
    } else {
        "drbdsetup"
    };
    format!("{tool} attach {} {backing} {backing} internal", v.minor)
}

/// An initial sync in progress moves on with every status call: a node with Inconsistent data
/// Connected to a peer with UpToDate data is its SyncTarget until it is UpToDate.
pub fn advance_sync(dir: &Path) -> Result<()> {
    let path = dir.join("drbd.json");
    let mut state: DrbdState = load(&path)?;
    let eff = effective(&state, dir)?;
    let Some(step) = state.sync_step else {
        return Ok(());
    };
    let mut changed = false;
    for (r, e) in state.resources.iter_mut().zip(&eff.resources) {
        if !r.up {
            continue;
        }
        for (p, ep) in r.peers.iter_mut().zip(&e.peers) {
            for pv in p.volumes.iter_mut() {
                let Some(v) = r.volumes.iter_mut().find(|v| v.volume == pv.volume) else {
                    continue;
                };
                let peer_disk = ep
                    .volumes
                    .iter()
                    .find(|x| x.volume == pv.volume)
                    .map(|x| x.disk.as_str());
                let source = ep.connection == "Connected" && peer_disk == Some("UpToDate");
                if v.disk == "Inconsistent" && source {
                    let done = pv.done.map_or(0.0, |d| d + step);
                    if done >= 100.0 {
                        v.disk = "UpToDate".into();
                        pv.replication = "Established".into();
                        pv.done = None;
                    } else {
                        pv.replication = "SyncTarget".into();
                        pv.done = Some(done);
                    }
                    changed = true;
                } else if pv.replication == "SyncTarget" && ep.connection != "Connected" {
                    // Cut off mid-sync: resumes when connected again.
                    pv.replication = "Established".into();
                    changed = true;
                }
            }
        }
    }
    if changed {
        save(&path, &state)?;
    }
    Ok(())
}
