//! Skills: what an engineer can do and what a slip needs, matched whole and case-blind.

use crate::error::Violations;

/// Longest skill.
pub const MAX_LEN: usize = 100;
/// Most skills an engineer has.
pub const MAX_PER_ENGINEER: usize = 50;
/// Most skills a slip or a search needs.
pub const MAX_REQUIRED: usize = 20;

/// A skill as stored and compared: trimmed and lower-case.
pub fn normalize(skill: &str) -> String {
    skill.trim().to_lowercase()
}

/// Whether `skill` can be stored: not blank, at most [`MAX_LEN`] characters, without the `|`
/// that separates stored skills, and without control characters.
pub fn is_valid(skill: &str) -> bool {
    let skill = skill.trim();
    !skill.is_empty() && skill.chars().count() <= MAX_LEN && !skill.chars().any(|c| c == '|' || c.is_control())
}

/// Checks a list of at most `most` skills, naming `field` when it fails.
pub fn check(v: &mut Violations, field: &str, skills: &[String], most: usize) {
    if skills.len() > most || !skills.iter().all(|s| is_valid(s)) {
        v.push(
            field,
            format!(
                "at most {most} non-empty skills of at most {MAX_LEN} characters, without '|' or control characters"
            ),
        );
    }
}

/// The skills of `skills`, normalized.
pub fn normalized(skills: &[String]) -> Vec<String> {
    skills.iter().map(|s| normalize(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skills_are_bounded_and_cannot_break_the_stored_form() {
        assert!(is_valid(" Oracle DBA "));
        assert!(!is_valid("   "));
        assert!(!is_valid("a|b"));
        assert!(!is_valid("tab\there"));
        assert!(!is_valid(&"x".repeat(MAX_LEN + 1)));
        assert_eq!(normalize(" Oracle DBA "), "oracle dba");
        let mut v = Violations::new();
        check(&mut v, "skills", &vec!["x".to_owned(); MAX_REQUIRED + 1], MAX_REQUIRED);
        assert!(v.check().is_err());
    }
}
