//! Reading whole BPF maps with `BPF_MAP_LOOKUP_BATCH`: a few system calls per map instead of
//! two per entry (aya 0.14 iterates key by key). A kernel or map type without batch lookup
//! gives `None`, and the caller iterates instead.

use std::os::fd::{AsFd, AsRawFd};

use aya::maps::MapData;

/// `BPF_MAP_LOOKUP_BATCH` from linux/bpf.h.
const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
/// Entries asked for per call.
const BATCH: u32 = 512;

/// The `batch` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// All entries as raw bytes: `(keys, values, entries)`, `value_len` bytes per value.
fn lookup_all(
    map: &MapData,
    key_len: usize,
    value_len: usize,
) -> Option<(Vec<u8>, Vec<u8>, usize)> {
    let fd = map.fd().as_fd().as_raw_fd();
    let mut keys = Vec::new();
    let mut values = Vec::new();
    let mut n = 0usize;
    // The kernel's position token (a bucket number for hash maps, an index for arrays).
    let mut token = [0u64; 2];
    let mut first = true;
    let mut batch = BATCH;
    loop {
        keys.resize((n + batch as usize) * key_len, 0);
        values.resize((n + batch as usize) * value_len, 0);
        let mut next = [0u64; 2];
        let mut attr = BatchAttr {
            in_batch: if first { 0 } else { token.as_ptr() as u64 },
            out_batch: next.as_mut_ptr() as u64,
            keys: keys[n * key_len..].as_mut_ptr() as u64,
            values: values[n * value_len..].as_mut_ptr() as u64,
            count: batch,
            map_fd: fd as u32,
            ..BatchAttr::default()
        };
        // SAFETY: BPF_MAP_LOOKUP_BATCH writes at most `count` keys and values into the
        // buffers sized for that many, and a position token into `next` (16 bytes, more than
        // the kernel's 4- or 8-byte token); `attr` lives across the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_MAP_LOOKUP_BATCH,
                &mut attr as *mut BatchAttr,
                std::mem::size_of::<BatchAttr>() as u32,
            )
        };
        let errno = if rc < 0 {
            std::io::Error::last_os_error().raw_os_error()
        } else {
            None
        };
        match errno {
            None => {
                n += attr.count as usize;
                token = next;
                first = false;
            }
            Some(libc::ENOENT) => {
                n += attr.count as usize;
                break;
            }
            // One bucket holds more entries than asked for: ask for more.
            Some(libc::ENOSPC) if batch < 1 << 16 => batch *= 2,
            _ => return None,
        }
    }
    keys.truncate(n * key_len);
    values.truncate(n * value_len);
    Some((keys, values, n))
}

fn read<T: aya::Pod>(bytes: &[u8]) -> T {
    assert!(bytes.len() >= std::mem::size_of::<T>());
    // SAFETY: `bytes` holds at least size_of::<T>() bytes and T is plain old data (any bit
    // pattern is valid); read_unaligned copes with the buffer's alignment.
    unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) }
}

/// Every entry of a (non per-CPU) map.
pub(super) fn entries<K: aya::Pod, V: aya::Pod>(map: &MapData) -> Option<Vec<(K, V)>> {
    let (k, v) = (std::mem::size_of::<K>(), std::mem::size_of::<V>());
    let (keys, values, n) = lookup_all(map, k, v)?;
    Some(
        (0..n)
            .map(|i| (read(&keys[i * k..]), read(&values[i * v..])))
            .collect(),
    )
}

/// Every entry of a per-CPU map, with the values of all possible CPUs.
pub(super) fn per_cpu_entries<K: aya::Pod, V: aya::Pod>(
    map: &MapData,
    cpus: usize,
) -> Option<Vec<(K, Vec<V>)>> {
    let k = std::mem::size_of::<K>();
    // Each CPU's value is padded to 8 bytes.
    let stride = std::mem::size_of::<V>().div_ceil(8) * 8;
    let (keys, values, n) = lookup_all(map, k, stride * cpus)?;
    Some(
        (0..n)
            .map(|i| {
                let base = i * stride * cpus;
                let per_cpu = (0..cpus)
                    .map(|c| read(&values[base + c * stride..]))
                    .collect();
                (read(&keys[i * k..]), per_cpu)
            })
            .collect(),
    )
}
