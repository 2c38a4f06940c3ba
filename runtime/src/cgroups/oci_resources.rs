//! Resource limits as the OCI runtime spec's `linux.resources`, both ways: the Docker front
//! end writes its flags there, and a spec from any caller is applied through [`Resources`].

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder, LinuxThrottleDevice, LinuxThrottleDeviceBuilder,
};

use super::{Resources, ThrottleDevice};

fn throttle(list: &[ThrottleDevice]) -> Vec<LinuxThrottleDevice> {
    list.iter()
        .map(|d| {
            LinuxThrottleDeviceBuilder::default()
                .major(d.major as i64)
                .minor(d.minor as i64)
                .rate(d.rate)
                .build()
                .expect("a throttle builds")
        })
        .collect()
}

fn from_throttle(list: &Option<Vec<LinuxThrottleDevice>>) -> Vec<ThrottleDevice> {
    list.iter()
        .flatten()
        .map(|d| ThrottleDevice {
            path: format!("/dev/block/{}:{}", d.major(), d.minor()).into(),
            major: d.major() as u64,
            minor: d.minor() as u64,
            rate: d.rate(),
        })
        .collect()
}

/// `linux.resources.devices` as devices-cgroup rules: (allow, "c 1:3 rwm").
pub fn device_rules(o: &LinuxResources) -> Vec<(bool, String)> {
    o.devices()
        .iter()
        .flatten()
        .map(|d| {
            let typ = d.typ().map_or("a".to_string(), |t| t.as_str().to_string());
            let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
            let rule = if typ == "a" && d.major().is_none() && d.minor().is_none() {
                "a".to_string()
            } else {
                let access = d.access().clone().unwrap_or_else(|| "rwm".into());
                format!("{typ} {}:{} {access}", num(d.major()), num(d.minor()))
            };
            (d.allow(), rule)
        })
        .collect()
}

/// Whether the rules end up allowing every device (a privileged container).
pub fn allows_all_devices(rules: &[(bool, String)]) -> bool {
    rules
        .iter()
        .rev()
        .find(|(_, r)| r == "a")
        .is_some_and(|(allow, _)| *allow)
}

/// `r` as the spec's `linux.resources` (`--cpus` as quota and period, as Docker writes it).
pub fn to_oci_resources(r: &Resources) -> LinuxResources {
    let mut memory = LinuxMemoryBuilder::default();
    if let Some(v) = r.memory {
        memory = memory.limit(v);
    }
    if let Some(v) = r.effective_memory_swap() {
        memory = memory.swap(v);
    }
    if let Some(v) = r.memory_reservation {
        memory = memory.reservation(v);
    }
    if let Some(v) = r.memory_swappiness {
        memory = memory.swappiness(v);
    }
    if let Some(v) = r.oom_kill_disable {
        memory = memory.disable_oom_killer(v);
    }
    let mut cpu = LinuxCpuBuilder::default();
    if let Some(v) = r.cpu_shares {
        cpu = cpu.shares(v);
    }
    let (quota, period) = r.effective_cpu_bandwidth();
    if let Some(v) = quota {
        cpu = cpu.quota(v);
    }
    if let Some(v) = period {
        cpu = cpu.period(v);
    }
    if let Some(v) = r.cpu_rt_period {
        cpu = cpu.realtime_period(v);
    }
    if let Some(v) = r.cpu_rt_runtime {
        cpu = cpu.realtime_runtime(v);
    }
    if let Some(v) = &r.cpuset_cpus {
        cpu = cpu.cpus(v.clone());
    }
    if let Some(v) = &r.cpuset_mems {
        cpu = cpu.mems(v.clone());
    }
    let mut blkio = LinuxBlockIoBuilder::default()
        .throttle_read_bps_device(throttle(&r.device_read_bps))
        .throttle_write_bps_device(throttle(&r.device_write_bps))
        .throttle_read_iops_device(throttle(&r.device_read_iops))
        .throttle_write_iops_device(throttle(&r.device_write_iops));
    if let Some(v) = r.blkio_weight {
        blkio = blkio.weight(v);
    }
    let mut out = LinuxResourcesBuilder::default()
        .memory(memory.build().expect("memory builds"))
        .cpu(cpu.build().expect("cpu builds"))
        .block_io(blkio.build().expect("blkio builds"));
    if let Some(v) = r.pids_limit.filter(|v| *v > 0) {
        out = out.pids(
            LinuxPidsBuilder::default()
                .limit(v)
                .build()
                .expect("pids builds"),
        );
    }
    out.build().expect("resources build")
}

/// The spec's `linux.resources` as ebrun applies them. Hugepage limits, network class ids
/// and priorities, and RDMA limits are not applied: a warning says so.
pub fn from_oci_resources(o: &LinuxResources) -> Resources {
    let mut r = Resources::default();
    for (set, what) in [
        (
            o.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
            "hugepageLimits",
        ),
        (o.network().is_some(), "network (classID, priorities)"),
        (o.rdma().as_ref().is_some_and(|m| !m.is_empty()), "rdma"),
    ] {
        if set {
            tracing::warn!("linux.resources.{what} is not applied by ebrun");
        }
    }
    if let Some(m) = o.memory() {
        r.memory = m.limit();
        r.memory_swap = m.swap();
        r.memory_reservation = m.reservation();
        r.memory_swappiness = m.swappiness();
        r.oom_kill_disable = m.disable_oom_killer();
    }
    if let Some(c) = o.cpu() {
        r.cpu_shares = c.shares();
        r.cpu_quota = c.quota();
        r.cpu_period = c.period();
        r.cpu_rt_period = c.realtime_period();
        r.cpu_rt_runtime = c.realtime_runtime();
        r.cpuset_cpus = c.cpus().clone().filter(|s| !s.is_empty());
        r.cpuset_mems = c.mems().clone().filter(|s| !s.is_empty());
    }
    if let Some(p) = o.pids() {
        r.pids_limit = Some(p.limit());
    }
    if let Some(b) = o.block_io() {
        r.blkio_weight = b.weight();
        r.device_read_bps = from_throttle(b.throttle_read_bps_device());
        r.device_write_bps = from_throttle(b.throttle_write_bps_device());
        r.device_read_iops = from_throttle(b.throttle_read_iops_device());
        r.device_write_iops = from_throttle(b.throttle_write_iops_device());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_flags_round_trip_through_the_spec() {
        let r = Resources {
            memory: Some(64 << 20),
            memory_reservation: Some(32 << 20),
            cpu_shares: Some(512),
            nano_cpus: Some(1_500_000_000),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some(20),
            ..Default::default()
        };
        let back = from_oci_resources(&to_oci_resources(&r));
        assert_eq!(back.memory, r.memory);
        assert_eq!(back.memory_swap, Some(128 << 20));
        assert_eq!(
            back.effective_cpu_bandwidth(),
            (Some(150_000), Some(100_000))
        );
        assert_eq!(back.cpuset_cpus.as_deref(), Some("0"));
        assert_eq!(back.pids_limit, Some(20));
    }
}
