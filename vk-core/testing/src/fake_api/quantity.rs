//! Resource quantities (`100m`, `1.5Gi`, `2e3`) parsed and printed as apimachinery's
//! `resource.Quantity` does: exact values, `MilliValue` rounding up, and the canonical
//! form the API server writes (`1500m`, `64Mi`, `12345n`).
use std::fmt;

/// The suffix family a quantity prints with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Powers of 1000: `m`, `k`, `M`, ...
    DecimalSi,
    /// Powers of 1024: `Ki`, `Mi`, ...
    BinarySi,
    /// `e3`, `e-6`, ...
    DecimalExponent,
}

/// An exact quantity `mantissa * 10^exp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Quantity {
    mantissa: i128,
    exp: i32,
    format: Format,
}

/// Largest decimal exponent kept exactly; beyond it a value is refused (apimachinery's
/// own limit on parsed exponents is far below what an `i128` holds).
const MAX_EXP: i32 = 30;

impl Quantity {
    /// `mantissa * 10^exp`, printed in `format`.
    pub fn new(mantissa: i128, exp: i32, format: Format) -> Self {
        Self {
            mantissa,
            exp,
            format,
        }
    }

    /// Parse `s` as the API server does; `None` for anything it would reject.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (negative, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return None;
        }
        let mut mantissa: i128 = 0;
        for d in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(d - b'0'))?;
        }
        let mut exp = -i32::try_from(fraction.len()).ok()?;
        let (format, mut factor): (Format, i128) = (Format::DecimalSi, 1);
        let format = match suffix {
            "" => format,
            "n" => {
                exp -= 9;
                format
            }
            "u" => {
                exp -= 6;
                format
            }
            "m" => {
                exp -= 3;
                format
            }
            "k" => {
                exp += 3;
                format
            }
            "M" => {
                exp += 6;
                format
            }
            "G" => {
                exp += 9;
                format
            }
            "T" => {
                exp += 12;
                format
            }
            "P" => {
                exp += 15;
                format
            }
            "E" => {
                exp += 18;
                format
            }
            "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
                let power = match suffix {
                    "Ki" => 1,
                    "Mi" => 2,
                    "Gi" => 3,
                    "Ti" => 4,
                    "Pi" => 5,
                    _ => 6,
                };
                factor = 1024_i128.pow(power);
                Format::BinarySi
            }
            e if e.starts_with(['e', 'E']) => {
                let n: i32 = e[1..].parse().ok()?;
                exp = exp.checked_add(n)?;
                Format::DecimalExponent
            }
            _ => return None,
        };
        mantissa = mantissa.checked_mul(factor)?;
        if exp.abs() > MAX_EXP {
            return None;
        }
        Some(Self {
            mantissa: if negative { -mantissa } else { mantissa },
            exp,
            format,
        })
    }

    /// The value scaled by `10^-scale` and rounded up, saturated to `i64`, as
    /// `Quantity.ScaledValue` does (`MilliValue` is scale -3).
    pub fn scaled_value(&self, scale: i32) -> i64 {
        let shift = self.exp - scale;
        let v = if shift >= 0 {
            10_i128
                .checked_pow(shift.unsigned_abs())
                .and_then(|p| self.mantissa.checked_mul(p))
                .unwrap_or(if self.mantissa < 0 {
                    i128::MIN
                } else {
                    i128::MAX
                })
        } else {
            match 10_i128.checked_pow(shift.unsigned_abs()) {
                Some(p) => {
                    let q = self.mantissa / p;
                    if self.mantissa % p > 0 { q + 1 } else { q }
                }
                None => i128::from(self.mantissa > 0),
            }
        };
        i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
    }

    /// `MilliValue`: thousandths, rounded up.
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(-3)
    }

    /// Whether the value is zero.
    fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// The value as an integer, if it is one.
    fn as_integer(&self) -> Option<i128> {
        if self.exp >= 0 {
            10_i128
                .checked_pow(self.exp.unsigned_abs())
                .and_then(|p| self.mantissa.checked_mul(p))
        } else {
            let p = 10_i128.checked_pow(self.exp.unsigned_abs())?;
            (self.mantissa % p == 0).then_some(self.mantissa / p)
        }
    }
}

/// The decimal suffix of exponent `exp` (a multiple of 3), or `e<exp>`.
fn decimal_suffix(exp: i32, format: Format) -> String {
    if format == Format::DecimalExponent {
        return if exp == 0 {
            String::new()
        } else {
            format!("e{exp}")
        };
    }
    match exp {
        -9 => "n".into(),
        -6 => "u".into(),
        -3 => "m".into(),
        0 => String::new(),
        3 => "k".into(),
        6 => "M".into(),
        9 => "G".into(),
        12 => "T".into(),
        15 => "P".into(),
        18 => "E".into(),
        e => format!("e{e}"),
    }
}

impl fmt::Display for Quantity {
    /// The canonical form: trailing zeros folded into the largest suffix that keeps the
    /// number whole (`1500m`, `2`, `12345n`); binary quantities as `Ki`..`Ei` when whole
    /// and at least 1024 in magnitude, decimal otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut format = self.format;
        if format == Format::BinarySi {
            match self.as_integer() {
                Some(v) if v.abs() >= 1024 => {
                    let mut v = v;
                    let mut power = 0;
                    while v % 1024 == 0 && power < 6 {
                        v /= 1024;
                        power += 1;
                    }
                    let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
                    return write!(f, "{v}{suffix}");
                }
                _ => format = Format::DecimalSi,
            }
        }
        let mut m = self.mantissa;
        let mut exp = self.exp;
        while m % 10 == 0 {
            m /= 10;
            exp += 1;
        }
        let (widen, by) = match exp % 3 {
            1 | -2 => (10, 1),
            2 | -1 => (100, 2),
            _ => (1, 0),
        };
        match m.checked_mul(widen) {
            Some(w) => write!(f, "{w}{}", decimal_suffix(exp - by, format)),
            // Too many digits to widen: the plain exponent form still reads back exactly.
            None => write!(f, "{m}e{exp}"),
        }
    }
}

/// A CPU amount in nanocores, as metrics-server writes it (`12345678n`).
pub(crate) fn nano_cores(n: u64) -> Quantity {
    Quantity::new(i128::from(n), -9, Format::DecimalSi)
}

/// A byte count, as metrics-server writes memory (`1234Ki`).
pub(crate) fn bytes(n: u64) -> Quantity {
    Quantity::new(i128::from(n), 0, Format::BinarySi)
}

/// Thousandths in decimal form, as the HPA controller writes values (`250m`).
pub(crate) fn milli(n: i64) -> Quantity {
    Quantity::new(i128::from(n), -3, Format::DecimalSi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).unwrap().to_string()
    }

    #[test]
    fn quantities_should_print_in_the_canonical_form() {
        assert_eq!(canon("0.1"), "100m");
        assert_eq!(canon("1000m"), "1");
        assert_eq!(canon("1500"), "1500");
        assert_eq!(canon("15000"), "15k");
        assert_eq!(canon("100Mi"), "100Mi");
        assert_eq!(canon("1536Ki"), "1536Ki");
        assert_eq!(canon("1.5Gi"), "1536Mi");
        assert_eq!(canon("512"), "512");
        assert_eq!(canon("1e3"), "1e3");
        assert_eq!(canon("0"), "0");
        assert_eq!(nano_cores(12_345).to_string(), "12345n");
        assert_eq!(nano_cores(1_500_000).to_string(), "1500u");
        assert_eq!(nano_cores(250_000_000).to_string(), "250m");
        assert_eq!(bytes(16 * 1024 * 1024).to_string(), "16Mi");
        assert_eq!(bytes(20_000 * 1024).to_string(), "20000Ki");
        assert_eq!(bytes(1000).to_string(), "1k", "below 1024: decimal");
        assert_eq!(bytes(1025).to_string(), "1025");
        assert_eq!(milli(2500).to_string(), "2500m");
        assert_eq!(milli(3000).to_string(), "3");
    }

    #[test]
    fn milli_values_should_round_up_like_apimachinery() {
        assert_eq!(Quantity::parse("100m").unwrap().milli_value(), 100);
        assert_eq!(Quantity::parse("0.5").unwrap().milli_value(), 500);
        assert_eq!(Quantity::parse("1Ki").unwrap().milli_value(), 1_024_000);
        assert_eq!(Quantity::parse("1234567n").unwrap().milli_value(), 2);
        assert_eq!(Quantity::parse("1n").unwrap().milli_value(), 1);
        assert_eq!(Quantity::parse("-1n").unwrap().milli_value(), 0);
        assert_eq!(Quantity::parse("2").unwrap().scaled_value(0), 2);
    }

    #[test]
    fn malformed_quantities_should_be_refused() {
        for bad in ["", "m", "1.2.3", "1x", "Ki", "1e", "--1", "1e999"] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
    }
}
