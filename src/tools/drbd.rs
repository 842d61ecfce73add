//! DRBD: argv for drbdadm/drbdsetup, and three parsers into one model:
//! `drbdsetup status --json` (DRBD 9, what the facts use), `drbdadm status` text (DRBD 9,
//! including `--verbose --statistics` continuation lines), and `/proc/drbd` (DRBD 8.4,
//! including the `[==>...] sync'ed:` progress lines that confused the old checks).
//! State words are DRBD's own (Primary, UpToDate, Connected, SyncTarget…).

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::process::Cmd;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    pub name: String,
    pub role: String,
    pub devices: Vec<Device>,
    pub connections: Vec<Connection>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    pub volume: u32,
    pub minor: Option<u32>,
    pub disk: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connection {
    pub name: String,
    pub connection: String,
    pub peer_role: String,
    pub peer_devices: Vec<PeerDevice>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerDevice {
    pub volume: u32,
    pub replication: String,
    pub peer_disk: String,
    /// Resync progress (`done:` / `percent-resync-done` / 8.4 `sync'ed:`), only while syncing.
    pub done: Option<f64>,
    /// Data that differs from the peer, in KiB (`out-of-sync` of `drbdsetup status --json`);
    /// None where the probe's format does not carry it.
    pub out_of_sync_kib: Option<u64>,
}

impl Resource {
    pub fn device(&self, volume: u32) -> Option<&Device> {
        self.devices.iter().find(|d| d.volume == volume)
    }

    pub fn any_peer_primary(&self) -> Option<&Connection> {
        self.connections.iter().find(|c| c.peer_role == "Primary")
    }
}

pub const SYNC_STATES: &[&str] = &[
    "SyncSource",
    "SyncTarget",
    "PausedSyncS",
    "PausedSyncT",
    "StartingSyncS",
    "StartingSyncT",
    "WFBitMapS",
    "WFBitMapT",
    "WFSyncUUID",
];

pub fn is_syncing(replication: &str) -> bool {
    SYNC_STATES.contains(&replication)
}

// ---- argv -------------------------------------------------------------------------------

pub fn status_json_cmd() -> Cmd {
    Cmd::probe(["drbdsetup", "status", "--json"])
}

/// `drbdadm [-c CONF] ARGS…`: `conf` is the config's `drbd_config` (None: drbdadm's default).
fn drbdadm(conf: Option<&Path>, args: &[&str]) -> Vec<String> {
    let mut argv = vec!["drbdadm".to_string()];
    if let Some(c) = conf {
        argv.extend(["-c".to_string(), c.display().to_string()]);
    }
    argv.extend(args.iter().map(|a| a.to_string()));
    argv
}

pub fn primary_cmd(conf: Option<&Path>, resource: &str) -> Cmd {
    Cmd::change(drbdadm(conf, &["primary", resource]))
}

/// Only for `failover --peer-dead`, after the evidence that the peer is gone.
pub fn primary_force_cmd(conf: Option<&Path>, resource: &str) -> Cmd {
    Cmd::change(drbdadm(conf, &["primary", "--force", resource]))
}

pub fn secondary_cmd(conf: Option<&Path>, resource: &str) -> Cmd {
    Cmd::change(drbdadm(conf, &["secondary", resource]))
}

pub fn up_cmd(conf: Option<&Path>, resource: &str) -> Cmd {
    Cmd::change(drbdadm(conf, &["up", resource]))
}

/// Which DRBD the kernel runs: argv and outputs differ between 8.4 and 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    #[serde(rename = "8.4")]
    V84,
    #[serde(rename = "9")]
    V9,
}

/// `drbdadm --version`: `DRBD_KERNEL_VERSION_CODE=0x08040b` names the loaded module (0 when
/// none is loaded, then drbdadm itself assumes 9).
pub fn version_cmd() -> Cmd {
    Cmd::probe(["drbdadm", "--version"])
}

/// The kernel's DRBD from /proc/drbd's first line (`version: 8.4.11 …`) or, without one, from
/// `drbdadm --version`. A module that is not loaded is taken as 9, as drbdadm does.
pub fn parse_version(proc_drbd: Option<&str>, drbdadm_version: &str) -> Version {
    if let Some(first) = proc_drbd.and_then(|t| t.lines().next())
        && let Some(v) = first.strip_prefix("version: ")
    {
        return if v.starts_with("8.") {
            Version::V84
        } else {
            Version::V9
        };
    }
    let code = drbdadm_version
        .lines()
        .find_map(|l| l.strip_prefix("DRBD_KERNEL_VERSION_CODE=0x"))
        .and_then(|h| u32::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(0);
    if code >> 16 == 8 {
        Version::V84
    } else {
        Version::V9
    }
}

/// `drbdadm create-md RES`: drbdadm derives the meta-data format (v08 on 8.4, v09 with
/// max-peers from the number of hosts on 9) from the kernel and the config. On a blank disk
/// drbdmeta asks nothing; where it finds meta-data or a filesystem it asks, and with stdin not
/// a terminal (the runner's is /dev/null) it cancels: only `--force` overwrites.
pub fn create_md_cmd(conf: Option<&Path>, resource: &str, force: bool) -> Cmd {
    let mut args = vec!["create-md"];
    if force {
        args.push("--force");
    }
    args.push(resource);
    Cmd::change(drbdadm(conf, &args))
}

/// `drbdadm get-gi RES`: the generation identifiers of the meta-data, exit 0 only where valid
/// meta-data exists (drbdmeta reads the disk when the resource is not up).
pub fn get_gi_cmd(conf: Option<&Path>, resource: &str) -> Cmd {
    Cmd::probe(drbdadm(conf, &["get-gi", resource]))
}

/// Both nodes blank, Connected, Secondary and Inconsistent: declare them in sync without
/// copying a block. 8.4's drbdadm takes the option before the command (`drbdadm --
/// --clear-bitmap new-current-uuid RES`, the 8.4 user's guide form); 9's after it.
pub fn new_current_uuid_cmd(conf: Option<&Path>, resource: &str, version: Version) -> Cmd {
    let args: &[&str] = match version {
        Version::V84 => &["--", "--clear-bitmap", "new-current-uuid", resource],
        Version::V9 => &["new-current-uuid", "--clear-bitmap", resource],
    };
    Cmd::change(drbdadm(conf, args))
}

/// The first leg alone: its Inconsistent data becomes UpToDate (8.4: overwrite-data-of-peer).
pub fn primary_first_cmd(conf: Option<&Path>, resource: &str) -> Cmd {
    primary_force_cmd(conf, resource)
}

/// Generation identifiers from `drbdadm get-gi` / `drbdmeta … get-gi`:
/// `CURRENT:BITMAP:HISTORY1:HISTORY2:flags…`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gi {
    pub current: String,
    /// The flags after the four UUIDs; the first is "data consistent".
    pub flags: Vec<u8>,
}

impl Gi {
    /// UUID 4 (UUID_JUST_CREATED): create-md wrote it and nothing has used the data since.
    pub fn just_created(&self) -> bool {
        u64::from_str_radix(&self.current, 16).is_ok_and(|u| u == 4)
    }

    pub fn consistent(&self) -> bool {
        self.flags.first() == Some(&1)
    }

    pub fn describe(&self) -> String {
        format!(
            "current UUID {}{}, data {}",
            self.current,
            if self.just_created() {
                " (just created)"
            } else {
                ""
            },
            if self.consistent() {
                "consistent"
            } else {
                "inconsistent"
            }
        )
    }
}

pub fn parse_gi(text: &str) -> Option<Gi> {
    let line = text.lines().find(|l| l.matches(':').count() >= 4)?;
    let parts: Vec<&str> = line.trim().split(':').collect();
    if parts.len() < 5
        || !parts[..4]
            .iter()
            .all(|p| p.len() == 16 && p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return None;
    }
    Some(Gi {
        current: parts[0].to_string(),
        flags: parts[4..].iter().filter_map(|f| f.parse().ok()).collect(),
    })
}

/// The configuration as drbdadm understands it (works without the kernel module).
pub fn dump_cmd(conf: Option<&Path>) -> Cmd {
    Cmd::probe(drbdadm(conf, &["dump", "all"]))
}

/// `drbdadm status` (all resources), e.g. on the old node of a failover.
pub fn status_cmd(conf: Option<&Path>) -> Cmd {
    Cmd::probe(drbdadm(conf, &["status"]))
}

/// Resource names from `drbdadm dump` (see [`parse_dump`]); unparsable text gives none.
pub fn parse_dump_resources(text: &str) -> Vec<String> {
    parse_dump(text)
        .map(|r| r.into_iter().map(|r| r.name).collect())
        .unwrap_or_default()
}

/// One resource as `drbdadm dump` prints it: what a volume of the config must agree with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DumpResource {
    pub name: String,
    /// Where it is defined (`# defined at FILE:LINE` above it), when drbdadm says.
    pub defined_at: Option<String>,
    /// The devices of its volumes, resource-wide or per host (`device /dev/drbd4 minor 4;`,
    /// `device minor 7;` meaning /dev/drbd7), each once.
    pub devices: Vec<String>,
    /// The host names of its `on NAME { … }` sections.
    pub hosts: Vec<String>,
    /// Per host: its backing disk and meta-disk (`disk /dev/vda;`, `meta-disk internal;`),
    /// given in its `on` section or resource-wide.
    pub disks: Vec<HostDisk>,
    /// Hosts given by address (`floating` sections) rather than by name.
    pub floating: bool,
    /// `allow-two-primaries yes` in a `net` section of the resource (or of `common`).
    pub allow_two_primaries: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostDisk {
    pub host: String,
    pub disk: Option<String>,
    pub meta_disk: Option<String>,
}

impl DumpResource {
    pub fn disk_of(&self, host: &str) -> Option<&HostDisk> {
        self.disks.iter().find(|d| d.host == host)
    }
}

/// `disk X;` and `meta-disk Y;` among a section's statements.
fn disk_stmts(nodes: &[Node]) -> (Option<String>, Option<String>) {
    let (mut disk, mut meta) = (None, None);
    for n in nodes {
        if let Node::Stmt(w) = n {
            match (w.first().map(String::as_str), w.get(1)) {
                (Some("disk"), Some(d)) => disk = Some(d.clone()),
                (Some("meta-disk"), Some(_)) => meta = Some(w[1..].join(" ")),
                _ => {}
            }
        }
    }
    (disk, meta)
}

#[derive(Debug)]
enum Node {
    Stmt(Vec<String>),
    Section(Vec<String>, Vec<Node>),
}

/// drbd.conf's tokens: words, quoted strings, `{`, `}`, `;`; `#` starts a comment.
fn dump_tokens(text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '#' => {
                for c in it.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '{' | '}' | ';' => out.push(c.to_string()),
            '"' => {
                let mut w = String::new();
                loop {
                    match it.next() {
                        None => bail!("a quoted string is not closed"),
                        Some('"') => break,
                        Some('\\') => w.extend(it.next()),
                        Some(c) => w.push(c),
                    }
                }
                // Quoted words are marked so that a quoted "{" is not a brace.
                out.push(format!("\u{0}{w}"));
            }
            c if c.is_whitespace() => {}
            c => {
                let mut w = c.to_string();
                while let Some(&n) = it.peek() {
                    if n.is_whitespace() || "{};\"#".contains(n) {
                        break;
                    }
                    w.push(n);
                    it.next();
                }
                out.push(w);
            }
        }
    }
    Ok(out)
}

fn dump_block(tokens: &[String], i: &mut usize, depth: usize) -> Result<Vec<Node>> {
    if depth > 16 {
        bail!("sections nested more than 16 deep");
    }
    let mut nodes = Vec::new();
    let mut words: Vec<String> = Vec::new();
    while *i < tokens.len() {
        let t = &tokens[*i];
        *i += 1;
        match t.as_str() {
            ";" => nodes.push(Node::Stmt(std::mem::take(&mut words))),
            "{" => {
                let body = dump_block(tokens, i, depth + 1)?;
                if tokens.get(*i - 1).map(String::as_str) != Some("}") {
                    bail!("a section `{}` is not closed", words.join(" "));
                }
                nodes.push(Node::Section(std::mem::take(&mut words), body));
            }
            "}" => {
                if depth == 0 {
                    bail!("a `}}` closes no section");
                }
                if !words.is_empty() {
                    bail!("`{}` is not ended by ';'", words.join(" "));
                }
                return Ok(nodes);
            }
            w => words.push(w.strip_prefix('\u{0}').unwrap_or(w).to_string()),
        }
    }
    if depth > 0 {
        bail!("the text ends inside a section");
    }
    if !words.is_empty() {
        bail!("`{}` is not ended by ';'", words.join(" "));
    }
    Ok(nodes)
}

fn two_primaries(nodes: &[Node]) -> Option<bool> {
    let mut found = None;
    for n in nodes {
        if let Node::Stmt(w) = n
            && w.first().is_some_and(|k| k == "allow-two-primaries")
        {
            found = Some(matches!(
                w.get(1).map(String::as_str),
                Some("yes" | "true" | "on")
            ));
        }
    }
    found
}

fn walk_resource(nodes: &[Node], r: &mut DumpResource, two: &mut Option<bool>) {
    for n in nodes {
        match n {
            Node::Stmt(w) if w.first().is_some_and(|k| k == "device") => {
                let dev = match w.get(1).map(String::as_str) {
                    Some("minor") => w.get(2).map(|m| format!("/dev/drbd{m}")),
                    Some(path) => Some(path.to_string()),
                    None => None,
                };
                if let Some(d) = dev
                    && !r.devices.contains(&d)
                {
                    r.devices.push(d);
                }
            }
            Node::Stmt(_) => {}
            Node::Section(head, body) => {
                match head.first().map(String::as_str) {
                    Some("on") => {
                        for h in &head[1..] {
                            if !r.hosts.contains(h) {
                                r.hosts.push(h.clone());
                            }
                        }
                    }
                    Some("floating") => r.floating = true,
                    Some("net") => {
                        if let Some(v) = two_primaries(body) {
                            *two = Some(two.unwrap_or(false) || v);
                        }
                    }
                    _ => {}
                }
                walk_resource(body, r, two);
            }
        }
    }
}

/// The resources of `drbdadm dump` (the configuration as drbdadm reads it; it needs no kernel
/// module): names, devices, `on` hosts and allow-two-primaries (a `net` option of the
/// resource, else of `common`).
pub fn parse_dump(text: &str) -> Result<Vec<DumpResource>> {
    let tokens = dump_tokens(text).context("`drbdadm dump` printed something it never prints")?;
    let mut i = 0;
    let nodes = dump_block(&tokens, &mut i, 0)
        .context("`drbdadm dump` printed something it never prints")?;
    // drbdadm writes `# defined at FILE:LINE` right above each resource.
    let mut defined: Vec<(String, String)> = Vec::new();
    let mut last = None;
    for line in text.lines() {
        let l = line.trim();
        if let Some(at) = l.strip_prefix("# defined at ") {
            last = Some(at.trim().to_string());
        } else if let Some(rest) = l.strip_prefix("resource ") {
            if let (Some(at), Some(name)) = (last.take(), rest.split_whitespace().next()) {
                defined.push((name.trim_matches('"').to_string(), at));
            }
        } else if !l.is_empty() && !l.starts_with('#') {
            last = None;
        }
    }
    let mut common_two = None;
    for n in &nodes {
        if let Node::Section(head, body) = n
            && head.first().is_some_and(|h| h == "common")
        {
            for b in body {
                if let Node::Section(h, nb) = b
                    && h.first().is_some_and(|h| h == "net")
                {
                    common_two = two_primaries(nb).or(common_two);
                }
            }
        }
    }
    let mut out = Vec::new();
    for n in &nodes {
        let Node::Section(head, body) = n else {
            continue;
        };
        if head.first().is_none_or(|h| h != "resource") {
            continue;
        }
        let Some(name) = head.get(1).filter(|n| !n.is_empty()) else {
            bail!("`drbdadm dump` printed a resource without a name");
        };
        let mut r = DumpResource {
            name: name.clone(),
            // In order: the first unused `# defined at` of that name.
            defined_at: defined
                .iter()
                .position(|(n, _)| n == name)
                .map(|i| defined.remove(i).1),
            ..DumpResource::default()
        };
        let mut two = None;
        walk_resource(body, &mut r, &mut two);
        // Resource-wide disk/meta-disk (also inside a `volume 0 { }`), overridden per host.
        let (mut wide_disk, mut wide_meta) = disk_stmts(body);
        for b in body {
            if let Node::Section(h, vb) = b
                && h.first().is_some_and(|h| h == "volume")
            {
                let (d, m) = disk_stmts(vb);
                wide_disk = wide_disk.or(d);
                wide_meta = wide_meta.or(m);
            }
        }
        for b in body {
            if let Node::Section(h, hb) = b
                && h.first().is_some_and(|h| h == "on")
            {
                let (mut d, mut m) = disk_stmts(hb);
                for v in hb {
                    if let Node::Section(vh, vb) = v
                        && vh.first().is_some_and(|h| h == "volume")
                    {
                        let (vd, vm) = disk_stmts(vb);
                        d = d.or(vd);
                        m = m.or(vm);
                    }
                }
                for host in &h[1..] {
                    r.disks.push(HostDisk {
                        host: host.clone(),
                        disk: d.clone().or(wide_disk.clone()),
                        meta_disk: m.clone().or(wide_meta.clone()),
                    });
                }
            }
        }
        r.allow_two_primaries = two.or(common_two).unwrap_or(false);
        out.push(r);
    }
    Ok(out)
}

// ---- drbdsetup status --json ------------------------------------------------------------

#[derive(Deserialize)]
struct JRes {
    name: String,
    role: String,
    #[serde(default)]
    devices: Vec<JDev>,
    #[serde(default)]
    connections: Vec<JConn>,
}

#[derive(Deserialize)]
struct JDev {
    volume: u32,
    minor: Option<u32>,
    #[serde(rename = "disk-state")]
    disk_state: String,
}

#[derive(Deserialize)]
struct JConn {
    name: String,
    #[serde(rename = "connection-state")]
    connection_state: String,
    #[serde(rename = "peer-role")]
    peer_role: String,
    #[serde(default)]
    peer_devices: Vec<JPeerDev>,
}

#[derive(Deserialize)]
struct JPeerDev {
    volume: u32,
    #[serde(rename = "replication-state")]
    replication_state: String,
    #[serde(rename = "peer-disk-state")]
    peer_disk_state: String,
    #[serde(rename = "percent-resync-done")]
    percent_resync_done: Option<f64>,
    #[serde(rename = "out-of-sync", default)]
    out_of_sync: Option<u64>,
}

pub fn parse_status_json(text: &str) -> Result<Vec<Resource>> {
    let res: Vec<JRes> = serde_json::from_str(text)
        .context("`drbdsetup status --json` printed something that is not its JSON")?;
    Ok(res
        .into_iter()
        .map(|r| Resource {
            name: r.name,
            role: r.role,
            devices: r
                .devices
                .into_iter()
                .map(|d| Device {
                    volume: d.volume,
                    minor: d.minor,
                    disk: d.disk_state,
                })
                .collect(),
            connections: r
                .connections
                .into_iter()
                .map(|c| Connection {
                    name: c.name,
                    connection: c.connection_state,
                    peer_role: c.peer_role,
                    peer_devices: c
                        .peer_devices
                        .into_iter()
                        .map(|p| PeerDevice {
                            volume: p.volume,
                            out_of_sync_kib: p.out_of_sync,
                            done: p
                                .percent_resync_done
                                .filter(|_| is_syncing(&p.replication_state)),
                            replication: p.replication_state,
                            peer_disk: p.peer_disk_state,
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect())
}

// ---- drbdadm status (text) ----------------------------------------------------------------

fn pairs(s: &str) -> impl Iterator<Item = (&str, &str)> {
    s.split_whitespace().filter_map(|t| t.split_once(':'))
}

fn get<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    pairs(s).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// `drbdadm status` / `drbdsetup status` text. Omitted words mean their defaults: no
/// `connection:` means Connected, no `replication:` means Established (or Off when not
/// connected), no `volume:` means volume 0. Deeper-indented lines (`--verbose --statistics`)
/// continue the object above them and are not new devices.
pub fn parse_status_text(text: &str) -> Result<Vec<Resource>> {
    let mut out: Vec<Resource> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        let bad = || anyhow::anyhow!("drbdadm status line {}: unexpected {line:?}", n + 1);
        match indent {
            0 => {
                let name = body.split_whitespace().next().ok_or_else(bad)?;
                let role = get(body, "role").unwrap_or("Unknown");
                out.push(Resource {
                    name: name.into(),
                    role: role.into(),
                    devices: vec![],
                    connections: vec![],
                });
            }
            2 => {
                let res = out.last_mut().ok_or_else(bad)?;
                let first = body.split_whitespace().next().unwrap_or("");
                if first.contains(':') {
                    let volume = get(body, "volume")
                        .map(str::parse)
                        .transpose()
                        .map_err(|_| bad())?
                        .unwrap_or(0);
                    let minor = get(body, "minor").and_then(|m| m.parse().ok());
                    let disk = get(body, "disk").ok_or_else(bad)?;
                    res.devices.push(Device {
                        volume,
                        minor,
                        disk: disk.into(),
                    });
                } else {
                    let connection = get(body, "connection").unwrap_or("Connected");
                    let peer_role = get(body, "role").unwrap_or("Unknown");
                    res.connections.push(Connection {
                        name: first.into(),
                        connection: connection.into(),
                        peer_role: peer_role.into(),
                        peer_devices: vec![],
                    });
                }
            }
            4 => {
                let res = out.last_mut().ok_or_else(bad)?;
                // Before any connection, a 4-space line continues the resource (write-ordering).
                let Some(conn) = res.connections.last_mut() else {
                    continue;
                };
                let volume = get(body, "volume")
                    .map(str::parse)
                    .transpose()
                    .map_err(|_| bad())?
                    .unwrap_or(0);
                let default_repl = if conn.connection == "Connected" {
                    "Established"
                } else {
                    "Off"
                };
                let replication = get(body, "replication").unwrap_or(default_repl);
                let peer_disk = get(body, "peer-disk").unwrap_or("DUnknown");
                let done = get(body, "done")
                    .map(str::parse::<f64>)
                    .transpose()
                    .map_err(|_| bad())?;
                conn.peer_devices.push(PeerDevice {
                    volume,
                    replication: replication.into(),
                    peer_disk: peer_disk.into(),
                    done: done.filter(|_| is_syncing(replication)),
                    out_of_sync_kib: None,
                });
            }
            _ => {
                // Statistics continuation lines (6 or 8 spaces): counters we do not need.
                if out.is_empty() {
                    return Err(bad());
                }
            }
        }
    }
    Ok(out)
}

/// Whether 8.4's `drbdadm status` (all resources) answered: it runs `drbdsetup-84 status RES`
/// for each configured resource and exits 10 when one is not up ("RES: No such resource"),
/// still printing the ones that are.
pub fn status_84_ok(out: &crate::process::Output) -> bool {
    match out.rc {
        Some(0) => true,
        Some(10) => out.stderr.lines().all(|l| {
            l.ends_with(": No such resource")
                || (l.starts_with("Command 'drbdsetup")
                    && l.ends_with("terminated with exit code 10"))
        }),
        _ => false,
    }
}

// ---- /proc/drbd (DRBD 8.4) --------------------------------------------------------------

const CS_NOT_CONNECTED: &[&str] = &[
    "StandAlone",
    "Disconnecting",
    "Unconnected",
    "Timeout",
    "BrokenPipe",
    "NetworkFailure",
    "ProtocolError",
    "TearDown",
    "WFConnection",
    "WFReportParams",
];

/// `/proc/drbd` of DRBD 8.4: one block per minor. Resource names are not in it, so each is
/// named by its minor ("drbd1"); the facts map them to volumes by device minor.
pub fn parse_proc_drbd(text: &str) -> Result<Vec<Resource>> {
    let mut out: Vec<Resource> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        let bad = || anyhow::anyhow!("/proc/drbd line {}: unexpected {line:?}", n + 1);
        if t.is_empty()
            || t.starts_with("version:")
            || t.starts_with("srcversion:")
            || t.starts_with("GIT-hash:")
        {
            continue;
        }
        if let Some((minor, rest)) = t
            .split_once(": ")
            .filter(|(m, _)| m.chars().all(|c| c.is_ascii_digit()))
        {
            let minor: u32 = minor.parse().map_err(|_| bad())?;
            if get(rest, "cs") == Some("Unconfigured") {
                continue;
            }
            let cs = get(rest, "cs").ok_or_else(bad)?;
            let (role, peer_role) = get(rest, "ro")
                .and_then(|r| r.split_once('/'))
                .ok_or_else(bad)?;
            let (disk, peer_disk) = get(rest, "ds")
                .and_then(|d| d.split_once('/'))
                .ok_or_else(bad)?;
            let (connection, replication) = if CS_NOT_CONNECTED.contains(&cs) {
                (cs, "Off")
            } else if cs == "Connected" {
                ("Connected", "Established")
            } else {
                ("Connected", cs)
            };
            out.push(Resource {
                name: format!("drbd{minor}"),
                role: role.into(),
                devices: vec![Device {
                    volume: 0,
                    minor: Some(minor),
                    disk: disk.into(),
                }],
                connections: vec![Connection {
                    name: "peer".into(),
                    connection: connection.into(),
                    peer_role: peer_role.into(),
                    peer_devices: vec![PeerDevice {
                        volume: 0,
                        replication: replication.into(),
                        peer_disk: peer_disk.into(),
                        done: None,
                        out_of_sync_kib: None,
                    }],
                }],
            });
        } else if let Some(i) = t.find("sync'ed:") {
            // "[==>......] sync'ed: 17.9% (3134016/3815352)M" belongs to the block above.
            let pct = t[i + 8..].trim_start().split('%').next().unwrap_or("");
            let pct: f64 = pct.trim().parse().map_err(|_| bad())?;
            let r = out.last_mut().ok_or_else(bad)?;
            if let Some(pd) = r
                .connections
                .first_mut()
                .and_then(|c| c.peer_devices.first_mut())
            {
                pd.done = Some(pct);
            }
        } else if t.starts_with("ns:")
            || t.starts_with("finish:")
            || t.starts_with('[')
            || t.starts_with("resync:")
            || t.starts_with("act_log:")
            || t.contains("want:")
        {
            // Counters, ETA and speed lines: not state.
        } else {
            bail!(bad());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let p = format!("{}/tests/fixtures/drbd/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn json_connected() {
        let r = parse_status_json(&fixture("drbdsetup-status.json")).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].role, "Primary");
        assert_eq!(
            r[0].devices[0],
            Device {
                volume: 0,
                minor: Some(2),
                disk: "UpToDate".into()
            }
        );
        let c = &r[0].connections[0];
        assert_eq!(
            (c.connection.as_str(), c.peer_role.as_str()),
            ("Connected", "Secondary")
        );
        assert_eq!(c.peer_devices[0].replication, "Established");
        assert_eq!(c.peer_devices[0].done, None);
    }

    #[test]
    fn json_resync_two_volumes() {
        let r = parse_status_json(&fixture("drbdsetup-status-resync.generated.json")).unwrap();
        let pd = &r[0].connections[0].peer_devices;
        assert_eq!(pd.len(), 2);
        assert_eq!(pd[0].replication, "SyncSource");
        assert_eq!(pd[0].done, Some(35.0));
        assert_eq!(pd[1].done, Some(10.0));
    }

    #[test]
    fn json_connecting() {
        let r = parse_status_json(&fixture("drbdsetup-status-connecting.generated.json")).unwrap();
        let c = &r[0].connections[0];
        assert_eq!(c.connection, "Connecting");
        assert_eq!(c.peer_role, "Unknown");
    }

    #[test]
    fn text_connected_and_two_peers() {
        let r = parse_status_text(&fixture("status-connected.txt")).unwrap();
        assert_eq!(r[0].connections.len(), 2);
        assert!(
            r[0].connections
                .iter()
                .all(|c| c.connection == "Connected" && c.peer_role == "Secondary")
        );
        assert_eq!(r[0].devices[0].disk, "UpToDate");
    }

    #[test]
    fn text_connecting() {
        let r = parse_status_text(&fixture("status-connecting.txt")).unwrap();
        let c = &r[0].connections[0];
        assert_eq!(
            (c.name.as_str(), c.connection.as_str(), c.peer_role.as_str()),
            ("pcmk-2", "Connecting", "Unknown")
        );
        assert!(c.peer_devices.is_empty());
        assert_eq!(r[0].devices[0].disk, "Inconsistent");
    }

    #[test]
    fn text_resync_two_volumes_done() {
        let r = parse_status_text(&fixture("status-resync-two-volumes.txt")).unwrap();
        assert_eq!(r[0].devices.len(), 2);
        let c = &r[0].connections[0];
        assert_eq!(c.peer_role, "Primary");
        assert_eq!(c.peer_devices[0].done, Some(10.17));
        assert_eq!(c.peer_devices[1].done, Some(74.08));
        assert_eq!(c.peer_devices[1].volume, 1);
        let other = &r[0].connections[1];
        assert_eq!(other.peer_devices.len(), 2);
        assert_eq!(other.peer_devices[0].done, None);
    }

    #[test]
    fn text_verbose_statistics_lines_are_not_devices() {
        let r = parse_status_text(&fixture("status-verbose-statistics-synctarget.txt")).unwrap();
        assert_eq!(r[0].devices.len(), 1);
        assert_eq!(r[0].devices[0].minor, Some(2796));
        assert_eq!(r[0].connections.len(), 2);
        assert!(r[0].connections.iter().all(|c| c.peer_devices.len() == 1));
        assert_eq!(r[0].connections[1].peer_role, "Primary");
        let r = parse_status_text(&fixture("status-verbose-two-volumes.txt")).unwrap();
        assert_eq!(r[0].devices.len(), 2);
        assert_eq!(r[0].connections.len(), 3);
    }

    #[test]
    fn text_standalone_and_compat() {
        let r = parse_status_text(&fixture("status-standalone.txt")).unwrap();
        assert_eq!(r[0].connections[0].connection, "StandAlone");
        let r = parse_status_text(&fixture("status-connected-84compat.txt")).unwrap();
        assert_eq!(r[0].connections[0].peer_devices[0].peer_disk, "UpToDate");
        let r = parse_status_text(&fixture("status-resync-synctarget-done.txt")).unwrap();
        assert_eq!(r[0].connections[0].peer_devices[0].done, Some(0.08));
    }

    #[test]
    fn proc_drbd_84_with_progress_lines() {
        let r = parse_proc_drbd(&fixture("proc-drbd-8.4-resync.txt")).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].role, "Primary");
        let pd = &r[0].connections[0].peer_devices[0];
        assert_eq!(
            (pd.replication.as_str(), pd.done),
            ("SyncSource", Some(17.9))
        );
        assert_eq!(r[1].devices[0].disk, "Inconsistent");
        assert_eq!(r[1].connections[0].peer_devices[0].done, Some(28.9));
        let r = parse_proc_drbd(&fixture("proc-drbd-8.4-connected.txt")).unwrap();
        assert_eq!(
            r[0].connections[0].peer_devices[0].replication,
            "Established"
        );
        assert_eq!(r[0].devices[0].minor, Some(1));
    }

    /// Every fixture parses with the parser for its format and yields at least one resource
    /// with a role and a disk state (a new fixture without a parser fails here).
    #[test]
    fn every_fixture_parses() {
        let dir = format!("{}/tests/fixtures/drbd", env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let parsed = if name.ends_with(".json") {
                parse_status_json(&fixture(&name))
            } else if name.starts_with("proc-drbd") && name.ends_with(".txt") {
                parse_proc_drbd(&fixture(&name))
            } else if name.starts_with("status-") && name.ends_with(".txt") {
                parse_status_text(&fixture(&name))
            } else {
                continue;
            };
            let r = parsed.unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(!r.is_empty(), "{name}");
            for res in &r {
                assert!(
                    ["Primary", "Secondary"].contains(&res.role.as_str()),
                    "{name}: {res:?}"
                );
                assert!(!res.devices.is_empty(), "{name}: {res:?}");
            }
            seen += 1;
        }
        assert!(seen >= 15, "only {seen} fixtures found");
    }

    #[test]
    fn unexpected_text_is_an_error() {
        assert!(parse_status_text("  disk:UpToDate\n").is_err());
        assert!(parse_proc_drbd("version: 8.4.11\n 1: something odd\n").is_err());
        assert!(parse_status_json("No currently configured DRBD found.").is_err());
    }

    #[test]
    fn dump_resource_names() {
        let dump = "# /etc/drbd.conf\nglobal {\n}\n\n# resource tools on labstore1004: not ignored, not stacked\n# defined at /etc/drbd.d/tools.res:1\nresource tools {\n    on labstore1004 {\n    }\n}\n";
        assert_eq!(parse_dump_resources(dump), ["tools"]);
    }

    #[test]
    fn drbdadm_reads_the_configured_file() {
        assert_eq!(
            primary_cmd(None, "tools").argv,
            ["drbdadm", "primary", "tools"]
        );
        let conf = Some(Path::new("/etc/nfs-manage/drbd.conf"));
        assert_eq!(
            primary_force_cmd(conf, "tools").argv,
            [
                "drbdadm",
                "-c",
                "/etc/nfs-manage/drbd.conf",
                "primary",
                "--force",
                "tools"
            ]
        );
        assert_eq!(
            secondary_cmd(conf, "t").argv[..3],
            ["drbdadm", "-c", "/etc/nfs-manage/drbd.conf"]
        );
        assert_eq!(up_cmd(conf, "t").argv[3..], ["up", "t"]);
        assert_eq!(dump_cmd(conf).argv[3..], ["dump", "all"]);
        assert_eq!(status_cmd(conf).argv[3..], ["status"]);
    }

    #[test]
    fn dump_of_the_real_drbdadm() {
        let r = parse_dump(&fixture("drbdadm-dump.txt")).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].name, "r0");
        assert_eq!(r[0].defined_at.as_deref(), Some("/etc/drbd.d/r.res:3"));
        // `device minor 7;` is /dev/drbd7.
        assert_eq!(r[0].devices, ["/dev/drbd7", "/dev/drbd8"]);
        assert_eq!(r[0].hosts, ["alpha", "beta"]);
        // Inherited from `common { net { … } }`.
        assert!(r[0].allow_two_primaries);
        assert!(!r[0].floating);
        assert_eq!(r[1].devices, ["/dev/drbd_x"]);
        assert!(r[1].floating && r[1].hosts.is_empty());
        // The resource's own `net` overrides common.
        assert!(!r[1].allow_two_primaries);
    }

    const REAL: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/real/6.1.0-56-amd64_drbd-utils-9.22.0"
    );

    fn real(name: &str) -> String {
        std::fs::read_to_string(format!("{REAL}/{name}")).unwrap()
    }

    #[test]
    fn backing_disks_of_the_real_dump() {
        let r = parse_dump(&real("drbdadm-dump.nfs1.txt")).unwrap();
        let d = r[0].disk_of("nfs2").unwrap();
        assert_eq!(d.disk.as_deref(), Some("/dev/vda"));
        assert_eq!(d.meta_disk.as_deref(), Some("internal"));
        // Resource-wide disk, one host overriding it.
        let text = "resource r { disk /dev/sdb; meta-disk internal; on a { address 1.2.3.4:7789; } on b { disk /dev/sdc; meta-disk /dev/md0; } }";
        let r = parse_dump(text).unwrap();
        assert_eq!(r[0].disk_of("a").unwrap().disk.as_deref(), Some("/dev/sdb"));
        assert_eq!(r[0].disk_of("b").unwrap().disk.as_deref(), Some("/dev/sdc"));
        assert_eq!(
            r[0].disk_of("b").unwrap().meta_disk.as_deref(),
            Some("/dev/md0")
        );
        assert!(r[0].disk_of("c").is_none());
    }

    #[test]
    fn generation_identifiers_of_the_real_drbdmeta() {
        let g = parse_gi(&real("drbdmeta-get-gi.v08.created.txt")).unwrap();
        assert!(g.just_created() && !g.consistent());
        assert_eq!(g.flags.len(), 7);
        let g = parse_gi(&real("drbdmeta-get-gi.v09.created.txt")).unwrap();
        assert!(g.just_created());
        assert_eq!(parse_gi(&real("drbdmeta-get-gi.blank.txt")), None);
        let g = parse_gi(
            "5A0F31B9C0A2C3E1:0000000000000000:0000000000000000:0000000000000000:1:1:1:1:0:0:0\n",
        )
        .unwrap();
        assert!(!g.just_created() && g.consistent());
        assert!(g.describe().contains("5A0F31B9C0A2C3E1"));
        assert_eq!(parse_gi("garbage:a:b:c:d"), None);
    }

    #[test]
    fn version_from_proc_or_drbdadm() {
        let proc84 = real("proc-drbd.unconfigured.nfs1.txt");
        assert_eq!(parse_version(Some(&proc84), ""), Version::V84);
        assert_eq!(
            parse_version(
                None,
                "DRBDADM_VERSION=9.22.0\nDRBD_KERNEL_VERSION_CODE=0x08040b\n"
            ),
            Version::V84
        );
        assert_eq!(
            parse_version(None, "DRBD_KERNEL_VERSION_CODE=0x090203\n"),
            Version::V9
        );
        // No module loaded: drbdadm says 0 and assumes 9.
        assert_eq!(
            parse_version(None, "DRBD_KERNEL_VERSION_CODE=0x000000\n"),
            Version::V9
        );
    }

    #[test]
    fn drbd_84_status_of_resources_not_up_is_an_answer() {
        use crate::process::Output;
        let o = Output::fake(10, "", &real("drbdadm-status-all.not-up.nfs1.stderr.txt"));
        assert!(status_84_ok(&o));
        let o = Output::fake(1, "", &real("err.unknown-resource-status.nfs1.stderr.txt"));
        assert!(!status_84_ok(&o));
        assert!(!status_84_ok(&Output::fake(
            10,
            "",
            "tools: Failure: (127) Device minor not allocated\n"
        )));
    }

    #[test]
    fn init_argv_per_version() {
        assert_eq!(
            new_current_uuid_cmd(None, "tools", Version::V84).argv,
            [
                "drbdadm",
                "--",
                "--clear-bitmap",
                "new-current-uuid",
                "tools"
            ]
        );
        assert_eq!(
            new_current_uuid_cmd(None, "tools", Version::V9).argv,
            ["drbdadm", "new-current-uuid", "--clear-bitmap", "tools"]
        );
        assert_eq!(
            create_md_cmd(None, "tools", false).argv,
            ["drbdadm", "create-md", "tools"]
        );
        assert_eq!(
            create_md_cmd(Some(Path::new("/c")), "tools", true).argv,
            ["drbdadm", "-c", "/c", "create-md", "--force", "tools"]
        );
        assert_eq!(get_gi_cmd(None, "t").argv, ["drbdadm", "get-gi", "t"]);
        assert_eq!(
            primary_first_cmd(None, "t").argv,
            ["drbdadm", "primary", "--force", "t"]
        );
    }

    #[test]
    fn dump_that_drbdadm_never_prints_is_an_error() {
        for bad in [
            "resource a {",
            "resource a { device /dev/drbd1 }",
            "}",
            "resource \"a {",
            "resource a { on x { } ",
        ] {
            assert!(parse_dump(bad).is_err(), "{bad:?}");
        }
        let deep = "a {".repeat(100);
        assert!(parse_dump(&deep).is_err());
    }
}
