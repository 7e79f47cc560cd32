//! Kubernetes protobuf bodies (`application/vnd.kubernetes.protobuf`): the `k8s\0` magic
//! followed by a `runtime.Unknown` whose `typeMeta` names the kind and whose `raw` holds
//! the object's own message, transcoded to and from the JSON objects the rest of the fake
//! works on (JSON stays the source of truth).
//!
//! The messages' field numbers, wire types and JSON names come from `schema.txt`, which
//! `schema.py` generates from the k8s-pb crate (kube-rs's generated Kubernetes protobuf
//! types) and k8s-openapi (JSON names); a test checks the table against k8s-pb itself. The
//! wire primitives are prost's. The JSON shapes of the special messages follow
//! k8s.io/apimachinery: `Time` and `MicroTime` are RFC 3339 strings, `IntOrString` an
//! integer or a string, `Quantity` a string, `RawExtension` and `FieldsV1` embedded JSON.
mod decoder;
mod encoder;
mod error;
mod schema;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use decoder::decode_message;
use encoder::{encode_len, encode_message};
use error::malformed;
pub(crate) use error::{Error, Result};
use schema::SCHEMA;

/// The media type of protobuf bodies.
pub(crate) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The envelope's prefix.
const MAGIC: &[u8] = b"k8s\0";

/// Whether `content_type` is the protobuf media type (parameters ignored).
pub(crate) fn is_protobuf(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(MEDIA_TYPE))
}

/// Whether an `Accept` header's first usable media type is protobuf, as the API server's
/// negotiation picks the first type it can serve.
pub(crate) fn accepts_protobuf_first(accept: &str) -> bool {
    for part in accept.split(',') {
        let ty = part.split(';').next().unwrap_or_default().trim();
        if ty.eq_ignore_ascii_case(MEDIA_TYPE) {
            return !part.contains("stream=watch");
        }
        if ty.eq_ignore_ascii_case("application/json")
            || ty.eq_ignore_ascii_case("application/yaml")
            || ty == "*/*"
            || ty.eq_ignore_ascii_case("application/*")
        {
            return false;
        }
    }
    false
}

/// Decode an enveloped body into the JSON object it carries, `apiVersion` and `kind`
/// included.
pub(crate) fn decode(body: &[u8]) -> Result<Value> {
    let rest = body.strip_prefix(MAGIC).ok_or(Error::Magic)?;
    let unknown = decode_message(rest, SCHEMA.message("apimachinery.pkg.runtime.Unknown")?, 0)?;
    let api_version = str_at(&unknown, &["typeMeta", "apiVersion"]);
    let kind = str_at(&unknown, &["typeMeta", "kind"]);
    let raw = unknown
        .get("raw")
        .and_then(Value::as_str)
        .map(|b| STANDARD.decode(b))
        .transpose()
        .map_err(malformed)?
        .unwrap_or_default();
    let msg = SCHEMA.for_kind(&api_version, &kind)?;
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(api_version));
    out.insert("kind".into(), Value::String(kind));
    if let Value::Object(fields) = decode_message(&raw, msg, 0)? {
        out.extend(fields);
    }
    Ok(Value::Object(out))
}

/// Encode a JSON object (with `apiVersion` and `kind`) as an enveloped body.
pub(crate) fn encode(v: &Value) -> Result<Vec<u8>> {
    let api_version = v
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
    let msg = SCHEMA.for_kind(api_version, kind)?;
    let mut raw = Vec::new();
    encode_message(v, msg, &mut raw, 0)?;
    let mut type_meta = Vec::new();
    encode_len(1, api_version.as_bytes(), &mut type_meta);
    encode_len(2, kind.as_bytes(), &mut type_meta);
    let mut out = MAGIC.to_vec();
    encode_len(1, &type_meta, &mut out);
    encode_len(2, &raw, &mut out);
    // Go always writes the two (empty) content fields.
    encode_len(3, b"", &mut out);
    encode_len(4, b"", &mut out);
    Ok(out)
}

fn str_at(v: &Value, path: &[&str]) -> String {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Decode `data` as a protobuf body; whatever decodes must encode and decode again to
    /// the same JSON.
    ///
    /// # Panics
    /// When the round trip does not hold (the property under test).
    pub fn protobuf_body(data: &[u8]) {
        if let Ok(v) = crate::fake_api::protobuf::decode(data)
            && let Ok(bytes) = crate::fake_api::protobuf::encode(&v)
        {
            let again =
                crate::fake_api::protobuf::decode(&bytes).expect("what was encoded decodes");
            assert_eq!(again, v, "decode(encode(decode(x))) == decode(x)");
        }
    }
}

#[cfg(test)]
mod tests;
