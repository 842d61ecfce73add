//! `backups:` entries: which LV on which host is pulled into which local LV, and how.
//!
//! ```yaml
//! backups:
//!   - name: tools
//!     source: { host: labstore1005, vg: vd, lv: tools }   # the passive node's backing LV
//!     target: { vg: backup, lv: tools }                   # the local LV that holds the copy
//!     snapshots:                                          # all optional
//!       remote:  { name: tools-nfs-manage, size: 20%ORIGIN }
//!       presync: { name: tools-presync, size: 20%ORIGIN }
//!       mount:   { name: tools-mount, size: 20%ORIGIN }
//!     transport: bdsync        # or rsync (--copy-devices --write-devices --inplace --no-whole-file)
//!     blocksize: 16384         # bdsync --blocksize
//!     fstype: ext4             # for backup mounts; the LV carries DRBD metadata and probes as "drbd"
//!     ssh: [ssh, -o, BatchMode=yes, -i, /root/.ssh/id_backup]   # default: remote.ssh
//!     user: root               # default: remote.user
//!     nice: 10                 # remote side runs under `nice -n 10`
//!     bwlimit: 50M             # bytes per second (K, M, G: binary); default: unlimited
//!     keep_remote_snapshot: false
//!     ttl: 4h                  # default lifetime of a backup mount
//!     max_age: 36h             # `check backups` warns when the last good run is older
//!     timeout: 12h             # time limit of the sync step
//!     mountpoint: /mnt/nfs-manage/tools   # default /mnt/nfs-manage/NAME
//! ```
//!
//! LVM names are checked the way LVM checks them (lvm(8) "VALID NAMES"): letters, digits and
//! `+_.-`, not starting with `-`, not `.`/`..`; an LV is not `snapshot` or `pvmove` and
//! contains none of LVM's internal suffixes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{Config, Problem, check_abs, check_name, duration};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    pub name: String,
    pub source: Source,
    pub target: LvRef,
    #[serde(default)]
    pub snapshots: Snapshots,
    #[serde(default)]
    pub transport: Transport,
    #[serde(default = "default_blocksize")]
    pub blocksize: u32,
    #[serde(default = "default_fstype")]
    pub fstype: String,
    #[serde(default)]
    pub ssh: Option<Vec<String>>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default = "default_nice")]
    pub nice: i32,
    #[serde(default)]
    pub bwlimit: Option<String>,
    #[serde(default)]
    pub keep_remote_snapshot: bool,
    #[serde(default = "default_ttl", deserialize_with = "duration")]
    pub ttl: Duration,
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// How old the last successful run may be before `check backups` warns. The default
    /// suits a daily timer: a day, plus the run's own length, plus slack.
    #[serde(default = "default_max_age", deserialize_with = "duration")]
    pub max_age: Duration,
    #[serde(default)]
    pub mountpoint: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Where ssh connects: a host name or an address.
    pub host: String,
    pub vg: String,
    pub lv: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LvRef {
    pub vg: String,
    pub lv: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshots {
    #[serde(default)]
    pub remote: Snapshot,
    #[serde(default)]
    pub presync: Snapshot,
    #[serde(default)]
    pub mount: Snapshot,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    #[serde(default)]
    pub name: Option<String>,
    /// An LVM size (`2G`, `512M`) or a share of the origin (`20%ORIGIN`).
    #[serde(default)]
    pub size: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Bdsync,
    Rsync,
}

impl Transport {
    pub fn word(self) -> &'static str {
        match self {
            Transport::Bdsync => "bdsync",
            Transport::Rsync => "rsync",
        }
    }
}

pub(super) fn default_blocksize() -> u32 {
    16384
}
pub(super) fn default_fstype() -> String {
    "ext4".into()
}
pub(super) fn default_nice() -> i32 {
    10
}
pub(super) fn default_ttl() -> Duration {
    Duration::from_secs(4 * 3600)
}
pub(super) fn default_timeout() -> Duration {
    Duration::from_secs(12 * 3600)
}
pub fn default_max_age() -> Duration {
    Duration::from_secs(36 * 3600)
}

pub const DEFAULT_SNAPSHOT_SIZE: &str = "20%ORIGIN";
pub const MOUNT_ROOT: &str = "/mnt/nfs-manage";

impl Backup {
    pub fn remote_snapshot(&self) -> String {
        self.snapshots
            .remote
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-nfs-manage", self.source.lv))
    }
    pub fn presync_snapshot(&self) -> String {
        self.snapshots
            .presync
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-presync", self.target.lv))
    }
    pub fn mount_snapshot(&self) -> String {
        self.snapshots
            .mount
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-mount", self.target.lv))
    }
    pub fn size_of(s: &Snapshot) -> &str {
        s.size.as_deref().unwrap_or(DEFAULT_SNAPSHOT_SIZE)
    }
    pub fn default_mountpoint(&self) -> PathBuf {
        self.mountpoint
            .clone()
            .unwrap_or_else(|| Path::new(MOUNT_ROOT).join(&self.name))
    }
    /// The ssh command (without the destination): the entry's own, else `remote.ssh`.
    pub fn ssh_argv(&self, cfg: &Config) -> Vec<String> {
        self.ssh
            .clone()
            .or_else(|| cfg.remote.as_ref().map(|r| r.ssh.clone()))
            .unwrap_or_else(|| vec!["ssh".into(), "-o".into(), "BatchMode=yes".into()])
    }
    /// `user@host` for ssh.
    pub fn destination(&self, cfg: &Config) -> String {
        let user = self
            .user
            .clone()
            .or_else(|| cfg.remote.as_ref().map(|r| r.user.clone()))
            .unwrap_or_else(|| "root".into());
        format!("{user}@{}", self.source.host)
    }
    /// Bytes per second, if limited.
    pub fn bwlimit_bytes(&self) -> Option<u64> {
        self.bwlimit.as_deref().and_then(parse_rate)
    }
}

/// `50M` → 52428800 (binary suffixes, like rsync's `--bwlimit`); a plain number is bytes.
pub fn parse_rate(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 'K' | 'k') => (&s[..i], 1u64 << 10),
        (i, 'M' | 'm') => (&s[..i], 1 << 20),
        (i, 'G' | 'g') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = num.parse().ok()?;
    // Too large to count in bytes is a typing mistake, not "unlimited".
    n.checked_mul(mult).filter(|_| n > 0)
}

/// lvm(8) VALID NAMES, for a VG.
pub fn vg_name_problem(s: &str) -> Option<String> {
    common_lvm_name(s)
}

/// lvm(8) VALID NAMES, for an LV.
pub fn lv_name_problem(s: &str) -> Option<String> {
    if let Some(p) = common_lvm_name(s) {
        return Some(p);
    }
    if s == "snapshot" || s == "pvmove" {
        return Some(format!("{s:?} is reserved by LVM"));
    }
    const RESERVED: [&str; 12] = [
        "_cdata", "_cmeta", "_corig", "_iorig", "_mimage", "_mlog", "_pmspare", "_rimage",
        "_rmeta", "_tdata", "_tmeta", "_vorigin",
    ];
    RESERVED
        .iter()
        .find(|r| s.contains(*r))
        .map(|r| format!("{s:?} contains {r:?}, which LVM reserves for internal volumes"))
}

fn common_lvm_name(s: &str) -> Option<String> {
    if s.is_empty() || s.len() > 127 {
        return Some(format!("{s:?}: expected 1-127 characters"));
    }
    if s == "." || s == ".." {
        return Some(format!("{s:?} is not allowed by LVM"));
    }
    if s.starts_with('-') {
        return Some(format!("{s:?} must not start with '-'"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+_.-".contains(*c)))
    {
        return Some(format!(
            "{s:?} contains {c:?}; LVM names use only letters, digits and + _ . -"
        ));
    }
    None
}

fn valid_size(s: &str) -> bool {
    if let Some(p) = s.strip_suffix("%ORIGIN") {
        return p.parse::<u32>().is_ok_and(|n| (1..=100).contains(&n));
    }
    let num = s.trim_end_matches(|c: char| "bBsSkKmMgGtTpPeE".contains(c));
    if s.len() - num.len() > 1 || num.is_empty() {
        return false;
    }
    let mut parts = num.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    !int.is_empty()
        && int.chars().all(|c| c.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()))
        && num.parse::<f64>().is_ok_and(|v| v > 0.0)
}

fn valid_host(s: &str) -> bool {
    if s.parse::<IpAddr>().is_ok() {
        return true;
    }
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn valid_user(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

pub(super) fn validate(cfg: &Config, p: &mut Vec<Problem>) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut targets: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, b) in cfg.backups.iter().enumerate() {
        let at = |k: &str| format!("backups[{i}].{k}");
        check_name(p, &at("name"), &b.name, "a backup name");
        if let Some(first) = names.insert(&b.name, i) {
            p.push(Problem::new(
                at("name"),
                format!("duplicate backup name {:?} (also backups[{first}])", b.name),
            ));
        }
        if !valid_host(&b.source.host) {
            p.push(Problem::new(
                at("source.host"),
                format!(
                    "{:?} is not a host name or address (expected like labstore1005 or 10.64.37.7)",
                    b.source.host
                ),
            ));
        }
        for (key, vg) in [("source.vg", &b.source.vg), ("target.vg", &b.target.vg)] {
            if let Some(why) = vg_name_problem(vg) {
                p.push(Problem::new(
                    at(key),
                    format!("not a volume group name: {why}"),
                ));
            }
        }
        let snaps = [
            ("snapshots.remote.name", b.remote_snapshot()),
            ("snapshots.presync.name", b.presync_snapshot()),
            ("snapshots.mount.name", b.mount_snapshot()),
        ];
        for (key, lv) in [
            ("source.lv", b.source.lv.as_str()),
            ("target.lv", b.target.lv.as_str()),
        ]
        .into_iter()
        .chain(snaps.iter().map(|(k, v)| (*k, v.as_str())))
        {
            if let Some(why) = lv_name_problem(lv) {
                p.push(Problem::new(
                    at(key),
                    format!("not a logical volume name: {why}"),
                ));
            }
        }
        if b.remote_snapshot() == b.source.lv {
            p.push(Problem::new(
                at("snapshots.remote.name"),
                "the remote snapshot cannot have the source LV's own name",
            ));
        }
        let (pre, mnt) = (b.presync_snapshot(), b.mount_snapshot());
        if pre == b.target.lv || mnt == b.target.lv {
            let key = if pre == b.target.lv {
                "snapshots.presync.name"
            } else {
                "snapshots.mount.name"
            };
            p.push(Problem::new(
                at(key),
                "a snapshot cannot have the target LV's own name",
            ));
        }
        if pre == mnt {
            p.push(Problem::new(
                at("snapshots.mount.name"),
                format!("{mnt:?} is also the pre-sync snapshot's name; they must differ"),
            ));
        }
        for (key, s) in [
            ("snapshots.remote.size", &b.snapshots.remote),
            ("snapshots.presync.size", &b.snapshots.presync),
            ("snapshots.mount.size", &b.snapshots.mount),
        ] {
            if let Some(size) = &s.size
                && !valid_size(size)
            {
                p.push(Problem::new(
                    at(key),
                    format!("{size:?} is not a snapshot size (expected an LVM size like 2G or 512M, or 1-100%ORIGIN)"),
                ));
            }
        }
        if let Some(first) = targets.insert((&b.target.vg, &b.target.lv), i) {
            p.push(Problem::new(
                at("target.lv"),
                format!(
                    "{}/{} is also backups[{first}]'s target",
                    b.target.vg, b.target.lv
                ),
            ));
        }
        if !(512..=1 << 20).contains(&b.blocksize) || b.blocksize % 512 != 0 {
            p.push(Problem::new(
                at("blocksize"),
                format!(
                    "{} is not a block size: expected a multiple of 512 from 512 to 1048576 (default 16384)",
                    b.blocksize
                ),
            ));
        }
        if b.fstype.is_empty()
            || !b
                .fstype
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            p.push(Problem::new(
                at("fstype"),
                format!("{:?} is not a filesystem type like ext4", b.fstype),
            ));
        }
        match &b.ssh {
            Some(s) if s.is_empty() => p.push(Problem::new(
                at("ssh"),
                "expected the ssh command as a list, like [ssh, -o, BatchMode=yes]",
            )),
            None if cfg.remote.is_none() => p.push(Problem::new(
                at("ssh"),
                "no ssh command: set backups[].ssh or remote.ssh (like [ssh, -o, BatchMode=yes])",
            )),
            _ => {}
        }
        if let Some(u) = &b.user
            && !valid_user(u)
        {
            p.push(Problem::new(
                at("user"),
                format!("{u:?} is not a user name"),
            ));
        }
        if !(-20..=19).contains(&b.nice) {
            p.push(Problem::new(
                at("nice"),
                format!("{} is not a nice level: expected -20 to 19", b.nice),
            ));
        }
        if let Some(r) = &b.bwlimit
            && parse_rate(r).is_none()
        {
            p.push(Problem::new(
                at("bwlimit"),
                format!("{r:?} is not a rate: expected bytes per second like 50M, 800K or 1G"),
            ));
        }
        if b.ttl.is_zero() {
            p.push(Problem::new(at("ttl"), "expected a duration above zero"));
        }
        if b.timeout.is_zero() {
            p.push(Problem::new(
                at("timeout"),
                "expected a duration above zero",
            ));
        }
        if b.max_age.is_zero() {
            p.push(Problem::new(
                at("max_age"),
                "expected a duration above zero, like 36h (how old the last successful run may be)",
            ));
        }
        if let Some(m) = &b.mountpoint {
            check_abs(p, &at("mountpoint"), m);
            if m == Path::new("/") {
                p.push(Problem::new(
                    at("mountpoint"),
                    "the root directory cannot be a backup mountpoint",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "\
cluster: backup
nodes:
  backup1001: { address: 10.64.37.20 }
volumes: []
remote: { ssh: [ssh, -o, BatchMode=yes], user: root }
backups:
  - name: tools
    source: { host: labstore1005, vg: vd, lv: tools }
    target: { vg: backup, lv: tools }
";

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("c.yaml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let c = parse(BASE).unwrap();
        let b = &c.backups[0];
        assert_eq!(b.transport, Transport::Bdsync);
        assert_eq!(b.blocksize, 16384);
        assert_eq!(b.fstype, "ext4");
        assert_eq!(b.nice, 10);
        assert_eq!(b.remote_snapshot(), "tools-nfs-manage");
        assert_eq!(b.presync_snapshot(), "tools-presync");
        assert_eq!(b.mount_snapshot(), "tools-mount");
        assert_eq!(b.default_mountpoint(), Path::new("/mnt/nfs-manage/tools"));
        assert_eq!(b.destination(&c), "root@labstore1005");
        assert_eq!(b.ssh_argv(&c), ["ssh", "-o", "BatchMode=yes"]);
        assert_eq!(b.ttl, Duration::from_secs(4 * 3600));
        assert_eq!(b.max_age, Duration::from_secs(36 * 3600));
        assert!(!b.keep_remote_snapshot);
        assert_eq!(c.paths.state, Path::new("/var/lib/nfs-manage"));
    }

    #[test]
    fn lvm_names_checked_like_lvm() {
        for (bad, why) in [
            ("lv: \"-x\" }\n    target", "must not start with '-'"),
            ("lv: snapshot }\n    target", "reserved by LVM"),
            ("lv: a_tmeta }\n    target", "\"_tmeta\""),
            ("lv: \"a b\" }\n    target", "contains ' '"),
            ("lv: \"..\" }\n    target", "not allowed"),
        ] {
            let text = BASE.replace("lv: tools }\n    target", bad);
            assert_ne!(text, BASE, "{bad}: the case must change the config");
            let e = parse(&text).unwrap_err();
            assert!(
                e.contains("c.yaml:8:") && e.contains("backups[0].source.lv") && e.contains(why),
                "{bad}: {e}"
            );
        }
        let e = parse(&BASE.replace("vg: backup", "vg: \"back/up\"")).unwrap_err();
        assert!(
            e.contains("c.yaml:9:") && e.contains("backups[0].target.vg: not a volume group name"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_their_position() {
        let cases = [
            (
                "    transport: scp\n",
                "c.yaml:10:16",
                "unknown variant `scp`",
            ),
            (
                "    blocksize: 1000\n",
                "c.yaml:10:16",
                "backups[0].blocksize: 1000 is not a block size",
            ),
            (
                "    mountpoint: /mnt/../etc\n",
                "c.yaml:10:17",
                "backups[0].mountpoint: \"/mnt/../etc\" is not a clean absolute path",
            ),
            (
                "    bwlimit: fast\n",
                "c.yaml:10:14",
                "backups[0].bwlimit: \"fast\" is not a rate",
            ),
            (
                "    nice: 40\n",
                "c.yaml:10:11",
                "backups[0].nice: 40 is not a nice level",
            ),
            (
                "    snapshots: { mount: { size: 12X } }\n",
                "c.yaml:10:33",
                "backups[0].snapshots.mount.size: \"12X\" is not a snapshot size",
            ),
            (
                "    snapshots: { presync: { name: tools } }\n",
                "c.yaml:10:35",
                "backups[0].snapshots.presync.name: a snapshot cannot have the target LV's own name",
            ),
            ("    ttl: soon\n", "c.yaml:7:5", "expected a duration"),
            ("    max_age: daily\n", "c.yaml:7:5", "expected a duration"),
            (
                "    max_age: 0s\n",
                "c.yaml:10:14",
                "backups[0].max_age: expected a duration above zero",
            ),
            ("    colour: red\n", "c.yaml:10:5", "unknown field `colour`"),
        ];
        for (extra, pos, msg) in cases {
            let e = parse(&format!("{BASE}{extra}")).unwrap_err();
            assert!(e.starts_with(pos) && e.contains(msg), "{extra}: {e}");
        }
        let e = parse(&BASE.replace("host: labstore1005", "host: \"lab store\"")).unwrap_err();
        assert!(e.contains("backups[0].source.host"), "{e}");
    }

    #[test]
    fn duplicates_and_missing_ssh() {
        let dup = format!(
            "{BASE}  - name: tools\n    source: {{ host: labstore1005, vg: vd, lv: misc }}\n    target: {{ vg: backup, lv: tools }}\n"
        );
        let e = parse(&dup).unwrap_err();
        assert!(
            e.contains("c.yaml:10:11: backups[1].name: duplicate backup name"),
            "{e}"
        );
        assert!(
            e.contains("backups[1].target.lv: backup/tools is also backups[0]'s target"),
            "{e}"
        );
        let e = parse(&BASE.replace(
            "remote: { ssh: [ssh, -o, BatchMode=yes], user: root }\n",
            "",
        ))
        .unwrap_err();
        assert!(e.contains("backups[0].ssh: no ssh command"), "{e}");
    }

    #[test]
    fn sizes_and_rates() {
        assert!(valid_size("2G") && valid_size("1.5g") && valid_size("20%ORIGIN"));
        assert!(
            !valid_size("0%ORIGIN") && !valid_size("2GG") && !valid_size("G") && !valid_size("0")
        );
        assert_eq!(parse_rate("50M"), Some(50 << 20));
        assert_eq!(parse_rate("800"), Some(800));
        assert_eq!(parse_rate("0"), None);
    }
}
