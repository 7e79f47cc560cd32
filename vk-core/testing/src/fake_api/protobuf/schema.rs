//! The message table read from `schema.txt` (see `schema.py` for how it is made).
use std::collections::HashMap;
use std::sync::LazyLock;

use super::error::{Error, Result};

/// How deep messages may nest; the real decoder has the same kind of bound.
pub(super) const MAX_DEPTH: usize = 64;

/// The table, parsed on first use.
pub(super) static SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::parse(TABLE));

const TABLE: &str = include_str!("schema.txt");

/// Every message of the table, by full name (`api.core.v1.Pod`).
pub(super) struct Schema {
    messages: HashMap<String, Message>,
    /// `(module, lower-case message name)` to full name, to find a kind's message.
    by_kind: HashMap<(String, String), String>,
}

/// One message.
#[derive(Clone, Debug)]
pub(super) struct Message {
    /// Fields in field-number order.
    pub fields: Vec<Field>,
    /// Set when the JSON form of the message is not an object.
    pub special: Option<Special>,
    /// The full name, for [`Special::message`].
    pub name: &'static str,
}

/// One field of a message.
#[derive(Clone, Debug)]
pub(super) struct Field {
    /// Field number.
    pub number: u32,
    /// Name in JSON.
    pub json: String,
    /// Optional, repeated or map (from string keys).
    pub label: Label,
    /// The (value) type.
    pub kind: Kind,
}

/// How many values a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Label {
    /// Zero or one.
    Optional,
    /// A list.
    Repeated,
    /// A map from string keys.
    Map,
    /// An embedded message whose fields Go inlines into the parent's JSON object
    /// (`json:",inline"`, e.g. a Volume's VolumeSource).
    Inline,
}

/// The type of a field's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// UTF-8 text.
    String,
    /// Bytes, base64 in JSON.
    Bytes,
    /// A boolean.
    Bool,
    /// A 32-bit integer.
    Int32,
    /// A 64-bit integer.
    Int64,
    /// A double.
    Double,
    /// A message, by full name.
    Message(String),
}

/// Messages with a JSON form of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Special {
    /// `meta/v1.Time`: RFC 3339, seconds.
    Time,
    /// `meta/v1.MicroTime`: RFC 3339, microseconds.
    MicroTime,
    /// `meta/v1.Duration`: a Go duration string.
    Duration,
    /// `intstr.IntOrString`: an integer or a string.
    IntOrString,
    /// `resource.Quantity`: a string.
    Quantity,
    /// `runtime.RawExtension` and `meta/v1.FieldsV1`: embedded JSON.
    Raw,
    /// A list of strings wrapped in a message (`ExtraValue`).
    StringList,
}

impl Special {
    /// The message whose fields carry this special form.
    pub fn message(self) -> &'static str {
        match self {
            Self::Time => "apimachinery.pkg.apis.meta.v1.Time",
            Self::MicroTime => "apimachinery.pkg.apis.meta.v1.MicroTime",
            Self::Duration => "apimachinery.pkg.apis.meta.v1.Duration",
            Self::IntOrString => "apimachinery.pkg.util.intstr.IntOrString",
            Self::Quantity => "apimachinery.pkg.api.resource.Quantity",
            Self::Raw => "apimachinery.pkg.runtime.RawExtension",
            Self::StringList => "api.authentication.v1.ExtraValue",
        }
    }
}

fn special(name: &str) -> Option<Special> {
    Some(match name {
        "apimachinery.pkg.apis.meta.v1.Time" => Special::Time,
        "apimachinery.pkg.apis.meta.v1.MicroTime" => Special::MicroTime,
        "apimachinery.pkg.apis.meta.v1.Duration" => Special::Duration,
        "apimachinery.pkg.util.intstr.IntOrString" => Special::IntOrString,
        "apimachinery.pkg.api.resource.Quantity" => Special::Quantity,
        "apimachinery.pkg.runtime.RawExtension" | "apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            Special::Raw
        }
        "api.authentication.v1.ExtraValue" | "api.authorization.v1.ExtraValue" => {
            Special::StringList
        }
        _ => return None,
    })
}

/// The module of an `apiVersion` (`apps/v1` -> `api.apps.v1`).
fn module(api_version: &str) -> String {
    match api_version.split_once('/') {
        None => format!("api.core.{api_version}"),
        Some(("meta.k8s.io", v)) => format!("apimachinery.pkg.apis.meta.{v}"),
        Some((group, v)) => format!("api.{}.{v}", group.trim_end_matches(".k8s.io")),
    }
}

const META: &str = "apimachinery.pkg.apis.meta.v1";

impl Schema {
    fn parse(text: &'static str) -> Self {
        let mut messages = HashMap::new();
        let mut by_kind = HashMap::new();
        let mut current: Option<Message> = None;
        let mut finish = |m: Message, messages: &mut HashMap<String, Message>| {
            let (module, short) = m.name.rsplit_once('.').unwrap_or(("", m.name));
            by_kind.insert(
                (module.to_owned(), short.to_ascii_lowercase()),
                m.name.to_owned(),
            );
            messages.insert(m.name.to_owned(), m);
        };
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("M ") {
                if let Some(mut m) = current.take() {
                    m.fields.sort_by_key(|f| f.number);
                    finish(m, &mut messages);
                }
                current = Some(Message {
                    fields: Vec::new(),
                    special: special(name),
                    name,
                });
                continue;
            }
            let mut parts = line.split(' ');
            let (Some(number), Some(json), Some(label), Some(kind), Some(m)) = (
                parts.next().and_then(|n| n.parse().ok()),
                parts.next(),
                parts.next(),
                parts.next(),
                current.as_mut(),
            ) else {
                continue;
            };
            let label = match label {
                "r" => Label::Repeated,
                "m" => Label::Map,
                "i" => Label::Inline,
                _ => Label::Optional,
            };
            let kind = match kind {
                "string" => Kind::String,
                "bytes" => Kind::Bytes,
                "bool" => Kind::Bool,
                "int32" => Kind::Int32,
                "int64" => Kind::Int64,
                "double" => Kind::Double,
                other => Kind::Message(other.to_owned()),
            };
            m.fields.push(Field {
                number,
                json: json.to_owned(),
                label,
                kind,
            });
        }
        if let Some(mut m) = current.take() {
            m.fields.sort_by_key(|f| f.number);
            finish(m, &mut messages);
        }
        Self { messages, by_kind }
    }

    /// The message `name`.
    pub fn message(&self, name: &str) -> Result<&Message> {
        self.messages
            .get(name)
            .ok_or_else(|| Error::Malformed(format!("no message {name} in the table")))
    }

    /// The message of objects of `kind` in `api_version`; the meta kinds (`Status`,
    /// `DeleteOptions`, ...) are found from any group version.
    pub fn for_kind(&self, api_version: &str, kind: &str) -> Result<&Message> {
        let lower = kind.to_ascii_lowercase();
        let name = self
            .by_kind
            .get(&(module(api_version), lower.clone()))
            .or_else(|| self.by_kind.get(&(META.to_owned(), lower)))
            .filter(|_| !kind.is_empty())
            .ok_or_else(|| Error::UnknownKind {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            })?;
        self.message(name)
    }
}

impl Message {
    /// The field numbered `number`.
    pub fn field(&self, number: u32) -> Option<&Field> {
        self.fields
            .binary_search_by_key(&number, |f| f.number)
            .ok()
            .map(|i| &self.fields[i])
    }
}
