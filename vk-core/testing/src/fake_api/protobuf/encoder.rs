//! Encoding: the JSON form of a message from the table into protobuf wire bytes.
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use prost::encoding::{self, WireType};
use serde_json::Value;

use super::error::{Result, malformed};
use super::schema::{self, Kind, Label, MAX_DEPTH, SCHEMA};

pub(super) fn encode_len(number: u32, bytes: &[u8], out: &mut Vec<u8>) {
    encoding::encode_key(number, WireType::LengthDelimited, out);
    encoding::encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

pub(super) fn encode_message(
    v: &Value,
    msg: &schema::Message,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<()> {
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
pub(super) fn parse_go_duration(s: &str) -> Option<i64> {
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
