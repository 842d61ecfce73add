//! `ip -j addr` parsing and `ip addr add/del` argv. Address matching is exact
//! (address and prefix on the named interface), never a substring.

use std::net::IpAddr;

use anyhow::{Context, Result};
use ipnet::IpNet;
use serde::Deserialize;

use crate::process::Cmd;

#[derive(Debug, Deserialize)]
struct Link {
    ifname: String,
    #[serde(default)]
    addr_info: Vec<AddrInfo>,
}

#[derive(Debug, Deserialize)]
struct AddrInfo {
    #[serde(default)]
    local: Option<IpAddr>,
    #[serde(default)]
    prefixlen: Option<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IfAddr {
    pub ifname: String,
    pub addr: IpAddr,
    pub prefix: u8,
}

#[derive(Debug, Clone, Default)]
pub struct Addrs {
    pub links: Vec<String>,
    pub addrs: Vec<IfAddr>,
}

impl Addrs {
    /// Where the address is, with whatever prefix, on any interface.
    pub fn find(&self, addr: IpAddr) -> Vec<&IfAddr> {
        self.addrs.iter().filter(|a| a.addr == addr).collect()
    }

    /// Exactly this address and prefix on this interface.
    pub fn has(&self, ifname: &str, net: &IpNet) -> bool {
        self.addrs
            .iter()
            .any(|a| a.ifname == ifname && a.addr == net.addr() && a.prefix == net.prefix_len())
    }

    pub fn has_link(&self, ifname: &str) -> bool {
        self.links.iter().any(|l| l == ifname)
    }
}

pub fn show_cmd() -> Cmd {
    Cmd::probe(["ip", "-j", "addr", "show"])
}

pub fn parse(json: &str) -> Result<Addrs> {
    let links: Vec<Link> = serde_json::from_str(json)
        .context("`ip -j addr show` printed something that is not its JSON")?;
    let mut out = Addrs::default();
    for l in links {
        for a in &l.addr_info {
            if let (Some(addr), Some(prefix)) = (a.local, a.prefixlen) {
                out.addrs.push(IfAddr {
                    ifname: l.ifname.clone(),
                    addr,
                    prefix,
                });
            }
        }
        out.links.push(l.ifname);
    }
    Ok(out)
}

pub fn add_cmd(ifname: &str, net: &IpNet) -> Cmd {
    Cmd::change(["ip", "addr", "add", &net.to_string(), "dev", ifname])
}

pub fn del_cmd(ifname: &str, net: &IpNet) -> Cmd {
    Cmd::change(["ip", "addr", "del", &net.to_string(), "dev", ifname])
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shape from `ip -j addr show` (iproute2 6.1), as printed on this project's test bed.
    const SAMPLE: &str = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"addr_info":[{"family":"inet","local":"10.64.37.1","prefixlen":24,"scope":"global","label":"eth0"},{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]},{"ifindex":3,"ifname":"eth1","addr_info":[]}]"#;

    #[test]
    fn exact_match_not_substring() {
        let a = parse(SAMPLE).unwrap();
        // The old check grepped for "10.64.37.1" and so "found" 10.64.37.18; we must not.
        let service: IpNet = "10.64.37.18/24".parse().unwrap();
        assert!(!a.has("eth0", &service));
        assert!(a.find(service.addr()).is_empty());
        let gw: IpNet = "10.64.37.1/24".parse().unwrap();
        assert!(a.has("eth0", &gw));
        assert!(!a.has("eth1", &gw));
        assert!(!a.has("eth0", &"10.64.37.1/16".parse().unwrap()));
        assert!(a.has_link("eth1"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("Device \"x\" does not exist.").is_err());
    }

    #[test]
    fn argv() {
        let n: IpNet = "10.64.37.18/24".parse().unwrap();
        assert_eq!(
            add_cmd("eth0", &n).argv,
            ["ip", "addr", "add", "10.64.37.18/24", "dev", "eth0"]
        );
        assert_eq!(
            del_cmd("eth0", &n).argv,
            ["ip", "addr", "del", "10.64.37.18/24", "dev", "eth0"]
        );
    }
}
