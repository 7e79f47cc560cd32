//! Fuzzing entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`).
use tokio_tungstenite::tungstenite::Message;

use super::portforward::{MAX_PORTS, ports_from_query};
use super::spdy::{Frame, HeaderDecoder, HeaderEncoder, HeaderLimits, frame::MAX_PAYLOAD_LEN};
use super::websocket::{decode, encode};

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

/// What a port-forward WebSocket reads from the network. The first byte chooses: a
/// `port=` query (accepted ports are 1 to [`MAX_PORTS`] non-zero ports that parse back the
/// same), or a channel message, binary or base64 text (a decoded message encodes back to
/// itself).
pub fn portforward_websocket(data: &[u8]) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    match choice % 3 {
        0 => {
            let query = String::from_utf8_lossy(rest);
            if let Ok(ports) = ports_from_query(&query) {
                assert!((1..=MAX_PORTS).contains(&ports.len()));
                assert!(ports.iter().all(|p| *p > 0));
                let again: Vec<String> = ports.iter().map(|p| format!("port={p}")).collect();
                assert_eq!(ports_from_query(&again.join("&")), Ok(ports));
            }
        }
        1 => {
            let message = Message::binary(rest.to_vec());
            if let Some((channel, payload)) = decode(false, message.clone()) {
                assert_eq!(encode(false, channel, &payload), message);
            }
        }
        _ => {
            let message = Message::text(String::from_utf8_lossy(rest).into_owned());
            if let Some((channel, payload)) = decode(true, message.clone()) {
                assert_eq!(encode(true, channel, &payload), message);
            }
        }
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

    #[test]
    fn port_forward_seeds_should_hold_the_fuzz_properties() {
        for seed in [
            &b"\x00port=8080&port=9090,53"[..],
            b"\x00port=0",
            b"\x00port=1,,2&port=",
            b"\x01\x00hello",
            b"\x01",
            b"\x02\x30aGk=",
            b"\x020aGk",
            b"\x02\xc3\xa9aGk=",
            b"\x02\x7faGk=",
        ] {
            portforward_websocket(seed);
        }
    }
}
