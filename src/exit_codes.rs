//! The process exit codes, stable because `make` targets and scripts depend on them: the one
//! table that [`crate::Error::exit_code`] maps into, the binary exits with, and `--help` prints
//! (a test checks that the help text and the README's table agree with it).

/// Why the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    Success = 0,
    /// The archive or the environment is wrong: I/O error, not an image archive, corrupt tar,
    /// digest mismatch, invalid JSON.
    Failure = 1,
    /// Bad flags, an unparsable platform, a `--level` out of range.
    Usage = 2,
    /// A selector matched no platform, or nothing would be left.
    NoMatch = 3,
    /// A selected platform's content is missing from the input.
    Missing = 4,
    /// `verify`: the archive is shallow but otherwise sound.
    Shallow = 5,
    /// `merge`: two inputs give one image name different manifests for one platform.
    Conflict = 6,
}

impl ExitCode {
    /// Every code, in order.
    pub const ALL: [ExitCode; 7] = [
        ExitCode::Success,
        ExitCode::Failure,
        ExitCode::Usage,
        ExitCode::NoMatch,
        ExitCode::Missing,
        ExitCode::Shallow,
        ExitCode::Conflict,
    ];

    /// The number the process exits with.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// A few words for `--help`.
    pub fn summary(self) -> &'static str {
        match self {
            ExitCode::Success => "ok",
            ExitCode::Failure => "bad archive or I/O",
            ExitCode::Usage => "usage",
            ExitCode::NoMatch => "no platform matched",
            ExitCode::Missing => "selected content missing",
            ExitCode::Shallow => "shallow (verify)",
            ExitCode::Conflict => "merge conflict",
        }
    }

    /// The `Exit codes: 0 ok, 1 ...` line of `ocislim --help`.
    pub fn help_line() -> String {
        let items: Vec<String> = Self::ALL
            .iter()
            .map(|c| format!("{} {}", c.code(), c.summary()))
            .collect();
        format!("Exit codes: {}", items.join(", "))
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode;

    #[test]
    fn codes_are_their_positions_and_the_help_line_names_each() {
        for (i, c) in ExitCode::ALL.iter().enumerate() {
            assert_eq!(c.code() as usize, i);
        }
        assert_eq!(
            ExitCode::help_line(),
            "Exit codes: 0 ok, 1 bad archive or I/O, 2 usage, 3 no platform matched, \
             4 selected content missing, 5 shallow (verify), 6 merge conflict"
        );
    }
}
