//! Service IP checks: this node holds it (exact address, prefix and interface), nobody else
//! answers ARP for it, and the announcement after adding it.

use anyhow::Result;

use crate::context::Ctx;
use crate::engine::check::{Check, Guard, Verdict};
use crate::process::Output;
use crate::tools::{arping, ip};

pub enum NetGuard {
    /// No other host answers ARP for the service IP.
    AddressFree,
    /// This node still holds the service IP (exports are applied only on the active node).
    HoldsServiceIp,
}

impl Guard<Ctx> for NetGuard {
    fn check(&self, ctx: &Ctx) -> Result<Verdict> {
        match self {
            NetGuard::AddressFree => address_free(ctx),
            NetGuard::HoldsServiceIp => Ok(match holds_service_ip(ctx)? {
                (true, _) => Ok(()),
                (false, what) => Err(format!(
                    "this node no longer holds {what}: exports are applied on the active node only"
                )),
            }),
        }
    }
}

pub enum NetCheck {
    /// The service IP is (or is not) on its interface.
    Address { present: bool },
    /// The unsolicited ARP for the service IP went out (arping's summary counts its packets).
    Announced(arping::Flavor),
    /// The gateway answered our ARP request from the service IP.
    AnnounceAnswered(arping::Flavor),
    /// Nobody answers ARP for the service IP (the step's command is the arping probe).
    NoArpAnswer(arping::Flavor),
}

impl Check<Ctx> for NetCheck {
    fn check(&self, ctx: &Ctx, out: &Output) -> Result<Verdict> {
        let cfg = &ctx.config;
        Ok(match self {
            NetCheck::Address { present } => {
                let Some(sip) = &cfg.service_ip else {
                    return Ok(Ok(()));
                };
                let addrs = ip::parse(&ctx.runner.probe_ok(&ip::show_cmd())?.stdout)?;
                if addrs.has(&sip.interface, &sip.address) == *present {
                    Ok(())
                } else {
                    Err(format!(
                        "{} is {} {}",
                        sip.address,
                        if *present { "not on" } else { "still on" },
                        sip.interface
                    ))
                }
            }
            NetCheck::AnnounceAnswered(flavor) => match arping::replies(*flavor, out)? {
                0 => Err("the gateway did not answer the ARP request".into()),
                _ => Ok(()),
            },
            NetCheck::Announced(flavor) => match arping::sent(*flavor, out)? {
                0 => Err("arping sent no announcement".into()),
                _ => Ok(()),
            },
            NetCheck::NoArpAnswer(flavor) => match arping::replies(*flavor, out)? {
                0 => Ok(()),
                n => Err(match &cfg.service_ip {
                    Some(sip) => format!(
                        "{n} ARP replies for {}: a host still answers for the service IP",
                        sip.address.addr()
                    ),
                    None => format!("{n} ARP replies"),
                }),
            },
        })
    }
}

/// Whether this node holds the service IP (exact address, prefix and interface), and the
/// address in words. Without a service IP in the config, the node counts as active.
pub fn holds_service_ip(ctx: &Ctx) -> Result<(bool, String)> {
    let Some(sip) = &ctx.config.service_ip else {
        return Ok((true, "no service IP (none configured)".into()));
    };
    let addrs = ip::parse(&ctx.runner.probe_ok(&ip::show_cmd())?.stdout)?;
    Ok((
        addrs.has(&sip.interface, &sip.address),
        format!("the service IP {} on {}", sip.address, sip.interface),
    ))
}

pub fn arping_flavor(ctx: &Ctx) -> Result<arping::Flavor> {
    let out = ctx.runner.run(&arping::help_cmd())?;
    arping::flavor(&out)
}

/// Ask the network whether another host answers for the service IP. Never in dry-run.
pub fn address_free(ctx: &Ctx) -> Result<Verdict> {
    let Some(sip) = &ctx.config.service_ip else {
        return Ok(Ok(()));
    };
    let flavor = arping_flavor(ctx)?;
    let out = ctx.runner.run(&arping::probe_cmd(
        flavor,
        &sip.interface,
        sip.address.addr(),
    ))?;
    let n = arping::replies(flavor, &out)?;
    Ok(if n == 0 {
        Ok(())
    } else {
        Err(format!(
            "another host answers ARP for {} on {} ({n} replies); it must release the address before this node takes it",
            sip.address.addr(),
            sip.interface
        ))
    })
}
