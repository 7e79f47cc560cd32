//! Decoding: protobuf wire bytes of a message from the table into its JSON form.
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Buf;
use prost::encoding::{self, WireType};
use serde_json::{Map, Number, Value};

use super::error::{Result, malformed};
use super::schema::{self, Field, Kind, Label, MAX_DEPTH, SCHEMA};

pub(super) fn decode_message(mut buf: &[u8], msg: &schema::Message, depth: usize) -> Result<Value> {
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
pub(super) fn go_duration(nanos: i64) -> String {
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
