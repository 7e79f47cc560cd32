//! SPDY/3 header blocks: name/value pairs, zlib-compressed with the SPDY/3 dictionary.
//!
//! Each direction of a connection has one compression context that spans every header
//! block sent that way, so the decoder must see every block in order (even those of
//! streams it refuses). The decoder caps the decompressed size and the number of pairs.
use std::sync::OnceLock;

use bytes::{BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::stream::{Error, Result};

/// Header names of the SPDY/3 dictionary, each stored with a 4-byte length prefix.
const DICTIONARY_WORDS: &[&str] = &[
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The raw tail of the SPDY/3 dictionary.
const DICTIONARY_TAIL: &str = concat!(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request",
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented",
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,",
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=",
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
);

/// The SPDY/3 zlib dictionary (SPDY/3 draft, section 2.6.10.1): 1423 bytes.
pub fn dictionary() -> &'static [u8] {
    static DICT: OnceLock<Vec<u8>> = OnceLock::new();
    DICT.get_or_init(|| {
        let mut d = Vec::with_capacity(1423);
        for word in DICTIONARY_WORDS {
            // Every word is a few bytes long.
            d.extend_from_slice(&(word.len() as u32).to_be_bytes());
            d.extend_from_slice(word.as_bytes());
        }
        d.extend_from_slice(DICTIONARY_TAIL.as_bytes());
        d
    })
}

/// Caps on a decoded header block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderLimits {
    /// Most bytes a block may decompress to.
    pub max_decompressed: usize,
    /// Most name/value pairs in a block.
    pub max_pairs: usize,
}

impl Default for HeaderLimits {
    fn default() -> Self {
        Self {
            // Go's net/http default MaxHeaderBytes is 1 MiB; remotecommand streams carry a
            // handful of short headers, so 64 KiB is generous.
            max_decompressed: 64 * 1024,
            // remotecommand and port-forward streams carry at most 4 headers.
            max_pairs: 128,
        }
    }
}

/// Header name/value pairs of one block. Names are lower case on the wire; values with
/// several entries are joined by NUL bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The value of `name` (case-insensitive), the first entry when there are several.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.split('\0').next().unwrap_or(v))
    }

    /// Add a pair.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The uncompressed name/value block.
    #[must_use]
    pub fn to_block(&self) -> Bytes {
        let mut out = BytesMut::new();
        put_len(&mut out, self.0.len());
        for (n, v) in &self.0 {
            let n = n.to_ascii_lowercase();
            put_len(&mut out, n.len());
            out.put_slice(n.as_bytes());
            put_len(&mut out, v.len());
            out.put_slice(v.as_bytes());
        }
        out.freeze()
    }

    /// Parse an uncompressed name/value block.
    pub fn from_block(block: &[u8], limits: HeaderLimits) -> Result<Self> {
        let mut rest = block;
        let count = take_len(&mut rest)?;
        if count > limits.max_pairs {
            return Err(Error::TooManyHeaders {
                count,
                max: limits.max_pairs,
            });
        }
        // Each pair takes at least 8 bytes: never reserve more than the block can hold.
        let mut pairs = Vec::with_capacity(count.min(rest.len() / 8));
        for _ in 0..count {
            let name = take_str(&mut rest)?;
            if name.is_empty() {
                return Err(Error::Malformed("empty header name"));
            }
            let value = take_str(&mut rest)?;
            pairs.push((name, value));
        }
        if !rest.is_empty() {
            return Err(Error::Malformed("bytes after the last header"));
        }
        Ok(Self(pairs))
    }
}

fn put_len(out: &mut BytesMut, len: usize) {
    out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
}

fn take_len(rest: &mut &[u8]) -> Result<usize> {
    let Some((len, tail)) = rest.split_first_chunk::<4>() else {
        return Err(Error::Malformed("truncated header block"));
    };
    *rest = tail;
    Ok(u32::from_be_bytes(*len) as usize)
}

fn take_str(rest: &mut &[u8]) -> Result<String> {
    let len = take_len(rest)?;
    if rest.len() < len {
        return Err(Error::Malformed("header length beyond the block"));
    }
    let (s, tail) = rest.split_at(len);
    *rest = tail;
    String::from_utf8(s.to_vec()).map_err(|_| Error::Malformed("header is not utf-8"))
}

// === impl HeaderDecoder ===

/// The receiving compression context of a connection.
pub struct HeaderDecoder {
    zlib: Decompress,
    limits: HeaderLimits,
}

impl std::fmt::Debug for HeaderDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderDecoder").finish_non_exhaustive()
    }
}

impl HeaderDecoder {
    /// A fresh context.
    #[must_use]
    pub fn new(limits: HeaderLimits) -> Self {
        Self {
            zlib: Decompress::new(true),
            limits,
        }
    }

    /// Decompress and parse the next header block of the connection.
    pub fn decode(&mut self, block: &[u8]) -> Result<Headers> {
        let raw = self.decompress(block)?;
        Headers::from_block(&raw, self.limits)
    }

    fn decompress(&mut self, block: &[u8]) -> Result<Vec<u8>> {
        let max = self.limits.max_decompressed;
        let mut out = Vec::with_capacity(block.len().saturating_mul(4).min(max).max(64));
        let mut input = block;
        loop {
            let before_in = self.zlib.total_in();
            if out.len() == out.capacity() {
                if out.len() >= max {
                    return Err(Error::HeaderBlockTooLarge { max });
                }
                out.reserve((out.len().max(256)).min(max - out.len()));
            }
            let res = self
                .zlib
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            let used = (self.zlib.total_in() - before_in) as usize;
            input = &input[used..];
            match res {
                Ok(Status::StreamEnd) => return Err(Error::Malformed("header stream ended")),
                Ok(_) => {
                    if out.len() > max {
                        return Err(Error::HeaderBlockTooLarge { max });
                    }
                    if input.is_empty() && out.len() < out.capacity() {
                        return Ok(out);
                    }
                    if used == 0 && out.len() < out.capacity() {
                        // No progress with room to spare: the block is truncated.
                        return Err(Error::Malformed("truncated compressed header block"));
                    }
                }
                Err(e) if e.needs_dictionary().is_some() => {
                    self.zlib
                        .set_dictionary(dictionary())
                        .map_err(|e| Error::Compression(e.to_string()))?;
                }
                Err(e) => return Err(Error::Compression(e.to_string())),
            }
        }
    }
}

// === impl HeaderEncoder ===

/// The sending compression context of a connection.
pub struct HeaderEncoder {
    zlib: Compress,
}

impl std::fmt::Debug for HeaderEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderEncoder").finish_non_exhaustive()
    }
}

impl Default for HeaderEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderEncoder {
    /// A fresh context primed with the SPDY/3 dictionary.
    #[must_use]
    pub fn new() -> Self {
        let mut zlib = Compress::new(Compression::default(), true);
        zlib.set_dictionary(dictionary())
            .expect("setting a dictionary on a fresh compressor succeeds");
        Self { zlib }
    }

    /// Compress the next header block of the connection (ends with a sync flush).
    pub fn encode(&mut self, headers: &Headers) -> Result<Bytes> {
        let raw = headers.to_block();
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut input = &raw[..];
        loop {
            let before_in = self.zlib.total_in();
            if out.len() == out.capacity() {
                out.reserve(256);
            }
            self.zlib
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| Error::Compression(e.to_string()))?;
            let used = (self.zlib.total_in() - before_in) as usize;
            input = &input[used..];
            // A sync flush is complete when input is consumed and output did not fill up.
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_should_be_the_spdy3_one() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert_eq!(&d[..11], b"\0\0\0\x07options");
        assert!(d.ends_with(b"enq=0."));
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        Headers(
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn blocks_should_round_trip_through_one_context_per_direction() {
        let mut enc = HeaderEncoder::new();
        let mut dec = HeaderDecoder::new(HeaderLimits::default());
        for t in ["error", "stdin", "stdout", "stderr", "resize"] {
            let h = headers(&[("streamtype", t), ("requestid", "0")]);
            let block = enc.encode(&h).unwrap();
            assert_eq!(dec.decode(&block).unwrap(), h);
        }
        let empty = Headers::default();
        assert_eq!(dec.decode(&enc.encode(&empty).unwrap()).unwrap(), empty);
    }

    #[test]
    fn a_block_inflating_past_the_cap_should_fail() {
        let mut enc = HeaderEncoder::new();
        let big = "a".repeat(200_000);
        let block = enc.encode(&headers(&[("x", &big)])).unwrap();
        let mut dec = HeaderDecoder::new(HeaderLimits::default());
        assert!(matches!(
            dec.decode(&block),
            Err(Error::HeaderBlockTooLarge { .. })
        ));
    }

    #[test]
    fn too_many_pairs_should_fail() {
        let many: Vec<(String, String)> =
            (0..200).map(|i| (format!("h{i}"), String::new())).collect();
        let mut enc = HeaderEncoder::new();
        let block = enc.encode(&Headers(many)).unwrap();
        let mut dec = HeaderDecoder::new(HeaderLimits::default());
        assert!(matches!(
            dec.decode(&block),
            Err(Error::TooManyHeaders { count: 200, .. })
        ));
    }

    #[test]
    fn a_pair_count_beyond_the_block_should_fail_without_allocating_it() {
        let raw = [0xff, 0xff, 0xff, 0xff];
        let limits = HeaderLimits {
            max_pairs: usize::MAX,
            ..HeaderLimits::default()
        };
        assert!(Headers::from_block(&raw, limits).is_err());
    }

    #[test]
    fn garbage_should_fail_cleanly() {
        let mut dec = HeaderDecoder::new(HeaderLimits::default());
        assert!(dec.decode(b"not zlib at all").is_err());
    }
}
