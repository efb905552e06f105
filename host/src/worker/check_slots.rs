//! How many connection checks each company has going. A check is an admin waiting on an
//! answer, not queued work: past the company's limit it is refused at once rather than
//! queued, so one company cannot fill the host with checks.

use std::collections::HashMap;
use std::sync::Mutex;

use super::lock;

/// Connection checks one company may have going at once.
pub const CHECKS_PER_COMPANY: usize = 2;

/// Why a connection check was not started.
#[derive(Debug, thiserror::Error)]
#[error(
    "the company already has {CHECKS_PER_COMPANY} connection checks going; try again when one has ended"
)]
pub struct ChecksBusy;

/// Checks going, by company.
#[derive(Debug, Default)]
pub(super) struct CheckSlots {
    going: Mutex<HashMap<String, usize>>,
}

impl CheckSlots {
    /// A slot for one check of `company`, held until the guard is dropped.
    pub(super) fn take(&self, company: &str) -> Result<CheckSlot<'_>, ChecksBusy> {
        let mut going = lock(&self.going);
        let count = going.entry(company.to_owned()).or_default();
        if *count >= CHECKS_PER_COMPANY {
            return Err(ChecksBusy);
        }
        *count += 1;
        Ok(CheckSlot {
            slots: self,
            company: company.to_owned(),
        })
    }
}

/// One check's slot; given back when dropped, however the check ends.
pub(super) struct CheckSlot<'a> {
    slots: &'a CheckSlots,
    company: String,
}

impl Drop for CheckSlot<'_> {
    fn drop(&mut self) {
        let mut going = lock(&self.slots.going);
        if let Some(count) = going.get_mut(&self.company) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                going.remove(&self.company);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_company_gets_its_limit_of_slots_and_each_comes_back_when_dropped() {
        let slots = CheckSlots::default();
        let first = slots.take("acme").expect("one");
        let _second = slots.take("acme").expect("two");
        assert!(slots.take("acme").is_err(), "a third is refused");
        assert!(
            slots.take("globex").is_ok(),
            "another company is not held up"
        );
        drop(first);
        assert!(slots.take("acme").is_ok(), "a slot comes back when dropped");
    }
}
