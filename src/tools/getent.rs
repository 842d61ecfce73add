//! `getent group NAME`: the GID of a project's group (`project-NAME` in LDAP), through NSS,
//! so it sees exactly what the NFS server's file permissions will. `getent hosts ADDR…`: which
//! addresses have a host name, as rpc.mountd's own reverse lookups would find.

use anyhow::{Result, bail};

use crate::process::{Cmd, Output};

pub fn group_cmd(group: &str) -> Cmd {
    Cmd::probe(["getent", "group", group])
}

/// The GID from `getent group NAME`; `None` when the group does not exist (exit 2).
/// Output format (group(5)): `name:password:GID:member,member`.
pub fn parse_group(group: &str, out: &Output) -> Result<Option<u32>> {
    match out.rc {
        Some(0) => {}
        // getent(1): "2 One or more supplied key could not be found in the database."
        Some(2) => return Ok(None),
        _ => bail!(
            "`getent group {group}` failed ({}): {}",
            out.ending(),
            out.complaint()
        ),
    }
    let line = out.stdout.lines().next().unwrap_or_default();
    let fields: Vec<&str> = line.split(':').collect();
    match fields.as_slice() {
        [name, _, gid, ..] if *name == group => match gid.parse() {
            Ok(g) => Ok(Some(g)),
            Err(_) => bail!("`getent group {group}` printed a GID that is not a number: {line:?}"),
        },
        _ => bail!("`getent group {group}` printed something unexpected: {line:?}"),
    }
}

/// `getent hosts ADDR…`: one line per address that has a name (NSS `hosts:`, as any reverse
/// lookup of this host's processes).
pub fn hosts_cmd(addrs: &[&str]) -> Cmd {
    let mut argv = vec!["getent", "hosts"];
    argv.extend_from_slice(addrs);
    Cmd::probe(argv)
}

/// `getent hosts` without keys: every host the enumerable sources know (/etc/hosts; DNS
/// cannot be listed). One read of the file, where asking per address reads all of it once
/// for every address.
pub fn hosts_all_cmd() -> Cmd {
    Cmd::probe(["getent", "hosts"])
}

/// The addresses `getent hosts` found a name for. Output format (hosts(5)): `ADDRESS NAME
/// [ALIAS…]`; exit 2 when one or more had none.
pub fn parse_hosts(out: &Output) -> Result<std::collections::BTreeSet<String>> {
    match out.rc {
        Some(0 | 2) => {}
        _ => bail!(
            "`getent hosts` failed ({}): {}",
            out.ending(),
            out.complaint()
        ),
    }
    let mut found = std::collections::BTreeSet::new();
    for line in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some(addr), Some(_name)) if addr.parse::<std::net::IpAddr>().is_ok() => {
                found.insert(addr.to_string());
            }
            _ => bail!("`getent hosts` printed something unexpected: {line:?}"),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(rc: i32, stdout: &str) -> Output {
        Output::fake(rc, stdout, "")
    }

    #[test]
    fn parses_gid_and_missing_group() {
        assert_eq!(
            parse_group(
                "project-tools",
                &out(0, "project-tools:*:50380:alice,bob\n")
            )
            .unwrap(),
            Some(50380)
        );
        assert_eq!(parse_group("project-x", &out(2, "")).unwrap(), None);
        assert!(parse_group("project-x", &out(1, "")).is_err());
        assert!(parse_group("project-x", &out(0, "project-x:*:abc:\n")).is_err());
        assert!(parse_group("project-x", &out(0, "other:*:1:\n")).is_err());
    }

    #[test]
    fn parses_the_addresses_that_have_names() {
        let found = parse_hosts(&out(
            2,
            "192.0.2.50      client50.example.org client50\n192.0.2.51 c51\n",
        ))
        .unwrap();
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["192.0.2.50", "192.0.2.51"]
        );
        assert!(parse_hosts(&out(2, "")).unwrap().is_empty());
        assert!(parse_hosts(&out(1, "")).is_err());
        assert!(parse_hosts(&out(0, "nonsense\n")).is_err());
    }
}
