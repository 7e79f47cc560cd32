//! Just enough of the Kubernetes protobuf encoding to read the one protobuf body kubectl
//! sends that the fake cares about: the CertificateSigningRequest of `kubectl certificate
//! approve/deny` (a PUT to `.../approval`). Only the name, resourceVersion and status
//! conditions are read; everything else is skipped.
//!
//! The envelope is the magic `k8s\0` followed by a `runtime.Unknown` message whose field 2
//! holds the object's own encoding (field numbers from k8s.io/api `generated.proto`).
use jiff::Timestamp;
use serde_json::{Value, json};

/// The envelope's prefix.
const MAGIC: &[u8] = b"k8s\0";

/// One field of a message: its number and its value.
enum Field<'a> {
    Varint(u32, u64),
    Bytes(u32, &'a [u8]),
}

/// The fields of `buf`, or `None` if it is not a well-formed message.
fn fields(mut buf: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let number = u32::try_from(key >> 3).ok()?;
        match key & 7 {
            0 => out.push(Field::Varint(number, varint(&mut buf)?)),
            1 => buf = buf.get(8..)?,
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                let (value, rest) = (buf.get(..len)?, buf.get(len..)?);
                out.push(Field::Bytes(number, value));
                buf = rest;
            }
            5 => buf = buf.get(4..)?,
            _ => return None,
        }
    }
    Some(out)
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn bytes<'a>(fields: &[Field<'a>], number: u32) -> Option<&'a [u8]> {
    fields.iter().find_map(|f| match f {
        Field::Bytes(n, v) if *n == number => Some(*v),
        _ => None,
    })
}

fn string(fields: &[Field<'_>], number: u32) -> Option<String> {
    bytes(fields, number).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// A `metav1.Time` (seconds, nanos) as RFC 3339.
fn time(msg: &[u8]) -> Option<String> {
    let f = fields(msg)?;
    let seconds = f.iter().find_map(|f| match f {
        Field::Varint(1, v) => Some(i64::try_from(*v).ok()),
        _ => None,
    });
    let seconds = seconds.flatten().unwrap_or(0);
    Timestamp::from_second(seconds).ok().map(|t| t.to_string())
}

/// The CertificateSigningRequest in a protobuf body, as the JSON the rest of the fake
/// understands (name, resourceVersion, status conditions and certificate only).
pub(crate) fn certificate_signing_request(body: &[u8]) -> Option<Value> {
    let unknown = fields(body.strip_prefix(MAGIC)?)?;
    let raw = fields(bytes(&unknown, 2)?)?;
    let meta = fields(bytes(&raw, 1).unwrap_or_default())?;
    let status = fields(bytes(&raw, 3).unwrap_or_default())?;
    let mut conditions = Vec::new();
    for f in &status {
        let Field::Bytes(1, c) = f else { continue };
        let c = fields(c)?;
        let mut cond = json!({
            "type": string(&c, 1).unwrap_or_default(),
            "status": string(&c, 6).unwrap_or_else(|| "True".to_owned()),
        });
        for (number, key) in [(2, "reason"), (3, "message")] {
            if let Some(v) = string(&c, number) {
                cond[key] = json!(v);
            }
        }
        for (number, key) in [(4, "lastUpdateTime"), (5, "lastTransitionTime")] {
            if let Some(t) = bytes(&c, number).and_then(time) {
                cond[key] = json!(t);
            }
        }
        conditions.push(cond);
    }
    let mut metadata = json!({"name": string(&meta, 1).unwrap_or_default()});
    if let Some(rv) = string(&meta, 6).filter(|rv| !rv.is_empty()) {
        metadata["resourceVersion"] = json!(rv);
    }
    Some(json!({
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": metadata,
        "status": {"conditions": conditions},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u32, value: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::try_from(number << 3 | 2).unwrap()];
        out.push(u8::try_from(value.len()).unwrap());
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn an_approval_body_should_decode_to_its_conditions() {
        let meta = [field(1, b"csr-abc"), field(6, b"42")].concat();
        let time = [8u8, 0x80, 0xe8, 0xd5, 0xd0, 0x06].to_vec(); // field 1 (seconds), a varint
        let cond = [
            field(1, b"Approved"),
            field(2, b"KubectlApprove"),
            field(3, b"This CSR was approved by kubectl certificate approve."),
            field(4, &time),
            field(6, b"True"),
        ]
        .concat();
        let csr = [field(1, &meta), field(3, &field(1, &cond))].concat();
        let unknown = [field(2, &csr)].concat();
        let body = [MAGIC, &unknown].concat();
        let v = certificate_signing_request(&body).unwrap();
        assert_eq!(v["metadata"]["name"], "csr-abc");
        assert_eq!(v["metadata"]["resourceVersion"], "42");
        let c = &v["status"]["conditions"][0];
        assert_eq!(c["type"], "Approved");
        assert_eq!(c["status"], "True");
        assert_eq!(c["reason"], "KubectlApprove");
        assert!(c["lastUpdateTime"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn garbage_should_not_decode() {
        assert!(certificate_signing_request(b"{}").is_none());
        assert!(certificate_signing_request(b"k8s\0\xff\xff").is_none());
    }
}
