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
mod schema;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Buf;
use prost::encoding::{self, WireType};
use serde_json::{Map, Number, Value};

use schema::{Field, Kind, Label, SCHEMA};

/// The media type of protobuf bodies.
pub(crate) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The envelope's prefix.
const MAGIC: &[u8] = b"k8s\0";

/// How deep messages may nest; the real decoder has the same kind of bound.
const MAX_DEPTH: usize = 64;

/// Why a protobuf body could not be transcoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Error {
    /// The body does not start with the `k8s\0` magic.
    #[error("the body does not start with the protobuf envelope's magic")]
    Magic,
    /// The bytes are not a well-formed message of the expected type.
    #[error("the protobuf message is malformed: {0}")]
    Malformed(String),
    /// The envelope names a kind the fake has no message for.
    #[error("no protobuf message is registered for kind {kind} in {api_version}")]
    UnknownKind {
        /// `apiVersion` from the envelope or object.
        api_version: String,
        /// `kind` from the envelope or object.
        kind: String,
    },
}

/// Result of this module.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

fn malformed(e: impl std::fmt::Display) -> Error {
    Error::Malformed(e.to_string())
}

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

// === decoding ===

fn decode_message(mut buf: &[u8], msg: &schema::Message, depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(malformed("messages nest too deeply"));
    }
    if let Some(special) = msg.special {
        return decode_special(buf, special, depth);
    }
    let mut out = Map::new();
    while buf.has_remaining() {
        let (number, wire) = encoding::decode_key(&mut buf).map_err(malformed)?;
        let Some(field) = msg.field(number) else {
            encoding::skip_field(wire, number, &mut buf, encoding::DecodeContext::default())
                .map_err(malformed)?;
            continue;
        };
        match field.label {
            Label::Inline => {
                if let Value::Object(inner) = decode_value(&mut buf, wire, &field.kind, depth)? {
                    out.extend(inner);
                }
            }
            Label::Map => {
                let entry = take_len(&mut buf, wire)?;
                let (k, v) = decode_entry(entry, field, depth)?;
                let map = out
                    .entry(field.json.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let (Value::Object(m), Some(v)) = (map, v) {
                    m.insert(k, v);
                }
            }
            Label::Repeated => {
                let values = decode_repeated(&mut buf, wire, &field.kind, depth)?;
                let list = out
                    .entry(field.json.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = list {
                    a.extend(values);
                }
            }
            Label::Optional => match decode_value(&mut buf, wire, &field.kind, depth)? {
                // Go omits empty strings and zero times (`omitempty`, `Time.IsZero`).
                Value::Null => {
                    out.remove(&field.json);
                }
                Value::String(s) if s.is_empty() && field.kind == Kind::String => {
                    out.remove(&field.json);
                }
                v => {
                    out.insert(field.json.clone(), v);
                }
            },
        }
    }
    Ok(Value::Object(out))
}

fn take_len<'a>(buf: &mut &'a [u8], wire: WireType) -> Result<&'a [u8]> {
    if wire != WireType::LengthDelimited {
        return Err(malformed(format!(
            "expected a length-delimited field, got {wire:?}"
        )));
    }
    let len =
        usize::try_from(encoding::decode_varint(buf).map_err(malformed)?).map_err(malformed)?;
    if len > buf.len() {
        return Err(malformed("a length runs past the end of the message"));
    }
    let (head, tail) = buf.split_at(len);
    *buf = tail;
    Ok(head)
}

fn decode_entry(mut entry: &[u8], field: &Field, depth: usize) -> Result<(String, Option<Value>)> {
    let (mut key, mut value) = (String::new(), None);
    while entry.has_remaining() {
        let (number, wire) = encoding::decode_key(&mut entry).map_err(malformed)?;
        match number {
            1 => {
                key = match decode_value(&mut entry, wire, &Kind::String, depth)? {
                    Value::String(s) => s,
                    _ => String::new(),
                }
            }
            2 => value = Some(decode_value(&mut entry, wire, &field.kind, depth + 1)?),
            _ => encoding::skip_field(wire, number, &mut entry, encoding::DecodeContext::default())
                .map_err(malformed)?,
        }
    }
    // A missing value is the type's zero value.
    let value = value.or_else(|| match &field.kind {
        Kind::String | Kind::Bytes => Some(Value::String(String::new())),
        _ => None,
    });
    Ok((key, value))
}

fn decode_repeated(
    buf: &mut &[u8],
    wire: WireType,
    kind: &Kind,
    depth: usize,
) -> Result<Vec<Value>> {
    let numeric = matches!(kind, Kind::Bool | Kind::Int32 | Kind::Int64 | Kind::Double);
    if numeric && wire == WireType::LengthDelimited {
        // Packed: the values one after another.
        let mut packed = take_len(buf, wire)?;
        let item_wire = if *kind == Kind::Double {
            WireType::SixtyFourBit
        } else {
            WireType::Varint
        };
        let mut out = Vec::new();
        while packed.has_remaining() {
            out.push(decode_value(&mut packed, item_wire, kind, depth)?);
        }
        return Ok(out);
    }
    Ok(vec![decode_value(buf, wire, kind, depth)?])
}

fn decode_value(buf: &mut &[u8], wire: WireType, kind: &Kind, depth: usize) -> Result<Value> {
    let varint = |buf: &mut &[u8]| -> Result<u64> {
        if wire != WireType::Varint {
            return Err(malformed(format!("expected a varint, got {wire:?}")));
        }
        encoding::decode_varint(buf).map_err(malformed)
    };
    Ok(match kind {
        Kind::String => {
            let b = take_len(buf, wire)?;
            Value::String(String::from_utf8(b.to_vec()).map_err(malformed)?)
        }
        Kind::Bytes => Value::String(STANDARD.encode(take_len(buf, wire)?)),
        Kind::Bool => Value::Bool(varint(buf)? != 0),
        // Two's complement: an int32 is a sign-extended 64-bit varint.
        Kind::Int32 => Value::from(varint(buf)? as i64 as i32),
        Kind::Int64 => Value::from(varint(buf)? as i64),
        Kind::Double => {
            if wire != WireType::SixtyFourBit || buf.len() < 8 {
                return Err(malformed("expected a 64-bit double"));
            }
            let v = f64::from_bits(buf.get_u64_le());
            Number::from_f64(v).map_or(Value::Null, Value::Number)
        }
        Kind::Message(name) => {
            let inner = take_len(buf, wire)?;
            decode_message(inner, SCHEMA.message(name)?, depth + 1)?
        }
    })
}

/// The JSON of a message whose JSON form is not an object.
fn decode_special(buf: &[u8], special: schema::Special, depth: usize) -> Result<Value> {
    use schema::Special;
    let generic = SCHEMA.message(special.message())?;
    let Value::Object(mut f) = decode_message_plain(buf, generic, depth)? else {
        return Ok(Value::Null);
    };
    let int = |f: &Map<String, Value>, k: &str| f.get(k).and_then(Value::as_i64).unwrap_or(0);
    Ok(match special {
        Special::Time | Special::MicroTime => {
            let (secs, nanos) = (int(&f, "seconds"), int(&f, "nanos"));
            if secs == 0 && nanos == 0 {
                return Ok(Value::Null);
            }
            let Ok(t) = jiff::Timestamp::new(secs, i32::try_from(nanos).unwrap_or(0)) else {
                return Err(malformed("a timestamp is out of range"));
            };
            let fmt = if special == Special::Time {
                "%Y-%m-%dT%H:%M:%SZ"
            } else {
                "%Y-%m-%dT%H:%M:%S%.6fZ"
            };
            Value::String(t.strftime(fmt).to_string())
        }
        Special::IntOrString => {
            if int(&f, "type") == 1 {
                f.remove("strVal")
                    .unwrap_or_else(|| Value::String(String::new()))
            } else {
                Value::from(int(&f, "intVal"))
            }
        }
        Special::Quantity => f
            .remove("string")
            .unwrap_or_else(|| Value::String("0".into())),
        Special::Raw => {
            let raw = f
                .get("raw")
                .and_then(Value::as_str)
                .map(|b| STANDARD.decode(b))
                .transpose()
                .map_err(malformed)?
                .unwrap_or_default();
            if raw.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&raw).map_err(malformed)?
            }
        }
        Special::Duration => Value::String(go_duration(int(&f, "duration"))),
        Special::StringList => f
            .remove("items")
            .unwrap_or_else(|| Value::Array(Vec::new())),
    })
}

/// Decode without the special-casing (the fields of a special message).
fn decode_message_plain(buf: &[u8], msg: &schema::Message, depth: usize) -> Result<Value> {
    let plain = schema::Message {
        special: None,
        ..msg.clone()
    };
    decode_message(buf, &plain, depth)
}

/// A `time.Duration` as Go prints it (`1h2m3s`, `1.5s`, `0s`).
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let (h, m) = (n / 3_600_000_000_000, (n / 60_000_000_000) % 60);
    let (s, frac) = ((n / 1_000_000_000) % 60, n % 1_000_000_000);
    let mut out = sign.to_owned();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if frac == 0 {
        out.push_str(&format!("{s}s"));
    } else {
        let f = format!("{frac:09}");
        out.push_str(&format!("{s}.{}s", f.trim_end_matches('0')));
    }
    out
}

// === encoding ===

fn encode_len(number: u32, bytes: &[u8], out: &mut Vec<u8>) {
    encoding::encode_key(number, WireType::LengthDelimited, out);
    encoding::encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn encode_message(v: &Value, msg: &schema::Message, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(malformed("objects nest too deeply"));
    }
    if let Some(special) = msg.special {
        return encode_special(v, special, out, depth);
    }
    let Some(obj) = v.as_object() else {
        return Ok(());
    };
    for field in &msg.fields {
        if field.label == Label::Inline {
            encode_value(field.number, v, &field.kind, out, depth)?;
            continue;
        }
        let Some(value) = obj.get(&field.json).filter(|v| !v.is_null()) else {
            continue;
        };
        match field.label {
            Label::Optional | Label::Inline => {
                encode_value(field.number, value, &field.kind, out, depth)?;
            }
            Label::Repeated => {
                for item in value.as_array().into_iter().flatten() {
                    encode_value(field.number, item, &field.kind, out, depth)?;
                }
            }
            Label::Map => {
                let Some(m) = value.as_object() else { continue };
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                for k in keys {
                    let mut entry = Vec::new();
                    encode_len(1, k.as_bytes(), &mut entry);
                    if !m[k].is_null() {
                        encode_value(2, &m[k], &field.kind, &mut entry, depth)?;
                    }
                    encode_len(field.number, &entry, out);
                }
            }
        }
    }
    Ok(())
}

// Two's complement on the wire, as Go writes it.
fn encode_value(
    number: u32,
    v: &Value,
    kind: &Kind,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<()> {
    match kind {
        Kind::String => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Ok(()),
            };
            encode_len(number, s.as_bytes(), out);
        }
        Kind::Bytes => {
            let b = v
                .as_str()
                .and_then(|s| STANDARD.decode(s).ok())
                .unwrap_or_default();
            encode_len(number, &b, out);
        }
        Kind::Bool => {
            encoding::encode_key(number, WireType::Varint, out);
            encoding::encode_varint(u64::from(v.as_bool().unwrap_or(false)), out);
        }
        Kind::Int32 | Kind::Int64 => {
            let i = v
                .as_i64()
                .or_else(|| v.as_f64().map(|f| f as i64))
                .unwrap_or(0);
            encoding::encode_key(number, WireType::Varint, out);
            encoding::encode_varint(i as u64, out);
        }
        Kind::Double => {
            encoding::encode_key(number, WireType::SixtyFourBit, out);
            out.extend_from_slice(&v.as_f64().unwrap_or(0.0).to_bits().to_le_bytes());
        }
        Kind::Message(name) => {
            let mut inner = Vec::new();
            encode_message(v, SCHEMA.message(name)?, &mut inner, depth + 1)?;
            encode_len(number, &inner, out);
        }
    }
    Ok(())
}

fn encode_special(
    v: &Value,
    special: schema::Special,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<()> {
    use schema::Special;
    let plain = |fields: Value, out: &mut Vec<u8>| -> Result<()> {
        let generic = SCHEMA.message(special.message())?;
        let msg = schema::Message {
            special: None,
            ..generic.clone()
        };
        encode_message(&fields, &msg, out, depth)
    };
    match special {
        Special::Time | Special::MicroTime => {
            let Some(t) = v.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()) else {
                return Ok(());
            };
            let nanos = if special == Special::Time {
                0
            } else {
                t.subsec_nanosecond()
            };
            plain(
                serde_json::json!({"seconds": t.as_second(), "nanos": nanos}),
                out,
            )
        }
        Special::IntOrString => match v {
            Value::String(s) => plain(serde_json::json!({"type": 1, "strVal": s}), out),
            other => plain(
                serde_json::json!({"type": 0, "intVal": other.as_i64().unwrap_or(0)}),
                out,
            ),
        },
        Special::Quantity => {
            let s = match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => return Ok(()),
            };
            plain(serde_json::json!({"string": s}), out)
        }
        Special::Raw => {
            let raw = serde_json::to_vec(v).map_err(malformed)?;
            plain(serde_json::json!({"raw": STANDARD.encode(raw)}), out)
        }
        Special::Duration => {
            let nanos = v.as_str().and_then(parse_go_duration).unwrap_or(0);
            plain(serde_json::json!({"duration": nanos}), out)
        }
        Special::StringList => plain(serde_json::json!({"items": v}), out),
    }
}

/// Parse a Go duration string (`1h2m3.5s`, `300ms`) into nanoseconds.
fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (num, tail) = rest.split_at(num_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let frac = &frac[..frac.len().min(18)];
        let int: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let frac_ns = if frac.is_empty() {
            0
        } else {
            frac.parse::<i128>().ok()? * scale / 10i128.pow(u32::try_from(frac.len()).ok()?)
        };
        total = total.checked_add(int.checked_mul(scale)?.checked_add(frac_ns)?)?;
        rest = tail;
    }
    let n = i64::try_from(total).ok()?;
    Some(if neg { -n } else { n })
}

/// Entry points for the cargo-fuzz targets.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Decode `data` as a protobuf body; whatever decodes must encode and decode again to
    /// the same JSON.
    ///
    /// # Panics
    /// When the round trip does not hold (the property under test).
    pub fn protobuf_body(data: &[u8]) {
        if let Ok(v) = super::decode(data)
            && let Ok(bytes) = super::encode(&v)
        {
            let again = super::decode(&bytes).expect("what was encoded decodes");
            assert_eq!(again, v, "decode(encode(decode(x))) == decode(x)");
        }
    }
}

#[cfg(test)]
mod tests;
