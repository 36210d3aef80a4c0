//! Sizes printed the way Docker prints them (`units.HumanSizeWithPrecision(size, 3)`: decimal
//! units, three significant digits, Go's `%g` rules), e.g. `3.37MB`, `10.6MB`, `832kB`; and
//! sizes given on the command line (`--max-spool 20G`).

const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// Format `bytes` like `docker image ls`.
pub fn human(bytes: u64) -> String {
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(size, 3), UNITS[i])
}

/// Go's `%.{prec}g`: `prec` significant digits, trailing zeros dropped, exponent form when the
/// exponent is < -4 or >= prec.
fn go_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let decimals = (prec as i32 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}"))
}

/// Parse a size given by the user: bytes, or a number with a binary unit `K`, `M`, `G` or `T`
/// (`KiB`, `GB`... are read the same way: `4G` is 4 GiB).
pub fn parse(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("{s:?}: not a size (e.g. 4096, 512M, 20G)")),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{s:?}: not a size (e.g. 4096, 512M, 20G)"))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::{human, parse};

    #[test]
    fn sizes_on_the_command_line() {
        assert_eq!(parse("4096"), Ok(4096));
        assert_eq!(parse("512M"), Ok(512 << 20));
        assert_eq!(parse("20g"), Ok(20 << 30));
        assert_eq!(parse("2GiB"), Ok(2 << 30));
        assert_eq!(parse("1T"), Ok(1 << 40));
        for bad in ["", "G", "1.5G", "-1", "12Q", "99999999999T"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn like_docker() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(999), "999B");
        assert_eq!(human(1000), "1kB");
        assert_eq!(human(832_000), "832kB");
        assert_eq!(human(3_370_000), "3.37MB");
        assert_eq!(human(3_374_999), "3.37MB");
        assert_eq!(human(10_600_000), "10.6MB");
        assert_eq!(human(7_331_000), "7.33MB");
        assert_eq!(human(1_500_000_000), "1.5GB");
        assert_eq!(human(999_999), "1e+03kB");
        assert_eq!(human(4_096), "4.1kB");
    }
}
