//! arping: duplicate-address detection before the service IP is added, and the announcement
//! to the gateway after. Two arpings exist with different flags and exit codes, so we ask the
//! installed one which it is (`arping --help`) and read the reply count from its summary line
//! rather than trusting the exit code alone.
//!
//! - Thomas Habets' arping (Debian `arping`): probe with source 0.0.0.0 (`-0`); exit 0 when
//!   something answered. Summary: `2 packets transmitted, 0 packets received, ...`.
//! - iputils arping (Debian `iputils-arping`): `-D` is DAD mode; exit 0 when nobody answered.
//!   Summary: `Received 0 response(s)`.

use std::net::IpAddr;

use anyhow::{Result, bail};

use crate::process::{Cmd, Output};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Habets,
    Iputils,
}

pub fn help_cmd() -> Cmd {
    Cmd::probe(["arping", "--help"])
}

pub fn flavor(help: &Output) -> Result<Flavor> {
    let text = format!("{}{}", help.stdout, help.stderr);
    if text.contains("Habets") {
        Ok(Flavor::Habets)
    } else if text.to_lowercase().contains("duplicate address detection")
        || text.contains("iputils")
    {
        Ok(Flavor::Iputils)
    } else {
        bail!(
            "cannot tell which arping is installed from `arping --help`: {:?}",
            text.lines().next().unwrap_or("")
        )
    }
}

/// Ask whether any host answers for `addr` on `ifname`, without using the address ourselves.
pub fn probe_cmd(flavor: Flavor, ifname: &str, addr: IpAddr) -> Cmd {
    let a = addr.to_string();
    match flavor {
        Flavor::Habets => Cmd::probe([
            "arping", "-0", "-c", "2", "-W", "0.5", "-w", "2", "-i", ifname, &a,
        ]),
        Flavor::Iputils => Cmd::probe(["arping", "-D", "-c", "2", "-w", "3", "-I", ifname, &a]),
    }
}

/// Refresh the gateway's cache: ARP requests to `to`, sent from the service IP.
pub fn announce_cmd(flavor: Flavor, ifname: &str, from: IpAddr, to: IpAddr) -> Cmd {
    let (f, t) = (from.to_string(), to.to_string());
    match flavor {
        Flavor::Habets => Cmd::change([
            "arping", "-c", "2", "-W", "0.5", "-w", "3", "-i", ifname, "-S", &f, &t,
        ]),
        Flavor::Iputils => {
            Cmd::change(["arping", "-c", "3", "-w", "4", "-I", ifname, "-s", &f, &t])
        }
    }
}

/// Unsolicited ARP from the service IP (sender and target both the IP, broadcast), what an
/// address's new owner sends so that every neighbour's cache moves to it; no reply is expected,
/// so arping exits 1 ("unanswered") when all went well.
pub fn gratuitous_cmd(flavor: Flavor, ifname: &str, addr: IpAddr) -> Cmd {
    let a = addr.to_string();
    match flavor {
        Flavor::Habets => Cmd::change([
            "arping", "-U", "-c", "3", "-W", "0.5", "-w", "3", "-i", ifname, "-S", &a, &a,
        ]),
        Flavor::Iputils => Cmd::change([
            "arping", "-U", "-c", "3", "-w", "4", "-I", ifname, "-s", &a, &a,
        ]),
    }
}

/// Exit codes of a gratuitous ARP that went out (1: nobody answered, as expected).
pub const GRATUITOUS_OK_RCS: &[i32] = &[0, 1];

/// How many packets the run sent, from its summary line; an error when there is none.
pub fn sent(flavor: Flavor, out: &Output) -> Result<u32> {
    summary(flavor, out, "Sent ", |l| {
        l.split_once(" packets transmitted").map(|(n, _)| n)
    })
}

/// How many replies the run got, from its summary line. No summary means arping itself failed
/// (no such interface, no permission), which is never read as "nobody answered".
pub fn replies(flavor: Flavor, out: &Output) -> Result<u32> {
    summary(flavor, out, "Received ", |l| {
        l.split_once(" packets transmitted, ").map(|(_, rest)| rest)
    })
}

/// A count from arping's closing summary: iputils says it after `word` ("Sent 3 probes",
/// "Received 0 response(s)"); ARPing (Habets) puts both in one line, where `habets` finds
/// the number's place ("3 packets transmitted, 0 packets received, …").
fn summary(
    flavor: Flavor,
    out: &Output,
    word: &str,
    habets: fn(&str) -> Option<&str>,
) -> Result<u32> {
    let found = out.stdout.lines().find_map(|l| {
        let at = match flavor {
            Flavor::Habets => habets(l)?,
            Flavor::Iputils => l.trim().strip_prefix(word)?,
        };
        at.split_whitespace().next()?.parse().ok()
    });
    match found {
        Some(n) => Ok(n),
        None => bail!("arping failed ({}): {}", out.ending(), out.complaint()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(rc: i32, stdout: &str, stderr: &str) -> Output {
        Output::fake(rc, stdout, stderr)
    }

    // Printed by ARPing 2.23 (Debian 12 `arping`) between two network namespaces on the test bed.
    const HABETS_TAKEN: &str = "ARPING 192.0.2.18\n42 bytes from a2:ce:88:31:af:cd (192.0.2.18): index=0 time=9.194 usec\n42 bytes from a2:ce:88:31:af:cd (192.0.2.18): index=1 time=6.370 usec\n\n--- 192.0.2.18 statistics ---\n2 packets transmitted, 2 packets received,   0% unanswered (0 extra)\nrtt min/avg/max/std-dev = 0.006/0.008/0.009/0.001 ms\n";
    const HABETS_FREE: &str = "ARPING 192.0.2.19\nTimeout\nTimeout\n\n--- 192.0.2.19 statistics ---\n2 packets transmitted, 0 packets received, 100% unanswered (0 extra)\n\n";
    // iputils arping summary lines, as printed by iputils' arping.c (finish(): "Sent %d probes",
    // "Received %d response(s)").
    const IPUTILS_TAKEN: &str = "ARPING 10.64.37.18 from 0.0.0.0 eth0\nUnicast reply from 10.64.37.18 [52:54:00:12:34:56]  0.774ms\nSent 1 probes (1 broadcast(s))\nReceived 1 response(s)\n";

    // ARPing 2.23 `arping -U … -S 192.0.2.18 192.0.2.18` on a veth with nobody behind it (exit 1).
    const HABETS_GRATUITOUS: &str = "ARPING 192.0.2.18\nTimeout\nTimeout\n\n--- 192.0.2.18 statistics ---\n2 packets transmitted, 0 packets received, 100% unanswered (0 extra)\n\n";

    #[test]
    fn reads_what_a_gratuitous_arp_sent() {
        assert_eq!(
            sent(Flavor::Habets, &out(1, HABETS_GRATUITOUS, "")).unwrap(),
            2
        );
        assert_eq!(
            sent(Flavor::Iputils, &out(0, "ARPING 10.64.37.18 from 10.64.37.18 eth0\nSent 3 probes (3 broadcast(s))\nReceived 0 response(s)\n", "")).unwrap(),
            3
        );
        assert!(
            sent(
                Flavor::Habets,
                &out(1, "", "arping: eth9: No such device\n")
            )
            .is_err()
        );
        let c = gratuitous_cmd(Flavor::Habets, "eth0", "192.0.2.18".parse().unwrap());
        assert_eq!(
            c.to_string(),
            "arping -U -c 3 -W 0.5 -w 3 -i eth0 -S 192.0.2.18 192.0.2.18"
        );
    }

    #[test]
    fn reads_reply_counts() {
        assert_eq!(
            replies(Flavor::Habets, &out(0, HABETS_TAKEN, "")).unwrap(),
            2
        );
        assert_eq!(
            replies(Flavor::Habets, &out(1, HABETS_FREE, "")).unwrap(),
            0
        );
        assert_eq!(
            replies(Flavor::Iputils, &out(1, IPUTILS_TAKEN, "")).unwrap(),
            1
        );
    }

    #[test]
    fn failure_is_not_silence() {
        let e = replies(
            Flavor::Habets,
            &out(1, "", "arping: libnet_init(LIBNET_LINK, nope): libnet_check_iface() ioctl: No such device\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("No such device"), "{e}");
    }

    #[test]
    fn flavors_and_argv() {
        assert_eq!(
            flavor(&out(
                0,
                "ARPing 2.23, by Thomas Habets <thomas@habets.se>\n",
                ""
            ))
            .unwrap(),
            Flavor::Habets
        );
        assert_eq!(
            flavor(&out(
                2,
                "",
                "Usage: arping [-fqbDUAV] ...\n  -D : duplicate address detection mode\n"
            ))
            .unwrap(),
            Flavor::Iputils
        );
        assert!(flavor(&out(0, "something else", "")).is_err());
        let ip: IpAddr = "10.64.37.18".parse().unwrap();
        assert_eq!(
            probe_cmd(Flavor::Habets, "eth0", ip).to_string(),
            "arping -0 -c 2 -W 0.5 -w 2 -i eth0 10.64.37.18"
        );
        assert_eq!(probe_cmd(Flavor::Iputils, "eth0", ip).argv[1], "-D");
    }
}
