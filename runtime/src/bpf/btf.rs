//! A small reader of the kernel's BTF (/sys/kernel/btf/vmlinux): just enough to find struct
//! member offsets, enum values and raw tracepoint prototypes, which the programs need because
//! aya's Rust programs have no CO-RE relocations. (aya-obj's parser keeps its type lookups
//! private.)

use std::path::Path;

use super::BpfError;

/// Where the running kernel publishes its BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// One type's header, and where its kind-specific data starts.
#[derive(Debug, Clone, Copy)]
struct Type {
    name_off: u32,
    kind: u32,
    vlen: u32,
    kind_flag: bool,
    /// `size` for structs, unions, ints, enums; `type` for pointers, typedefs, modifiers.
    size_or_type: u32,
    data: usize,
}

/// A parsed BTF blob.
pub struct Btf {
    bytes: Vec<u8>,
    strings: usize,
    /// Index = type id (0 is void).
    types: Vec<Type>,
}

/// A struct member found by [`Btf::member`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Byte offset from the start of the struct.
    pub offset: u32,
    pub type_id: u32,
}

impl Btf {
    /// Reads and parses the running kernel's BTF.
    pub fn vmlinux() -> Result<Btf, BpfError> {
        Btf::from_file(Path::new(VMLINUX_BTF))
    }

    pub fn from_file(path: &Path) -> Result<Btf, BpfError> {
        let bytes = std::fs::read(path).map_err(|source| BpfError::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Btf::parse(bytes).map_err(|why| BpfError::Btf(format!("{}: {why}", path.display())))
    }

    fn parse(bytes: Vec<u8>) -> Result<Btf, &'static str> {
        let u16_at = |o: usize| {
            bytes
                .get(o..o + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
        };
        if u16_at(0) != Some(MAGIC) {
            return Err("not little-endian BTF");
        }
        let u32_at = |o: usize| -> Result<u32, &'static str> {
            bytes
                .get(o..o + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
                .ok_or("truncated")
        };
        let hdr_len = u32_at(4)? as usize;
        let (type_off, type_len) = (u32_at(8)? as usize, u32_at(12)? as usize);
        let str_off = u32_at(16)? as usize;
        let start = hdr_len + type_off;
        let end = start + type_len;
        if end > bytes.len() {
            return Err("type section past the end");
        }
        let mut types = vec![Type {
            name_off: 0,
            kind: 0,
            vlen: 0,
            kind_flag: false,
            size_or_type: 0,
            data: 0,
        }];
        let mut at = start;
        while at < end {
            let info = u32_at(at + 4)?;
            let t = Type {
                name_off: u32_at(at)?,
                kind: (info >> 24) & 0x1f,
                vlen: info & 0xffff,
                kind_flag: info >> 31 == 1,
                size_or_type: u32_at(at + 8)?,
                data: at + 12,
            };
            let extra = match t.kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * t.vlen as usize,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * t.vlen as usize,
                _ => 0,
            };
            at = t.data + extra;
            types.push(t);
        }
        Ok(Btf {
            strings: hdr_len + str_off,
            bytes,
            types,
        })
    }

    fn u32_at(&self, offset: usize) -> u32 {
        u32::from_le_bytes(self.bytes[offset..offset + 4].try_into().unwrap())
    }

    fn name(&self, name_off: u32) -> &[u8] {
        let start = self.strings + name_off as usize;
        let rest = self.bytes.get(start..).unwrap_or_default();
        &rest[..rest.iter().position(|b| *b == 0).unwrap_or(rest.len())]
    }

    /// The id of the type of `kind` named `name`.
    fn find(&self, kind: u32, name: &str) -> Option<u32> {
        self.types
            .iter()
            .position(|t| t.kind == kind && self.name(t.name_off) == name.as_bytes())
            .map(|i| i as u32)
    }

    /// Skips typedefs and const/volatile/restrict/type-tag modifiers.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..32 {
            match self.types.get(id as usize) {
                Some(t)
                    if matches!(
                        t.kind,
                        KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG
                    ) =>
                {
                    id = t.size_or_type
                }
                _ => break,
            }
        }
        id
    }

    /// Size in bytes of type `id` (structs, unions, ints, enums, pointers, arrays).
    pub fn size_of(&self, id: u32) -> Option<u32> {
        let t = self.types.get(self.resolve(id) as usize)?;
        match t.kind {
            KIND_PTR => Some(8),
            KIND_ARRAY => {
                let elem = self.u32_at(t.data);
                let n = self.u32_at(t.data + 8);
                Some(self.size_of(elem)? * n)
            }
            KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 => Some(t.size_or_type),
            _ => None,
        }
    }

    /// The element type of array type `id`.
    pub fn array_elem(&self, id: u32) -> Option<u32> {
        let t = self.types.get(self.resolve(id) as usize)?;
        (t.kind == KIND_ARRAY).then(|| self.u32_at(t.data))
    }

    /// Member `field` of struct `name`, also inside anonymous struct/union members.
    pub fn member(&self, name: &str, field: &str) -> Option<Member> {
        let id = self
            .find(KIND_STRUCT, name)
            .or_else(|| self.find(KIND_UNION, name))?;
        self.member_of(id, field)
    }

    /// Member `field` of struct or union type `id`.
    pub fn member_of(&self, id: u32, field: &str) -> Option<Member> {
        let t = *self.types.get(self.resolve(id) as usize)?;
        if t.kind != KIND_STRUCT && t.kind != KIND_UNION {
            return None;
        }
        for i in 0..t.vlen as usize {
            let at = t.data + 12 * i;
            let (name_off, type_id, raw_offset) =
                (self.u32_at(at), self.u32_at(at + 4), self.u32_at(at + 8));
            let bits = if t.kind_flag {
                raw_offset & 0x00ff_ffff
            } else {
                raw_offset
            };
            let name = self.name(name_off);
            if name == field.as_bytes() {
                return Some(Member {
                    offset: bits / 8,
                    type_id,
                });
            }
            if name.is_empty() {
                if let Some(inner) = self.member_of(type_id, field) {
                    return Some(Member {
                        offset: bits / 8 + inner.offset,
                        type_id: inner.type_id,
                    });
                }
            }
        }
        None
    }

    /// The value of enumerator `name` (of any enum).
    pub fn enum_value(&self, name: &str) -> Option<i64> {
        self.types.iter().find_map(|t| match t.kind {
            KIND_ENUM => (0..t.vlen as usize).find_map(|i| {
                let at = t.data + 8 * i;
                (self.name(self.u32_at(at)) == name.as_bytes())
                    .then(|| i64::from(self.u32_at(at + 4) as i32))
            }),
            KIND_ENUM64 => (0..t.vlen as usize).find_map(|i| {
                let at = t.data + 12 * i;
                (self.name(self.u32_at(at)) == name.as_bytes()).then(|| {
                    (u64::from(self.u32_at(at + 4)) | (u64::from(self.u32_at(at + 8)) << 32)) as i64
                })
            }),
            _ => None,
        })
    }

    /// The arguments of raw tracepoint `tp`, from the kernel's `btf_trace_<tp>` typedef
    /// (without the leading `void *` context); `None` if the kernel has no such tracepoint.
    pub fn raw_tracepoint_args(&self, tp: &str) -> Option<Vec<TpArg>> {
        let typedef = self.find(KIND_TYPEDEF, &format!("btf_trace_{tp}"))?;
        let ptr = self.types.get(self.resolve(typedef) as usize)?;
        if ptr.kind != KIND_PTR {
            return None;
        }
        let proto = self.types.get(self.resolve(ptr.size_or_type) as usize)?;
        if proto.kind != KIND_FUNC_PROTO {
            return None;
        }
        Some(
            (1..proto.vlen as usize)
                .map(|i| self.tp_arg(self.u32_at(proto.data + 8 * i + 4)))
                .collect(),
        )
    }

    fn tp_arg(&self, id: u32) -> TpArg {
        let Some(t) = self.types.get(self.resolve(id) as usize) else {
            return TpArg::Other;
        };
        if t.kind != KIND_PTR {
            return TpArg::Value;
        }
        let pointee = self.types.get(self.resolve(t.size_or_type) as usize);
        match pointee {
            Some(p) if p.kind == KIND_STRUCT => {
                TpArg::StructPtr(String::from_utf8_lossy(self.name(p.name_off)).into_owned())
            }
            _ => TpArg::Other,
        }
    }
}

/// What a raw tracepoint argument is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpArg {
    /// A pointer to the named struct.
    StructPtr(String),
    /// An integer (or enum, bool).
    Value,
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running kernel's BTF, when it has one (every kernel ebrun supports does).
    fn vmlinux() -> Option<Btf> {
        Path::new(VMLINUX_BTF)
            .exists()
            .then(|| Btf::vmlinux().unwrap())
    }

    #[test]
    fn finds_task_struct_members_and_tracepoints() {
        let Some(btf) = vmlinux() else { return };
        let pid = btf.member("task_struct", "pid").unwrap();
        let tgid = btf.member("task_struct", "tgid").unwrap();
        assert_eq!(tgid.offset, pid.offset + 4);
        assert_eq!(btf.size_of(pid.type_id), Some(4));
        let comm = btf.member("task_struct", "comm").unwrap();
        assert_eq!(btf.size_of(comm.type_id), Some(16));
        // mm_struct keeps its fields in an anonymous struct.
        assert!(btf.member("mm_struct", "total_vm").is_some());
        assert_eq!(btf.enum_value("MM_FILEPAGES"), Some(0));
        let switch = btf.raw_tracepoint_args("sched_switch").unwrap();
        assert_eq!(switch[1], TpArg::StructPtr("task_struct".into()));
        assert!(btf.raw_tracepoint_args("no_such_tracepoint").is_none());
    }
}
