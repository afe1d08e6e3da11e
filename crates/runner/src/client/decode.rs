//! `Content-Encoding` decoding of response bodies, for the checks, extractors and traces that
//! read them.
//!
//! Codings (RFC 9110 §8.4.1, case-insensitive): `gzip` and `x-gzip` (several members are read
//! as one body), `deflate` (zlib-wrapped as RFC 9110 says, or raw deflate, which servers send
//! and browsers accept: told apart by the zlib header), `br` and `zstd` (windows up to 8 MiB,
//! as RFC 9659 allows; a frame asking for more is refused rather than allocated). A list such
//! as `gzip, br` names codings in the order they were applied, so they are undone from the
//! last; `identity` and empty members are skipped. Every coding is checked before any work, so
//! an unknown one fails at once.
//!
//! Decoding streams and is bounded: each decoder is read through `Read::take(limit + 1)`
//! into a buffer that never grows past `limit + 1` bytes, so a decompression bomb costs at
//! most about `limit` bytes of memory and the time to produce them before it is
//! [`DecodeError::TooLarge`]. Decoder state is extra: up to the 8 MiB zstd window or brotli's
//! 16 MiB one.
//!
//! Nothing to do (no coding but `identity`, or an empty body, which is how 204s and HEADs
//! come) is `Ok(None)`, so the caller keeps the bytes it has without a copy.

use std::io::Read;

use bytes::Bytes;

/// zstd's largest window accepted: 8 MiB (RFC 9659).
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// The decoded body (or an intermediate layer of it) exceeds `limit` bytes.
    #[error(
        "the body decodes to more than {limit} bytes, the limit on decoded bodies \
         (a compression bomb, or a body too large to check)"
    )]
    TooLarge { limit: usize },
    /// The bytes are not valid for the coding that names them.
    #[error("the body is not valid `{coding}` data: {message}")]
    Corrupt { coding: String, message: String },
    /// A coding throng does not decode.
    #[error(
        "unknown Content-Encoding `{0}` (throng decodes gzip, x-gzip, deflate, br, zstd \
         and identity)"
    )]
    Unknown(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

/// The coding a list member names: `Some(None)` for `identity`, None when unknown.
fn coding_of(token: &[u8]) -> Option<Option<Coding>> {
    let is = |name: &str| token.eq_ignore_ascii_case(name.as_bytes());
    if is("identity") {
        Some(None)
    } else if is("gzip") || is("x-gzip") {
        Some(Some(Coding::Gzip))
    } else if is("deflate") {
        Some(Some(Coding::Deflate))
    } else if is("br") {
        Some(Some(Coding::Brotli))
    } else if is("zstd") {
        Some(Some(Coding::Zstd))
    } else {
        None
    }
}

/// The members of a `Content-Encoding` value, trimmed, empty ones skipped.
fn members(header: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    header
        .split(|&b| b == b',')
        .map(|m| m.trim_ascii())
        .filter(|m| !m.is_empty())
}

/// Decodes `body` as sent with `Content-Encoding: content_encoding`: None when there is
/// nothing to decode, else the decoded body, at most `limit` bytes.
// Not called yet outside the tests: remove this once the body path uses it.
pub(crate) fn decode(
    content_encoding: &[u8],
    body: &[u8],
    limit: usize,
) -> Result<Option<Bytes>, DecodeError> {
    let mut layers = 0;
    for m in members(content_encoding) {
        match coding_of(m) {
            Some(Some(_)) => layers += 1,
            Some(None) => {}
            None => {
                return Err(DecodeError::Unknown(
                    String::from_utf8_lossy(m).into_owned(),
                ))
            }
        }
    }
    if layers == 0 || body.is_empty() {
        return Ok(None);
    }
    let mut decoded: Option<Vec<u8>> = None;
    let applied = members(content_encoding).filter_map(|m| Some((coding_of(m)??, m)));
    for (n, (coding, name)) in applied.rev().enumerate() {
        let input = decoded.as_deref().unwrap_or(body);
        let out = decode_one(coding, input, limit).map_err(|f| match f {
            Failure::TooLarge => DecodeError::TooLarge { limit },
            Failure::Corrupt { error, at } => {
                let layer = if layers > 1 {
                    format!(
                        " (layer {} of {layers} to undo in `{}`)",
                        n + 1,
                        String::from_utf8_lossy(content_encoding).trim()
                    )
                } else {
                    String::new()
                };
                DecodeError::Corrupt {
                    coding: String::from_utf8_lossy(name).into_owned(),
                    message: format!(
                        "{error}, after {at} decoded bytes of a {}-byte input{layer}",
                        input.len()
                    ),
                }
            }
        })?;
        decoded = Some(out);
    }
    Ok(decoded.map(Bytes::from))
}

enum Failure {
    TooLarge,
    Corrupt { error: std::io::Error, at: usize },
}

/// Whether `b` starts with a zlib header (RFC 1950: deflate, a window of at most 32 KiB,
/// and a check value making the first two bytes a multiple of 31).
fn is_zlib(b: &[u8]) -> bool {
    match b {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8
                && (cmf >> 4) <= 7
                && ((u16::from(*cmf) << 8) | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

fn decode_one(coding: Coding, input: &[u8], limit: usize) -> Result<Vec<u8>, Failure> {
    if input.is_empty() {
        // An inner layer that decoded to nothing.
        return Ok(Vec::new());
    }
    let hint = input.len();
    match coding {
        Coding::Gzip => read_bounded(flate2::bufread::MultiGzDecoder::new(input), hint, limit),
        Coding::Deflate if is_zlib(input) => {
            read_bounded(flate2::bufread::ZlibDecoder::new(input), hint, limit)
        }
        Coding::Deflate => read_bounded(flate2::bufread::DeflateDecoder::new(input), hint, limit),
        Coding::Brotli => read_bounded(
            brotli_decompressor::Decompressor::new(input, 4096),
            hint,
            limit,
        ),
        Coding::Zstd => {
            let corrupt = |error| Failure::Corrupt { error, at: 0 };
            let mut d = zstd::stream::read::Decoder::with_buffer(input).map_err(corrupt)?;
            d.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(corrupt)?;
            read_bounded(d, hint, limit)
        }
    }
}

/// Reads `r` to its end into a buffer that never holds more than `limit + 1` bytes;
/// `TooLarge` when there are more than `limit`. `hint` (the input's size) sets the first
/// allocation.
fn read_bounded(r: impl Read, hint: usize, limit: usize) -> Result<Vec<u8>, Failure> {
    let cap = limit.saturating_add(1);
    let mut r = r.take(u64::try_from(cap).unwrap_or(u64::MAX));
    let mut buf = vec![0u8; hint.saturating_mul(4).max(8192).min(cap)];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if filled >= cap {
                break;
            }
            let grown = filled.saturating_mul(2).min(cap);
            buf.reserve_exact(grown - filled);
            buf.resize(grown, 0);
        }
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(Failure::Corrupt { error, at: filled }),
        }
    }
    if filled > limit {
        return Err(Failure::TooLarge);
    }
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] =
        b"{\"products\":[{\"id\":\"prod-1\",\"name\":\"Deluxe Speaker\"}],\"total\":1}";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn br(data: &[u8]) -> Vec<u8> {
        let mut w = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
        w.write_all(data).unwrap();
        w.into_inner()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        zstd::encode_all(data, 3).unwrap()
    }

    fn decoded(coding: &str, body: &[u8]) -> Vec<u8> {
        decode(coding.as_bytes(), body, 1 << 20)
            .unwrap_or_else(|e| panic!("{coding}: {e}"))
            .unwrap_or_else(|| panic!("{coding}: nothing decoded"))
            .to_vec()
    }

    #[test]
    fn each_coding_decodes() {
        assert_eq!(decoded("gzip", &gzip(TEXT)), TEXT);
        assert_eq!(decoded("x-gzip", &gzip(TEXT)), TEXT);
        assert_eq!(decoded("deflate", &zlib(TEXT)), TEXT);
        assert_eq!(decoded("deflate", &raw_deflate(TEXT)), TEXT);
        assert_eq!(decoded("br", &br(TEXT)), TEXT);
        assert_eq!(decoded("zstd", &zstd(TEXT)), TEXT);
        // Case and spaces do not matter.
        assert_eq!(decoded(" GZip ", &gzip(TEXT)), TEXT);
        assert_eq!(decoded("BR", &br(TEXT)), TEXT);
        assert_eq!(decoded("Deflate", &raw_deflate(TEXT)), TEXT);
    }

    #[test]
    fn multi_member_gzip_and_multi_frame_zstd_are_one_body() {
        let mut two = gzip(b"abc");
        two.extend(gzip(b"def"));
        assert_eq!(decoded("gzip", &two), b"abcdef");
        let mut two = zstd(b"abc");
        two.extend(zstd(b"def"));
        assert_eq!(decoded("zstd", &two), b"abcdef");
    }

    #[test]
    fn lists_are_undone_from_the_last_coding() {
        // `gzip, br`: gzip applied first, then br.
        assert_eq!(decoded("gzip, br", &br(&gzip(TEXT))), TEXT);
        assert_eq!(decoded("br,gzip", &gzip(&br(TEXT))), TEXT);
        assert_eq!(
            decoded("deflate, zstd, gzip", &gzip(&zstd(&zlib(TEXT)))),
            TEXT
        );
        assert_eq!(decoded("identity, gzip, , identity", &gzip(TEXT)), TEXT);
        // The wrong order is corrupt, and says which layer.
        let err = decode(b"gzip, br", &gzip(&br(TEXT)), 1 << 20).unwrap_err();
        match &err {
            DecodeError::Corrupt { coding, message } => {
                assert_eq!(coding, "br");
                assert!(message.contains("layer 1 of 2"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(err
            .to_string()
            .starts_with("the body is not valid `br` data: "));
    }

    #[test]
    fn identity_and_empty_bodies_need_nothing() {
        for header in ["", "identity", "IDENTITY", " identity , ", ","] {
            assert_eq!(decode(header.as_bytes(), TEXT, 10), Ok(None), "{header:?}");
        }
        assert_eq!(decode(b"gzip", b"", 10), Ok(None));
        assert_eq!(decode(b"gzip, br", b"", 10), Ok(None));
    }

    #[test]
    fn unknown_codings_fail_before_any_work() {
        assert_eq!(
            decode(b"compress", TEXT, 1 << 20),
            Err(DecodeError::Unknown("compress".into()))
        );
        // Even after a good one, and with a body that is not valid for the good one.
        assert_eq!(
            decode(b"gzip, x-snappy", b"not gzip", 1 << 20),
            Err(DecodeError::Unknown("x-snappy".into()))
        );
        assert_eq!(
            DecodeError::Unknown("lz4".into()).to_string(),
            "unknown Content-Encoding `lz4` (throng decodes gzip, x-gzip, deflate, br, zstd and identity)"
        );
    }

    #[test]
    fn corrupt_input_names_the_coding() {
        let garbage = b"this is not compressed at all, not even a little bit".as_slice();
        let mut truncated_gzip = gzip(TEXT);
        truncated_gzip.truncate(truncated_gzip.len() - 6);
        let mut bad_crc = gzip(TEXT);
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 0xff;
        let mut truncated_br = br(&[b'x'; 5000].repeat(3));
        truncated_br.truncate(truncated_br.len() / 2);
        let mut truncated_zstd = zstd(TEXT);
        truncated_zstd.truncate(truncated_zstd.len() - 4);
        for (coding, body) in [
            ("gzip", garbage),
            ("gzip", &truncated_gzip[..]),
            ("gzip", &bad_crc[..]),
            ("deflate", b"\xff\xff\xff\xff garbage"),
            ("br", garbage),
            ("br", &truncated_br[..]),
            ("zstd", garbage),
            ("zstd", &truncated_zstd[..]),
        ] {
            match decode(coding.as_bytes(), body, 1 << 20) {
                Err(DecodeError::Corrupt { coding: c, message }) => {
                    assert_eq!(c, coding);
                    assert!(message.contains("decoded bytes of a"), "{message}");
                }
                other => panic!("{coding} {body:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_limit_is_exact() {
        let body = gzip(&[7u8; 1000]);
        assert_eq!(decode(b"gzip", &body, 1000).unwrap().unwrap().len(), 1000);
        assert_eq!(
            decode(b"gzip", &body, 999),
            Err(DecodeError::TooLarge { limit: 999 })
        );
        // An intermediate layer over the limit is too large as well: stored (uncompressed)
        // deflate blocks inside gzip.
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::none());
        e.write_all(&[0u8; 5000]).unwrap();
        let layered = gzip(&e.finish().unwrap());
        assert_eq!(
            decode(b"deflate, gzip", &layered, 4999),
            Err(DecodeError::TooLarge { limit: 4999 })
        );
    }

    #[test]
    fn the_buffer_never_grows_past_the_limit() {
        let limit = 100_000;
        let out = read_bounded(std::io::repeat(1).take(limit as u64), 10, limit)
            .ok()
            .unwrap();
        assert_eq!(out.len(), limit);
        assert!(out.capacity() <= limit + 1, "{}", out.capacity());
        // An endless stream stops after limit + 1 bytes.
        assert!(matches!(
            read_bounded(std::io::repeat(0), 10, limit),
            Err(Failure::TooLarge)
        ));
    }

    #[test]
    fn a_decompression_bomb_fails_fast() {
        // 100 MiB of zeros: 100 gzip members of 1 MiB each (compressing 100 MiB at once would
        // make the test slow, and a multi-member body decodes as one).
        let member = gzip(&vec![0u8; 1 << 20]);
        let gzip_bomb = member.repeat(100);
        let frame = zstd(&vec![0u8; 1 << 20]);
        let zstd_bomb = frame.repeat(100);
        let br_bomb = br(&vec![0u8; 100 << 20]);
        for (coding, bomb) in [("gzip", &gzip_bomb), ("zstd", &zstd_bomb), ("br", &br_bomb)] {
            assert!(bomb.len() < 200_000, "{coding}: {}", bomb.len());
            let started = std::time::Instant::now();
            assert_eq!(
                decode(coding.as_bytes(), bomb, 1 << 20),
                Err(DecodeError::TooLarge { limit: 1 << 20 }),
                "{coding}"
            );
            // Generous for an unoptimised build on a busy machine; decoding all 100 MiB
            // takes far longer there.
            assert!(
                started.elapsed().as_secs() < 5,
                "{coding}: {:?}",
                started.elapsed()
            );
        }
    }

    #[test]
    fn zstd_windows_over_8_mib_are_refused() {
        let data = vec![3u8; 1 << 10];
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        e.window_log(27).unwrap();
        e.include_contentsize(false).unwrap();
        e.write_all(&data).unwrap();
        let big_window = e.finish().unwrap();
        assert!(matches!(
            decode(b"zstd", &big_window, 1 << 20),
            Err(DecodeError::Corrupt { .. })
        ));
    }
}
