//! `nfs-manage exports expire-cache ADDRESS…` (internal: `exports sync` and `enable-project`
//! run it as a step after a netgroup membership change).
//!
//! `exportfs -f` would flush every client's cached answers, and each client's next request
//! would wait for rpc.mountd. Only the changed addresses' answers are wrong, so only their
//! entries are expired: every entry of auth.unix.ip, nfsd.export and nfsd.fh that concerns
//! them (see `tools::rpc_cache`) gets an expired, empty entry written over it through the
//! cache's channel. The caches are read again afterwards; if any of those entries still grants
//! access, or a write was refused, everything is flushed as `exportfs -f` would, and the
//! report says why. It prints one JSON document: `method` (`targeted`, `flush` or `none`),
//! the entries expired per cache, and `why` for a flush.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::{ExpireCacheArgs, Global};
use crate::tools::rpc_cache::{self, EXPORT, FH, IP, Key};

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Report {
    pub method: &'static str,
    pub addresses: usize,
    pub expired: BTreeMap<&'static str, usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

pub fn run(_global: &Global, args: &ExpireCacheArgs) -> Result<()> {
    let addrs: BTreeSet<IpAddr> = args.addresses.iter().copied().collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(1);
    // The real caches, or a look-alike in tests (the namespaces have no nfsd).
    let dir = std::env::var_os("NFS_MANAGE_RPC_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| rpc_cache::DIR.into());
    let report = expire(&dir, &addrs, now)?;
    outln!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn read(dir: &Path, cache: &str) -> Result<Vec<rpc_cache::Entry>> {
    let path = dir.join(cache).join("content");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    rpc_cache::parse(cache, &text)
}

/// One line, one write(2): each write to a channel is one message to the kernel.
fn write_line(dir: &Path, cache: &str, line: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(cache).join("channel"))?;
    let n = f.write(line.as_bytes())?;
    if n != line.len() {
        return Err(std::io::Error::other(format!(
            "short write: {n} of {} bytes",
            line.len()
        )));
    }
    Ok(())
}

/// Expire `addrs`' entries in the caches under `dir` (/proc/net/rpc), `now` seconds since
/// the epoch; on any doubt, flush them all.
pub fn expire(dir: &Path, addrs: &BTreeSet<IpAddr>, now: i64) -> Result<Report> {
    let mut report = Report {
        method: "none",
        addresses: addrs.len(),
        expired: BTreeMap::new(),
        why: None,
    };
    if !dir.join(EXPORT).join("channel").exists() {
        // No NFS server module loaded: nothing is cached, so nothing can be stale.
        report.why = Some(format!("no NFS server caches in {}", dir.display()));
        return Ok(report);
    }
    let problem = match targeted(dir, addrs, now - 1, &mut report.expired) {
        Ok(None) => {
            report.method = "targeted";
            return Ok(report);
        }
        Ok(Some(p)) => p,
        Err(e) => format!("{e:#}"),
    };
    flush(dir, now)?;
    report.method = "flush";
    report.why = Some(problem);
    Ok(report)
}

/// `Ok(None)` when every entry concerning `addrs` was expired and none grants access any
/// more; `Ok(Some(why))` when one still does.
fn targeted(
    dir: &Path,
    addrs: &BTreeSet<IpAddr>,
    expiry: i64,
    expired: &mut BTreeMap<&'static str, usize>,
) -> Result<Option<String>> {
    let mut targets: Vec<Key> = Vec::new();
    for cache in [IP, EXPORT, FH] {
        let n = targets.len();
        targets.extend(
            read(dir, cache)?
                .into_iter()
                .filter(|e| rpc_cache::concerns(&e.key, addrs))
                .map(|e| e.key),
        );
        expired.insert(cache, targets.len() - n);
    }
    let mut refused = Vec::new();
    for key in &targets {
        let cache = rpc_cache::cache_of(key);
        if let Err(e) = write_line(dir, cache, &rpc_cache::expire_line(key, expiry)?) {
            // ENOENT: the client's domain or the path is gone, and with it the entry (the
            // check below says whether it really is).
            if e.kind() != std::io::ErrorKind::NotFound {
                refused.push(format!("{cache}: {key:?}: {e}"));
            }
        }
    }
    if let Some(first) = refused.first() {
        return Ok(Some(format!(
            "the kernel refused {} of {} expiries (first: {first})",
            refused.len(),
            targets.len()
        )));
    }
    // A live entry that was a target still grants what the old membership granted. So may
    // one whose client name merely spells a changed address in a way not foreseen here: that
    // is taken as a reason to flush too (at worst a flush that was not needed).
    let wanted: BTreeSet<&Key> = targets.iter().collect();
    let texts: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
    let spells = |key: &Key| match key {
        Key::Export { domain, .. } | Key::Fh { domain, .. } => {
            texts.iter().any(|t| domain.contains(t.as_str()))
        }
        Key::Ip { .. } => false,
    };
    for cache in [IP, EXPORT, FH] {
        if let Some(e) = read(dir, cache)?
            .into_iter()
            .find(|e| e.live && (wanted.contains(&e.key) || spells(&e.key)))
        {
            return Ok(Some(format!(
                "{cache} still holds a live entry of a changed address after the expiries were written: {:?}",
                e.key
            )));
        }
    }
    Ok(None)
}

/// What `exportfs -f` does: every cache flushed (the kernel takes any number as "now").
fn flush(dir: &Path, now: i64) -> Result<()> {
    for cache in rpc_cache::ALL {
        let path = dir.join(cache).join("flush");
        if !path.exists() {
            continue;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        f.write_all(format!("{now}\n").as_bytes())
            .with_context(|| format!("flushing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A /proc/net/rpc look-alike: content files as given, empty channel and flush files.
    fn fake(ip: &str, export: &str, fh: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (cache, content) in [(IP, ip), (EXPORT, export), (FH, fh), ("auth.unix.gid", "")] {
            let c = d.path().join(cache);
            std::fs::create_dir(&c).unwrap();
            std::fs::write(c.join("content"), content).unwrap();
            std::fs::write(c.join("channel"), "").unwrap();
            std::fs::write(c.join("flush"), "").unwrap();
        }
        d
    }

    fn addrs(v: &[&str]) -> BTreeSet<IpAddr> {
        v.iter().map(|a| a.parse().unwrap()).collect()
    }

    fn channel(d: &Path, cache: &str) -> String {
        std::fs::read_to_string(d.join(cache).join("channel")).unwrap()
    }

    #[test]
    fn without_nfsd_there_is_nothing_to_expire() {
        let d = tempfile::tempdir().unwrap();
        let r = expire(d.path(), &addrs(&["192.0.2.20"]), 1000).unwrap();
        assert_eq!(r.method, "none");
        assert!(r.why.unwrap().contains("no NFS server caches"));
    }

    #[test]
    fn only_the_changed_addresses_entries_are_written_and_a_cache_that_ignores_them_is_flushed() {
        // A regular file does not act on what is written to it: the entries stay live, so
        // the check afterwards must catch that and fall back to a full flush.
        let d = fake(
            "#class IP domain\nnfsd 192.0.2.20 192.0.2.20\nnfsd 192.0.2.30 192.0.2.30\n",
            "#path domain(flags)\n/srv/a\t192.0.2.20(rw)\n/srv/a\t192.0.2.30(rw)\n/srv/b\t@project-b(rw)\n",
            "#domain fsidtype fsid [path]\n192.0.2.30 1 0x0000c3b4 /srv/a\n",
        );
        let r = expire(d.path(), &addrs(&["192.0.2.20"]), 1000).unwrap();
        assert_eq!(channel(d.path(), IP), "nfsd 192.0.2.20 999\n");
        assert_eq!(channel(d.path(), EXPORT), "192.0.2.20 /srv/a 999\n");
        assert_eq!(
            channel(d.path(), FH),
            "",
            "192.0.2.30's filehandles are not touched"
        );
        assert_eq!(r.expired[IP], 1);
        assert_eq!(r.expired[EXPORT], 1);
        assert_eq!(r.expired[FH], 0);
        assert_eq!(r.method, "flush");
        assert!(
            r.why
                .as_deref()
                .unwrap()
                .contains("still holds a live entry"),
            "{r:?}"
        );
        for cache in rpc_cache::ALL {
            let f = std::fs::read_to_string(d.path().join(cache).join("flush")).unwrap();
            assert_eq!(f, "1000\n", "{cache} flushed");
        }
    }

    #[test]
    fn entries_that_were_already_dead_need_no_flush() {
        // After the writes the kernel lists them with "# ": this look-alike starts so.
        let d = fake(
            "# nfsd 192.0.2.20 192.0.2.20\n",
            "# /srv/a\t192.0.2.20(rw)\n/srv/a\t192.0.2.30(rw)\n",
            "",
        );
        let r = expire(d.path(), &addrs(&["192.0.2.20"]), 1000).unwrap();
        assert_eq!(r.method, "targeted", "{r:?}");
        assert_eq!(channel(d.path(), EXPORT), "192.0.2.20 /srv/a 999\n");
        let f = std::fs::read_to_string(d.path().join(EXPORT).join("flush")).unwrap();
        assert_eq!(f, "", "nothing flushed");
    }

    #[test]
    fn a_live_entry_naming_a_changed_address_in_an_unknown_way_is_flushed() {
        let d = fake(
            "",
            "/srv/a\tclient=192.0.2.20(rw)\n/srv/a\t192.0.2.30(rw)\n",
            "",
        );
        let r = expire(d.path(), &addrs(&["192.0.2.20"]), 1000).unwrap();
        assert_eq!(r.method, "flush", "{r:?}");
        assert_eq!(
            channel(d.path(), EXPORT),
            "",
            "nothing it could name was written"
        );
    }

    #[test]
    fn content_it_cannot_read_is_flushed_over_and_named() {
        let d = fake("garbage line\n", "", "");
        let r = expire(d.path(), &addrs(&["192.0.2.20"]), 1000).unwrap();
        assert_eq!(r.method, "flush");
        assert!(r.why.unwrap().contains("auth.unix.ip/content line 1"));
    }
}
