//! `getent group NAME`: the GID of a project's group (`project-NAME` in LDAP), through NSS,
//! so it sees exactly what the NFS server's file permissions will.

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
}
