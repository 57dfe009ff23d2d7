//! Domain errors.
//!
//! Bad input is reported as [`FieldViolation`]s that name the offending field, so every layer
//! above can tell the caller exactly what to fix.

use std::fmt;

/// The result type of the domain.
pub type Result<T, E = DomainError> = std::result::Result<T, E>;

/// One invalid field: its path (`ticket.severity`, `site.position.latitude`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, dot-separated, as named in the API.
    pub field: String,
    /// What is wrong with it, in plain words.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self { field: field.into(), description: description.into() }
    }

    /// The same violation with `prefix.` in front of the field path.
    pub fn nested(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

impl std::error::Error for FieldViolation {}

/// Everything the domain can refuse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The input is malformed; each violation names a field.
    #[error("invalid input: {}", display_violations(.0))]
    Invalid(Vec<FieldViolation>),
    /// The caller's role may not perform this action at all.
    #[error("{role} may not {action}")]
    Forbidden { role: &'static str, action: &'static str },
    /// The caller is an engineer but the slip is not assigned to them.
    #[error("the slip is not assigned to this engineer")]
    NotAssigned,
    /// The action is not legal in the slip's (or ticket's) current state.
    #[error("cannot {action} a slip that is {from}")]
    InvalidTransition { action: &'static str, from: &'static str },
    /// A precondition of the action is not met (reason is UPPER_SNAKE_CASE).
    #[error("{message}")]
    Precondition { reason: &'static str, message: String },
}

impl DomainError {
    /// The UPPER_SNAKE_CASE reason every side reports for this error: the server's status
    /// details, the results of pushed ops, and the device's own refusals.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "INVALID_ARGUMENT",
            Self::Forbidden { .. } => "ROLE_NOT_ALLOWED",
            Self::NotAssigned => "SLIP_NOT_ASSIGNED",
            Self::InvalidTransition { .. } => "INVALID_TRANSITION",
            Self::Precondition { reason, .. } => reason,
        }
    }

    /// The first field violated, for invalid input.
    pub fn first_field(&self) -> Option<&str> {
        match self {
            Self::Invalid(vs) => vs.first().map(|v| v.field.as_str()),
            _ => None,
        }
    }

    /// A single field violation.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }
}

impl From<FieldViolation> for DomainError {
    fn from(v: FieldViolation) -> Self {
        Self::Invalid(vec![v])
    }
}

/// Most violations a message lists; the rest are counted. Error messages travel in headers.
const LISTED_VIOLATIONS: usize = 10;

fn display_violations(vs: &[FieldViolation]) -> String {
    let mut text = vs.iter().take(LISTED_VIOLATIONS).map(ToString::to_string).collect::<Vec<_>>().join("; ");
    if vs.len() > LISTED_VIOLATIONS {
        text.push_str(&format!("; and {} more", vs.len() - LISTED_VIOLATIONS));
    }
    text
}

/// Collects violations while validating a record, so the caller hears about all of them at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation.
    pub fn push(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Records the error of a result and returns its value, if any.
    pub fn take<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// Requires a non-blank string of at most `max` characters.
    pub fn required_text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.push(field, "is required");
        } else {
            self.optional_text(field, value, max);
        }
    }

    /// Bounds an optional string to `max` characters, without control characters other than
    /// line breaks and tabs (a NUL in a name is never meant).
    pub fn optional_text(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.push(field, format!("must be at most {max} characters"));
        } else if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            self.push(field, "must not contain control characters");
        }
    }

    /// `Ok(value)` when nothing was recorded, the violations otherwise.
    pub fn finish<T>(self, value: T) -> Result<T> {
        if self.0.is_empty() { Ok(value) } else { Err(DomainError::Invalid(self.0)) }
    }

    /// `Ok(())` when nothing was recorded.
    pub fn check(self) -> Result<()> {
        self.finish(())
    }
}
