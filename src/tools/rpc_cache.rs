//! The kernel's NFS server caches under /proc/net/rpc (the sunrpc cache interface rpc.mountd
//! answers): read what `content` lists, and the lines that expire single entries through
//! `channel`. Pure text work; `commands::expire_cache` does the reading and writing.
//!
//! Three caches decide whether a client may use an export:
//! - `auth.unix.ip`: client address → the name rpc.mountd gave it ("domain"): the address
//!   itself when mountd runs with `use_ipaddr` (many netgroups), else the names of the
//!   exports' client specifications it matches;
//! - `nfsd.export`: (domain, path) → the export's options, or "no access";
//! - `nfsd.fh`: (domain, fsid) → the path a filehandle's fsid stands for.
//!
//! An entry written to `channel` with an expiry in the past replaces the cached one and is
//! itself expired, so the next request that needs it asks rpc.mountd again: the effect of a
//! flush, for that entry only.

use std::collections::BTreeSet;
use std::net::IpAddr;

use anyhow::{Result, bail};

pub const DIR: &str = "/proc/net/rpc";
pub const IP: &str = "auth.unix.ip";
pub const EXPORT: &str = "nfsd.export";
pub const FH: &str = "nfsd.fh";
/// The caches `exportfs -f` flushes (nfs-utils' cache_flush()).
pub const ALL: [&str; 4] = ["auth.unix.ip", "auth.unix.gid", "nfsd.fh", "nfsd.export"];

/// One entry of a cache's `content`. `live`: usable now (the kernel prefixes expired and
/// not-yet-answered entries with "# ").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub live: bool,
    pub key: Key,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// auth.unix.ip: class (always "nfsd" for the NFS server) and address.
    Ip { class: String, addr: IpAddr },
    /// nfsd.export: the client's domain and the exported path (raw bytes, unescaped).
    Export { domain: String, path: Vec<u8> },
    /// nfsd.fh: domain, fsid type and the fsid as `content` prints it (hex of 32-bit words).
    Fh {
        domain: String,
        fsid_type: u32,
        fsid: String,
    },
}

/// A word as the channel parser (qword_get) reads it back: every byte that could end or
/// bend the word (space, tab, newline, backslash, anything not printable) as `\ooo`.
pub fn qword(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &c in bytes {
        if c.is_ascii_graphic() && c != b'\\' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\{c:03o}"));
        }
    }
    s
}

/// The entries of one cache's `content`, in order. `cache` is one of [`IP`], [`EXPORT`],
/// [`FH`]. Comment lines (the header, the kernel's debug lines) are skipped.
pub fn parse(cache: &str, text: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let (live, line) = match raw.strip_prefix("# ") {
            Some(rest) => (false, rest),
            None => (true, raw),
        };
        // "#class IP domain", "#path domain(flags)", "# expiry=…": comments, not entries.
        if line.is_empty() || line.starts_with('#') || line.starts_with("expiry=") {
            continue;
        }
        let bad = || {
            anyhow::anyhow!(
                "{DIR}/{cache}/content line {}: {raw:?} is not an entry of {cache}",
                n + 1
            )
        };
        let key = match cache {
            IP => {
                let mut w = line.split_whitespace();
                let (Some(class), Some(addr)) = (w.next(), w.next()) else {
                    return Err(bad());
                };
                Key::Ip {
                    class: class.to_string(),
                    addr: addr.parse().map_err(|_| bad())?,
                }
            }
            EXPORT => {
                // "path\tdomain(flags)" or, for "no access", "path\tdomain".
                let (path, rest) = line.split_once('\t').ok_or_else(bad)?;
                let domain = rest.split('(').next().unwrap_or(rest);
                if path.is_empty() || domain.is_empty() {
                    return Err(bad());
                }
                Key::Export {
                    domain: super::unescape_octal(domain),
                    path: super::unescape_octal_bytes(path),
                }
            }
            FH => {
                let mut w = line.split_whitespace();
                let (Some(domain), Some(t), Some(fsid)) = (w.next(), w.next(), w.next()) else {
                    return Err(bad());
                };
                let hex = fsid.strip_prefix("0x").ok_or_else(bad)?;
                if hex.is_empty()
                    || hex.len() % 8 != 0
                    || !hex.bytes().all(|c| c.is_ascii_hexdigit())
                {
                    return Err(bad());
                }
                Key::Fh {
                    domain: super::unescape_octal(domain),
                    fsid_type: t.parse().map_err(|_| bad())?,
                    fsid: hex.to_ascii_lowercase(),
                }
            }
            other => bail!("{other}: not a cache this module reads"),
        };
        out.push(Entry { live, key });
    }
    Ok(out)
}

/// Whether an entry concerns one of `addrs`: an address entry of one of them, or an export
/// or filehandle entry of a domain that stands for one of them alone. With many netgroups
/// rpc.mountd names each client by its address (`use_ipaddr`), written `$ADDRESS`
/// (nfs-utils' auth_unix_ip(); the plain address is accepted too). Entries of named domains
/// need no expiry when a member changes: the address's own entry is what maps it to them.
pub fn concerns(key: &Key, addrs: &BTreeSet<IpAddr>) -> bool {
    match key {
        Key::Ip { addr, .. } => addrs.contains(addr),
        Key::Export { domain, .. } | Key::Fh { domain, .. } => domain
            .strip_prefix('$')
            .unwrap_or(domain)
            .parse::<IpAddr>()
            .is_ok_and(|a| addrs.contains(&a)),
    }
}

/// The cache an entry lives in.
pub fn cache_of(key: &Key) -> &'static str {
    match key {
        Key::Ip { .. } => IP,
        Key::Export { .. } => EXPORT,
        Key::Fh { .. } => FH,
    }
}

/// The `channel` line that replaces `key`'s entry with one that expired at `expiry` (seconds
/// since the epoch, in the past) and grants nothing.
pub fn expire_line(key: &Key, expiry: i64) -> Result<String> {
    Ok(match key {
        Key::Ip { class, addr } => format!("{} {addr} {expiry}\n", qword(class.as_bytes())),
        Key::Export { domain, path } => {
            format!("{} {} {expiry}\n", qword(domain.as_bytes()), qword(path))
        }
        Key::Fh {
            domain,
            fsid_type,
            fsid,
        } => {
            // `content` prints the fsid as 32-bit words in the kernel's byte order; the
            // channel takes the bytes as they lie in memory.
            let mut bytes = Vec::with_capacity(fsid.len() / 2);
            for word in fsid.as_bytes().chunks(8) {
                let w = u32::from_str_radix(std::str::from_utf8(word)?, 16)?;
                bytes.extend_from_slice(&w.to_ne_bytes());
            }
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "{} {fsid_type} \\x{hex} {expiry}\n",
                qword(domain.as_bytes())
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(v: &[&str]) -> BTreeSet<IpAddr> {
        v.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn address_entries_are_read_live_and_expired() {
        let text = "#class IP domain\nnfsd 192.0.2.20 192.0.2.20\n# nfsd 192.0.2.21 -no-domain-\nnfsd ::1 @project-a,@project-b\n";
        let e = parse(IP, text).unwrap();
        assert_eq!(e.len(), 3);
        assert!(e[0].live && !e[1].live && e[2].live);
        assert_eq!(
            e[1].key,
            Key::Ip {
                class: "nfsd".into(),
                addr: "192.0.2.21".parse().unwrap()
            }
        );
    }

    #[test]
    fn export_entries_keep_paths_with_escapes_and_no_access_entries() {
        let text = "#path domain(flags)\n/srv/tools/shared/alpha\t192.0.2.20(rw,no_root_squash,sync,wdelay,no_subtree_check,uuid=1:2:3:4,sec=1)\n/srv/a\\040b\\011c\t192.0.2.21\n# /\t192.0.2.22(ro,root_squash)\n";
        let e = parse(EXPORT, text).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[1].key,
            Key::Export {
                domain: "192.0.2.21".into(),
                path: b"/srv/a b\tc".to_vec()
            }
        );
        assert!(!e[2].live);
    }

    #[test]
    fn filehandle_entries_keep_the_fsid_as_printed() {
        let text = "#domain fsidtype fsid [path]\n192.0.2.20 1 0x0000c3b4 /srv/tools/shared/alpha\n# 192.0.2.21 6 0x0102030405060708090a0b0c0d0e0f10\n";
        let e = parse(FH, text).unwrap();
        assert_eq!(
            e[0].key,
            Key::Fh {
                domain: "192.0.2.20".into(),
                fsid_type: 1,
                fsid: "0000c3b4".into()
            }
        );
        assert!(!e[1].live);
    }

    #[test]
    fn unexpected_lines_are_named_not_skipped() {
        let err = parse(FH, "192.0.2.20 1 c3b4\n").unwrap_err().to_string();
        assert!(err.contains("nfsd.fh/content line 1"), "{err}");
        assert!(parse(IP, "nfsd not-an-address x\n").is_err());
        assert!(parse(EXPORT, "/srv/a 192.0.2.20\n").is_err());
    }

    #[test]
    fn only_the_changed_addresses_entries_concern_them() {
        let a = addrs(&["192.0.2.20"]);
        let ip = |s: &str| Key::Ip {
            class: "nfsd".into(),
            addr: s.parse().unwrap(),
        };
        let ex = |d: &str| Key::Export {
            domain: d.into(),
            path: b"/srv/x".to_vec(),
        };
        assert!(concerns(&ip("192.0.2.20"), &a));
        assert!(!concerns(&ip("192.0.2.200"), &a));
        assert!(concerns(&ex("192.0.2.20"), &a));
        assert!(concerns(&ex("$192.0.2.20"), &a));
        assert!(!concerns(&ex("192.0.2.2"), &a));
        assert!(!concerns(&ex("$192.0.2.2"), &a));
        // A named domain is shared by every address that matches the same specifications.
        assert!(!concerns(&ex("@project-alpha"), &a));
    }

    #[test]
    fn expire_lines_are_what_the_channel_parsers_read() {
        let ip = Key::Ip {
            class: "nfsd".into(),
            addr: "192.0.2.20".parse().unwrap(),
        };
        assert_eq!(expire_line(&ip, 99).unwrap(), "nfsd 192.0.2.20 99\n");
        let ex = Key::Export {
            domain: "192.0.2.20".into(),
            path: b"/srv/a b\\c".to_vec(),
        };
        assert_eq!(
            expire_line(&ex, 99).unwrap(),
            "192.0.2.20 /srv/a\\040b\\134c 99\n"
        );
        let fh = Key::Fh {
            domain: "192.0.2.20".into(),
            fsid_type: 1,
            fsid: "0000c3b4".into(),
        };
        let want = if cfg!(target_endian = "little") {
            "192.0.2.20 1 \\xb4c30000 99\n"
        } else {
            "192.0.2.20 1 \\x0000c3b4 99\n"
        };
        assert_eq!(expire_line(&fh, 99).unwrap(), want);
    }

    const REAL_IP: &str = include_str!(
        "../../tests/fixtures/real/6.1.0-56-amd64_drbd-utils-9.22.0/proc-net-rpc-auth.unix.ip.use-ipaddr.nfs1.txt"
    );
    const REAL_EXPORT: &str = include_str!(
        "../../tests/fixtures/real/6.1.0-56-amd64_drbd-utils-9.22.0/proc-net-rpc-nfsd.export.use-ipaddr.nfs1.txt"
    );
    const REAL_FH: &str = include_str!(
        "../../tests/fixtures/real/6.1.0-56-amd64_drbd-utils-9.22.0/proc-net-rpc-nfsd.fh.use-ipaddr.nfs1.txt"
    );

    /// What the real caches held for one NFSv4.2 client of the VM test bed (rpc.mountd with
    /// 202 netgroups, so `use_ipaddr`): every entry is that client's, its domain `$ADDRESS`.
    #[test]
    fn the_real_caches_entries_are_read_and_all_concern_their_client() {
        let a = addrs(&["192.0.2.20"]);
        let other = addrs(&["192.0.2.21"]);
        for (cache, text, n) in [(IP, REAL_IP, 1), (EXPORT, REAL_EXPORT, 5), (FH, REAL_FH, 5)] {
            let e = parse(cache, text).unwrap();
            assert_eq!(e.len(), n, "{cache}");
            assert!(
                e.iter().all(|e| e.live && concerns(&e.key, &a)),
                "{cache}: {e:?}"
            );
            assert!(e.iter().all(|e| !concerns(&e.key, &other)), "{cache}");
        }
        assert_eq!(
            parse(FH, REAL_FH).unwrap()[3].key,
            Key::Fh {
                domain: "$192.0.2.20".into(),
                fsid_type: 1,
                fsid: "0000c3b4".into()
            }
        );
        assert_eq!(
            expire_line(&parse(EXPORT, REAL_EXPORT).unwrap()[1].key, 9).unwrap(),
            "$192.0.2.20 /srv/tools/shared/alpha 9\n"
        );
    }

    #[test]
    fn escapes_round_trip() {
        for s in [
            &b"/srv/plain"[..],
            b"/srv/a b",
            b"/srv/t\tn\nb\\",
            b"/srv/\xc3\xa9",
        ] {
            assert_eq!(crate::tools::unescape_octal_bytes(&qword(s)), s);
        }
    }
}
