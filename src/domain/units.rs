//! systemd unit checks: a unit is active, or has settled down.

use anyhow::Result;

use super::facts::probe_units;
use crate::context::Ctx;
use crate::engine::check::{Check, Verdict};
use crate::process::Output;

pub struct UnitCheck {
    pub unit: String,
    pub active: bool,
}

impl Check<Ctx> for UnitCheck {
    fn check(&self, ctx: &Ctx, _out: &Output) -> Result<Verdict> {
        let unit = &self.unit;
        let state = probe_units(ctx, &[unit.as_str()])?
            .remove(unit.as_str())
            .unwrap_or_default();
        let is_active = state == "active";
        let settled_down = !matches!(
            state.as_str(),
            "active" | "activating" | "deactivating" | "reloading" | "refreshing"
        );
        Ok(
            if (self.active && is_active) || (!self.active && settled_down) {
                Ok(())
            } else {
                Err(format!(
                    "{unit} is {state}, expected {}",
                    if self.active { "active" } else { "inactive" }
                ))
            },
        )
    }
}
