//! Fuzzing entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`).
use super::spdy::{Frame, HeaderDecoder, HeaderEncoder, HeaderLimits, frame::MAX_PAYLOAD_LEN};

/// Decode frames from `data` until it runs out or fails; every decoded frame must encode
/// and decode back to itself.
pub fn spdy_frames(data: &[u8]) {
    let mut rest = data;
    while let Ok(Some((frame, used))) = Frame::decode(rest, MAX_PAYLOAD_LEN) {
        let bytes = frame.to_bytes().expect("a decoded frame encodes");
        let (again, again_used) = Frame::decode(&bytes, MAX_PAYLOAD_LEN)
            .expect("an encoded frame decodes")
            .expect("an encoded frame is complete");
        assert_eq!(again, frame, "frame round trip");
        assert_eq!(again_used, bytes.len());
        rest = &rest[used..];
    }
}

/// Decode `data` as a sequence of compressed header blocks (the first byte splits it);
/// whatever decodes must re-encode and decode to the same headers.
pub fn spdy_header_block(data: &[u8]) {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let cut = usize::from(split).min(data.len());
    let mut decoder = HeaderDecoder::new(HeaderLimits::default());
    for block in [&data[..cut], &data[cut..]] {
        let Ok(headers) = decoder.decode(block) else {
            return;
        };
        let mut encoder = HeaderEncoder::new();
        let encoded = encoder.encode(&headers).expect("decoded headers encode");
        let mut fresh = HeaderDecoder::new(HeaderLimits::default());
        let lower: Vec<_> = headers
            .0
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        assert_eq!(fresh.decode(&encoded).expect("round trip").0, lower);
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::stream::spdy::Headers;

    #[test]
    fn seeds_should_hold_the_fuzz_properties() {
        let mut encoder = HeaderEncoder::new();
        let mut h = Headers::default();
        h.push("streamtype", "stdout");
        let block = encoder.encode(&h).unwrap();
        let mut frames = BytesMut::new();
        for f in [
            Frame::SynStream {
                stream_id: 1,
                associated_id: 0,
                priority: 0,
                slot: 0,
                flags: 0,
                header_block: block.clone(),
            },
            Frame::Data {
                stream_id: 1,
                flags: 1,
                data: Bytes::from_static(b"x"),
            },
            Frame::Ping { id: 1 },
        ] {
            f.encode(&mut frames).unwrap();
        }
        spdy_frames(&frames);
        spdy_frames(b"\x80\x03\x00\x04\x00\x00\x00\x04\xff\xff\xff\xff");
        let mut input = vec![u8::try_from(block.len()).unwrap()];
        input.extend_from_slice(&block);
        input.extend_from_slice(&encoder.encode(&h).unwrap());
        spdy_header_block(&input);
        spdy_header_block(b"\x03garbage");
    }
}
