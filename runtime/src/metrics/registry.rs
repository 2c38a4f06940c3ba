//! The collectors of an exporter, run in order on one sample.

use super::collectors::{Collector, Cpu, Health, Lifecycle, Memory, Network, Pressure, Processes};
use super::family::Family;
use super::sample::Sample;

/// An ordered set of collectors.
pub struct Registry {
    collectors: Vec<Box<dyn Collector>>,
}

impl Registry {
    /// Every collector ebrun has.
    pub fn standard() -> Self {
        Registry {
            collectors: vec![
                Box::new(Lifecycle),
                Box::new(Cpu),
                Box::new(Memory),
                Box::new(Pressure),
                Box::new(Network),
                Box::new(Processes),
                Box::new(Health),
            ],
        }
    }

    /// Adds a collector after the others.
    pub fn register(&mut self, collector: Box<dyn Collector>) {
        self.collectors.push(collector);
    }

    /// Runs every collector on `sample`, handing over each family as it is built.
    pub fn collect(&self, sample: &Sample, emit: &mut dyn FnMut(Family)) {
        for c in &self.collectors {
            c.collect(sample, emit);
        }
    }
}
