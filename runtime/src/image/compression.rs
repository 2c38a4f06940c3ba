//! Layer (and archive) compression: gzip, zstd or none, told apart by magic bytes (the media
//! type is only a hint, as in Docker's `DecompressStream`).

use std::io::{self, BufRead, Read};

/// How a stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const BZIP2_MAGIC: &[u8] = b"BZh";
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

impl Compression {
    /// What the first bytes of a stream say; bzip2 and xz are recognised but unsupported.
    pub fn detect(head: &[u8]) -> Result<Compression, &'static str> {
        if head.starts_with(GZIP_MAGIC) {
            Ok(Compression::Gzip)
        } else if head.starts_with(ZSTD_MAGIC) {
            Ok(Compression::Zstd)
        } else if head.starts_with(BZIP2_MAGIC) {
            Err("bzip2")
        } else if head.starts_with(XZ_MAGIC) {
            Err("xz")
        } else {
            Ok(Compression::None)
        }
    }

    /// What a layer media type claims (OCI and Docker v2 names).
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        if media_type.ends_with("+gzip") || media_type.ends_with(".tar.gzip") {
            Some(Compression::Gzip)
        } else if media_type.ends_with("+zstd") || media_type.ends_with(".tar.zstd") {
            Some(Compression::Zstd)
        } else if media_type.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Peeks at `reader` and returns its compression.
pub fn sniff<R: BufRead>(reader: &mut R) -> io::Result<Result<Compression, &'static str>> {
    let head = reader.fill_buf()?;
    Ok(Compression::detect(head))
}

/// Wraps `reader` in the decoder for `compression` (concatenated gzip members and zstd frames
/// are all decoded, as Go's readers do).
pub fn decoder<'a, R: BufRead + 'a>(
    compression: Compression,
    reader: R,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_and_decodes() {
        let data = b"some tar bytes".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&data[..], 3).unwrap();
        for (bytes, want) in [
            (&gz[..], Compression::Gzip),
            (&zst[..], Compression::Zstd),
            (&data[..], Compression::None),
        ] {
            let mut r = io::BufReader::new(bytes);
            let c = sniff(&mut r).unwrap().unwrap();
            assert_eq!(c, want);
            let mut out = Vec::new();
            decoder(c, r).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
        assert_eq!(Compression::detect(b"BZh91AY"), Err("bzip2"));
        assert_eq!(
            Compression::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+zstd"),
            Some(Compression::Zstd)
        );
    }
}
