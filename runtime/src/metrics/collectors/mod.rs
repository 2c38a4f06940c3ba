//! The collectors: each turns a [`Sample`] into a few metric families. Container series
//! carry cAdvisor's labels `id`, `name` and `image`; join anything else through
//! `ebrun_container_info`.

mod cpu;
mod health;
mod lifecycle;
mod memory;
mod network;
mod pressure;
mod processes;

pub use cpu::Cpu;
pub use health::Health;
pub use lifecycle::Lifecycle;
pub use memory::Memory;
pub use network::Network;
pub use pressure::Pressure;
pub use processes::Processes;

use super::family::Family;
use super::sample::Sample;

/// Turns a sample into metric families, handing each to `emit` as soon as it is built.
pub trait Collector: Send + Sync {
    fn collect(&self, sample: &Sample, emit: &mut dyn FnMut(Family));
}

/// A static label value (no copy).
pub(super) fn st(v: &'static str) -> std::borrow::Cow<'static, str> {
    std::borrow::Cow::Borrowed(v)
}

/// Emits `family` unless it has no series (a family without series is left out rather than
/// shown as an empty TYPE line).
pub(super) fn emit_nonempty(emit: &mut dyn FnMut(Family), family: Family) {
    if !family.is_empty() {
        emit(family);
    }
}

pub(super) const NS: f64 = 1e-9;
pub(super) const US: f64 = 1e-6;
