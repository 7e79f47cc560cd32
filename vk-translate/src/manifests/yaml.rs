//! Reading multi-document YAML the way kubectl does.

use serde::de::DeserializeOwned;

use super::error::ManifestError;

/// Every document of `text` (from `origin`, for messages) as a YAML value.
pub(super) fn yaml_values(
    origin: &str,
    text: &str,
) -> Result<Vec<serde_yaml::Value>, ManifestError> {
    let mut values = Vec::new();
    for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        use serde::Deserialize as _;
        match serde_yaml::Value::deserialize(document) {
            Ok(value) => values.push(value),
            Err(source) => {
                return Err(ManifestError::Yaml {
                    origin: origin.to_owned(),
                    document: i + 1,
                    source,
                });
            }
        }
    }
    Ok(values)
}

/// Deserializes a document (errors carry line and column); when that fails only because of
/// YAML 1.1 octal file modes (`defaultMode: 0400`, which kubectl accepts and YAML 1.2 reads
/// as a string), retries with the modes converted.
pub(super) fn typed_object<T: DeserializeOwned>(
    document: serde_yaml::Deserializer<'_>,
    value: &serde_yaml::Value,
) -> Result<T, serde_yaml::Error> {
    match T::deserialize(document) {
        Ok(object) => Ok(object),
        Err(error) => {
            let mut value = value.clone();
            if octal_modes_to_numbers(&mut value) {
                serde_yaml::from_value(value).map_err(|_| error)
            } else {
                Err(error)
            }
        }
    }
}

/// Converts `mode`/`defaultMode` strings like `0400` to numbers; `true` when any changed.
fn octal_modes_to_numbers(value: &mut serde_yaml::Value) -> bool {
    let mut changed = false;
    match value {
        serde_yaml::Value::Mapping(map) => {
            for (key, value) in map.iter_mut() {
                let is_mode = matches!(key.as_str(), Some("mode" | "defaultMode"));
                if is_mode
                    && let Some(text) = value.as_str()
                    && text.len() > 1
                    && text.starts_with('0')
                    && let Ok(mode) = i64::from_str_radix(text, 8)
                {
                    *value = serde_yaml::Value::Number(mode.into());
                    changed = true;
                } else {
                    changed |= octal_modes_to_numbers(value);
                }
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for item in items {
                changed |= octal_modes_to_numbers(item);
            }
        }
        _ => {}
    }
    changed
}
