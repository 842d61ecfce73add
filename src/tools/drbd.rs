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

/// The configuration as drbdadm understands it (works without the kernel module).
pub fn dump_cmd(conf: Option<&Path>) -> Cmd {
    Cmd::probe(drbdadm(conf, &["dump", "all"]))
}

/// `drbdadm status` (all resources), e.g. on the old node of a failover.
pub fn status_cmd(conf: Option<&Path>) -> Cmd {
    Cmd::probe(drbdadm(conf, &["status"]))
}

/// Resource names from `drbdadm dump`: lines `resource NAME {` (possibly quoted).
pub fn parse_dump_resources(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("resource ")?;
            let name = rest.split_whitespace().next()?.trim_matches('"');
            (!name.is_empty() && name != "{").then(|| name.to_string())
        })
        .collect()
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
        let dump = "# /etc/drbd.conf\nglobal {\n}\n\n# resource tools on labstore1004: not ignored, not stacked\n# defined at /etc/drbd.d/tools.res:1\nresource tools {\n    on labstore1004 {\n";
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
}
